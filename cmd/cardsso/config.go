package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/policies/assurance"
)

// fileConfig is the configuration as an operator writes it: the YAML file
// (snake_case keys), CARDSSO_* environment variables (settings.go) and flags
// all set its fields. The sections of the node itself are idp's own structs;
// storage and connector hold the configuration of the implementation chosen
// by their type (registry.go), each the component's own struct. Validate
// checks it (validate.go); idpConfig, openStore and openChecks turn it into
// what idp.New takes.
//
// Precedence: defaults < file < environment < flags. A key that is absent
// from the file, or null, keeps its default; an empty environment variable
// counts as unset.
type fileConfig struct {
	Issuer      string `yaml:"issuer"`
	Addr        string `yaml:"addr"`
	DataDir     string `yaml:"data_dir"`
	MetricsAddr string `yaml:"metrics_addr"`
	// TrustedProxies and ClientIPHeader: see idp.Config.
	TrustedProxies []string            `yaml:"trusted_proxies"`
	ClientIPHeader string              `yaml:"client_ip_header"`
	Storage        storageSection      `yaml:"storage"`
	MasterKey      idp.MasterKeyConfig `yaml:"master_key"`
	Connector      connectorSection    `yaml:"connector"`
	Tokens         idp.TokenConfig     `yaml:"tokens"`
	Session        idp.SessionConfig   `yaml:"session"`
	Keys           idp.KeyConfig       `yaml:"keys"`
	Password       idp.PasswordConfig  `yaml:"password"`
	Checks         idp.ChecksConfig    `yaml:"checks"`
	Lockout        idp.LockoutConfig   `yaml:"lockout"`
	SAML           samlConfig          `yaml:"saml"`
	Logout         idp.LogoutConfig    `yaml:"logout"`
	Log            logConfig           `yaml:"log"`

	// sources records, by YAML path, which environment variable or flag set
	// a value, so that an error can say where the bad value came from.
	sources map[string]string
}

// samlConfig is the SAML identity provider (idp.SAMLConfig) with the alias
// table written as one key per level.
type samlConfig struct {
	AssertionLifetime time.Duration  `yaml:"assertion_lifetime"`
	MetadataValidity  time.Duration  `yaml:"metadata_validity"`
	KeyRotationPeriod time.Duration  `yaml:"key_rotation_period"`
	ACRAliases        samlACRAliases `yaml:"acr_aliases"`
	AssertAliases     bool           `yaml:"assert_aliases"`
}

// samlACRAliases names each level in another framework; "none" for no
// alias.
type samlACRAliases struct {
	LoA1 string `yaml:"loa1"`
	LoA2 string `yaml:"loa2"`
	LoA3 string `yaml:"loa3"`
}

// noAlias is the acr alias value that leaves a level without alias.
const noAlias = "none"

type logConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// defaultConfig is what `cardsso serve` runs on with no file, no environment
// and no flags: the node's defaults are idp.Defaults, each component's its
// own (registry.go). Storage DSN and master key file stay empty: they
// default to files in data_dir, which may be set later (see idpConfig and
// openStore).
func defaultConfig() fileConfig {
	d := idp.Defaults()
	aliases := d.SAML.ACRAliases
	return fileConfig{
		Issuer:         d.Issuer,
		Addr:           d.Addr,
		DataDir:        d.DataDir,
		TrustedProxies: d.TrustedProxies,
		ClientIPHeader: d.ClientIPHeader,
		Storage:        newStorageSection(defaultStorage),
		Connector:      newConnectorSection(defaultConnector),
		Tokens:         d.Tokens,
		Session:        d.Session,
		Keys:           d.Keys,
		Password:       d.Password,
		Checks:         d.Checks,
		Lockout:        d.Lockout,
		SAML: samlConfig{
			AssertionLifetime: d.SAML.AssertionLifetime, MetadataValidity: d.SAML.MetadataValidity,
			KeyRotationPeriod: d.SAML.KeyRotationPeriod,
			ACRAliases:        samlACRAliases{LoA1: aliases[assurance.LoA1], LoA2: aliases[assurance.LoA2], LoA3: aliases[assurance.LoA3]},
			AssertAliases:     d.SAML.AssertAliases,
		},
		Logout: d.Logout,
		Log:    logConfig{Level: "info", Format: "json"},
	}
}

// configError is a configuration value that cannot be used. It names the
// value by its YAML path and, when it did not come from the file, says which
// environment variable or flag set it. It makes the exit code 2.
type configError struct {
	Path   string // YAML path, e.g. keys.algorithm; empty for the file as a whole
	Reason string
	Source string // "CARDSSO_KEYS_ALGORITHM", "--issuer", "cardsso.yaml:3" or ""
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Reason)
	if e.Source != "" {
		b.WriteString(" (from " + e.Source + ")")
	}
	return b.String()
}

func (c *fileConfig) invalid(path, format string, args ...any) error {
	return &configError{Path: path, Reason: fmt.Sprintf(format, args...), Source: c.sources[path]}
}

// keyedError is the error of a component's Validate or Open that names the
// bad field by its YAML key within the component's section
// (cardplatform.ConfigError, simulator.ConfigError, sqlstore.ConfigError).
type keyedError interface {
	error
	ConfigKey() string
	ConfigReason() string
}

// componentError turns an error of the component configured at section
// (e.g. "connector.cardplatform") into a *configError naming the YAML path.
func (c *fileConfig) componentError(section string, err error) error {
	var ke keyedError
	if errors.As(err, &ke) {
		return c.invalid(section+"."+ke.ConfigKey(), "%s", ke.ConfigReason())
	}
	return c.invalid(section, "%v", err)
}

// newLogger builds the node's logger from log.level and log.format. Call it
// on a validated config.
func (c *fileConfig) newLogger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// acrAliases is the alias table of saml.acr_aliases.
func (c *fileConfig) acrAliases() assurance.Aliases {
	out := assurance.Aliases{}
	for i, v := range []string{c.SAML.ACRAliases.LoA1, c.SAML.ACRAliases.LoA2, c.SAML.ACRAliases.LoA3} {
		if v != "" && v != noAlias {
			out[assurance.Level(i+1)] = v
		}
	}
	return out
}

// idpConfig turns a validated config into the node configuration. The
// master key file defaults to data_dir/master.key, which idp generates (mode
// 0600, with a warning) when it does not exist. The store and the connector
// are opened apart (openStore, openChecks).
func (c *fileConfig) idpConfig(logger *slog.Logger) idp.Config {
	mk := c.MasterKey
	if mk.File == "" && mk.Value == "" {
		mk.File = filepath.Join(c.DataDir, "master.key")
	}
	return idp.Config{
		Issuer:         c.Issuer,
		Addr:           c.Addr,
		DataDir:        c.DataDir,
		MetricsAddr:    c.MetricsAddr,
		TrustedProxies: c.TrustedProxies,
		ClientIPHeader: c.ClientIPHeader,
		MasterKey:      mk,
		Tokens:         c.Tokens,
		Session:        c.Session,
		Keys:           c.Keys,
		Password:       c.Password,
		Checks:         c.Checks,
		Lockout:        c.Lockout,
		SAML: idp.SAMLConfig{
			AssertionLifetime: c.SAML.AssertionLifetime, MetadataValidity: c.SAML.MetadataValidity,
			KeyRotationPeriod: c.SAML.KeyRotationPeriod, ACRAliases: c.acrAliases(), AssertAliases: c.SAML.AssertAliases,
		},
		Logout: c.Logout,
		Logger: logger,
	}
}
