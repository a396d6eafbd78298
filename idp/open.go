package idp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// Purposes of keys derived from the master key (besides those named in
// idp/keys).
const (
	purposeLinks    = "links"
	purposePairwise = "pairwise-subject"
)

// openStore opens (and migrates) the configured database.
func openStore(ctx context.Context, cfg Config) (*sqlstore.Store, error) {
	if cfg.Storage.Type == "sqlite" {
		if err := os.MkdirAll(filepath.Dir(cfg.Storage.DSN), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		// The database holds personal data: create it readable by its owner
		// only (SQLite gives its -wal and -shm files the same mode).
		if f, err := os.OpenFile(cfg.Storage.DSN, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
			_ = f.Close()
		}
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{
		Flavour:         cfg.Storage.Type,
		DSN:             cfg.Storage.DSN,
		MaxOpenConns:    cfg.Storage.MaxOpenConns,
		MaxIdleConns:    cfg.Storage.MaxIdleConns,
		ConnMaxLifetime: cfg.Storage.ConnMaxLifetime,
		ConnMaxIdleTime: cfg.Storage.ConnMaxIdleTime,
		QueryTimeout:    cfg.Storage.QueryTimeout,
		Now:             cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	return st, nil
}

// openMasterKey reads the master key from config or its file, generating the
// file on first start with a loud warning.
func openMasterKey(cfg Config) (*keys.MasterKey, error) {
	if cfg.MasterKey.Value != "" {
		mk, err := keys.ParseMasterKey(cfg.MasterKey.Value)
		if err != nil {
			return nil, &InvalidError{Field: "master_key.value", Reason: err.Error()}
		}
		return mk, nil
	}
	mk, created, err := keys.LoadOrCreateMasterKey(cfg.MasterKey.File)
	var perm *keys.KeyFilePermError
	if errors.As(err, &perm) {
		return nil, &InvalidError{Field: "master_key.file", Reason: "the master key file " + perm.Reason()}
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		cfg.Logger.Warn("generated a new master key; production needs its own key, kept secret, backed up and shared by every node (master_key.file or CARDSSO_MASTER_KEY)",
			"file", cfg.MasterKey.File)
	}
	return mk, nil
}

// newKeyManager builds the signing key manager with a publication window
// that covers every token a retired key may have signed.
func newKeyManager(st *sqlstore.Store, mk *keys.MasterKey, cfg Config) (*keys.Manager, error) {
	publish := max(cfg.Tokens.IDTokenLifetime, cfg.Tokens.AccessTokenLifetime) + 5*60*1e9
	m, err := keys.NewManager(st, mk, keys.ManagerConfig{
		Algorithm:      cfg.Keys.Algorithm,
		RotationPeriod: cfg.Keys.RotationPeriod,
		PublishFor:     publish,
		Now:            cfg.Now,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, &InvalidError{Field: "keys.algorithm", Reason: err.Error()}
	}
	return m, nil
}

// InvalidError names the configuration field idp refuses and why; it is
// the same type as an administrator's bad input (admin.InvalidError), so
// that the CLI reports both alike.
type InvalidError = admin.InvalidError

// OpenAdmin opens the database (running pending migrations), the master key
// and the key managers, and returns the administrator's operations over
// them.
func OpenAdmin(ctx context.Context, cfg Config) (*admin.Admin, error) {
	a, _, _, err := openAdmin(ctx, cfg)
	return a, err
}

// OpenSeeder opens the database and the master key for benchmark seeding
// (`cardsso seed`; idp/benchseed).
func OpenSeeder(ctx context.Context, cfg Config) (*benchseed.Seeder, error) {
	cfg = withDefaults(cfg)
	a, st, mk, err := openAdmin(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return benchseed.New(benchseed.Target{
		Store: st, Sealer: mk, Clients: a, Password: cfg.Password.params(), Now: cfg.Now,
		Close: a.Close,
	}), nil
}

func openAdmin(ctx context.Context, cfg Config) (*admin.Admin, *sqlstore.Store, *keys.MasterKey, error) {
	cfg = withDefaults(cfg)
	if err := cfg.check(); err != nil {
		return nil, nil, nil, err
	}
	mk, err := openMasterKey(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	km, err := newKeyManager(st, mk, cfg)
	if err == nil {
		var samlKeys *keys.Manager
		if samlKeys, err = newSAMLKeyManager(st, mk, cfg); err == nil {
			return admin.New(admin.Config{
				Issuer: cfg.Issuer, Store: st, ClientSecrets: mk.MAC(keys.PurposeClientSecret),
				OIDCKeys: km, SAMLKeys: samlKeys, Now: cfg.Now,
			}), st, mk, nil
		}
	}
	_ = st.Close()
	return nil, nil, nil, err
}
