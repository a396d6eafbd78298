package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// The store idp.New and idp.OpenAdmin get.
var _ idp.Store = (*sqlstore.Store)(nil)

// storageConfig is a storage flavour's own configuration
// (sqlstore.SQLiteConfig, sqlstore.PostgresConfig).
type storageConfig interface {
	Validate() error
	Open(ctx context.Context) (*sqlstore.Store, error)
}

// defaultStorage is storage.type when nothing sets it.
const defaultStorage = "sqlite"

// storages is the storage.type registry: each type's configuration with its
// defaults (dex: cmd/dex/config.go, storages).
func storages() map[string]func() storageConfig {
	return map[string]func() storageConfig{
		"sqlite":   func() storageConfig { c := sqlstore.DefaultSQLiteConfig(); return &c },
		"postgres": func() storageConfig { c := sqlstore.DefaultPostgresConfig(); return &c },
	}
}

// connectorConfig is a connector's own configuration (simulator.Config,
// cardplatform.Config).
type connectorConfig interface {
	Validate() error
}

// openOptions are what a connector gets from the node that opens it.
type openOptions struct {
	logger  *slog.Logger
	metrics prometheus.Registerer
	now     func() time.Time
	// issuer is the node's issuer URL: the simulator's e-card app API is
	// served below it (idp.AppAPIPath) unless app_base_url says otherwise.
	issuer string
}

// connectorType is one implementation of the identity checks: its
// configuration with its defaults, and how to open it.
type connectorType struct {
	config func() connectorConfig
	open   func(c connectorConfig, o openOptions) (connectors.RealNameChecker, error)
}

// defaultConnector is connector.type when nothing sets it.
const defaultConnector = "simulator"

// connectorTypes is the connector.type registry (dex: ConnectorsConfig).
// Each type's configuration is the section connector.<type>.
func connectorTypes() map[string]connectorType {
	return map[string]connectorType{
		"simulator": {
			config: func() connectorConfig { return &simulator.Config{} },
			open: func(c connectorConfig, o openOptions) (connectors.RealNameChecker, error) {
				cfg := *c.(*simulator.Config)
				if cfg.AppBaseURL == "" && o.issuer != "" {
					cfg.AppBaseURL = strings.TrimSuffix(o.issuer, "/") + idp.AppAPIPath
				}
				return cfg.Open()
			},
		},
		"cardplatform": {
			config: func() connectorConfig { return &cardplatform.Config{} },
			open: func(c connectorConfig, o openOptions) (connectors.RealNameChecker, error) {
				cfg := *c.(*cardplatform.Config)
				cfg.Logger, cfg.Registerer, cfg.Now = o.logger, o.metrics, o.now
				return cfg.Open()
			},
		},
	}
}

// names lists a registry's keys in order.
func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// storageSection is the storage section: type, and beside it the keys of
// that flavour's configuration.
type storageSection struct {
	Type string
	// Flavour is storages()[Type] with the section's keys decoded over it;
	// nil when Type is not registered (Validate says so).
	Flavour storageConfig
	// node is the file's section, decoded again when the environment or a
	// flag chooses another flavour.
	node *yaml.Node
}

func newStorageSection(typ string) storageSection {
	var s storageSection
	_ = s.choose(typ)
	return s
}

// choose makes typ the flavour: its defaults, then the file's keys.
func (s *storageSection) choose(typ string) error {
	s.Type, s.Flavour = typ, nil
	newConfig, ok := storages()[typ]
	if !ok {
		return nil
	}
	s.Flavour = newConfig()
	if s.node != nil {
		return s.node.Decode(s.Flavour)
	}
	return nil
}

// UnmarshalYAML decodes the section over s (checkNode has checked its keys).
func (s *storageSection) UnmarshalYAML(n *yaml.Node) error {
	var t struct {
		Type *string `yaml:"type"`
	}
	if err := n.Decode(&t); err != nil {
		return err
	}
	typ := s.Type
	if t.Type != nil {
		typ = *t.Type
	}
	s.node = n
	return s.choose(typ)
}

// connectorSection is the connector section: type, and one section per
// registered connector, named by its type (only type's is validated and
// opened, but every one is decoded and checked for unknown keys).
type connectorSection struct {
	Type    string
	Configs map[string]connectorConfig
}

func newConnectorSection(typ string) connectorSection {
	s := connectorSection{Type: typ, Configs: map[string]connectorConfig{}}
	for name, ct := range connectorTypes() {
		s.Configs[name] = ct.config()
	}
	return s
}

// UnmarshalYAML decodes the section over s (checkNode has checked its keys).
func (s *connectorSection) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("want a mapping of keys")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if k == "type" {
			if v.Tag != "!!null" {
				s.Type = v.Value
			}
			continue
		}
		if cfg, ok := s.Configs[k]; ok {
			if err := v.Decode(cfg); err != nil {
				return err
			}
		}
	}
	return nil
}

// openStore opens (and migrates) the configured store: storage.dsn of
// sqlite defaults to data_dir/cardsso.db. Call it on a validated config.
func (c *fileConfig) openStore(ctx context.Context) (*sqlstore.Store, error) {
	st, err := c.storeConfig().Open(ctx)
	if err != nil {
		var ke keyedError
		if errors.As(err, &ke) {
			return nil, c.componentError("storage", err)
		}
		return nil, fmt.Errorf("open storage: %w", err)
	}
	return st, nil
}

// storeConfig is the chosen flavour's configuration with storage.dsn of
// sqlite defaulting to data_dir/cardsso.db.
func (c *fileConfig) storeConfig() storageConfig {
	if s, ok := c.Storage.Flavour.(*sqlstore.SQLiteConfig); ok && s.DSN == "" {
		withFile := *s
		withFile.DSN = filepath.Join(c.DataDir, "cardsso.db")
		return &withFile
	}
	return c.Storage.Flavour
}

// openChecks opens the configured connector; its metrics go to reg and its
// logs to logger. Call it on a validated config.
func (c *fileConfig) openChecks(logger *slog.Logger, reg prometheus.Registerer) (connectors.RealNameChecker, error) {
	ct := connectorTypes()[c.Connector.Type]
	checks, err := ct.open(c.Connector.Configs[c.Connector.Type], openOptions{logger: logger, metrics: reg, now: time.Now, issuer: c.Issuer})
	if err != nil {
		return nil, c.componentError("connector."+c.Connector.Type, err)
	}
	return checks, nil
}
