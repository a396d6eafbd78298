// Package admin is the administrator's side of CardSSO: registering
// portals (OIDC clients) and SAML service providers, rotating signing keys,
// migrating and backing up the database. The CLI (cmd/cardsso) calls it
// today; the admin REST API will serve the same operations over HTTP. It
// receives an opened store and key managers (idp.OpenAdmin wires them) and
// never reads configuration itself.
package admin

import (
	"context"
	"errors"
	"time"

	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
)

// Errors the CLI and the admin API branch on.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
)

// InvalidError says which input field is wrong and why.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Store is what the administrator's operations need of the database:
// the storage contract, the schema's migrations and the online backup.
type Store interface {
	storage.Store
	storage.Migrator
	storage.Backuper
	Close() error
}

// KeyManager is one use's signing keys (idp/keys.Manager).
type KeyManager interface {
	Init(ctx context.Context) error
	Rotate(ctx context.Context) error
	List(ctx context.Context) ([]keys.KeyInfo, error)
}

// Config is what an Admin works with, opened by the caller (idp.OpenAdmin).
type Config struct {
	// Issuer is the node's issuer URL: a service provider must not claim it.
	Issuer string
	Store  Store
	// ClientSecrets keys the hashes of client secrets (the same key the
	// token endpoint checks them with).
	ClientSecrets *keys.MAC
	// OIDCKeys and SAMLKeys manage the signing keys of each use.
	OIDCKeys, SAMLKeys KeyManager
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Admin is the administrator's side of a node: what `cardsso clients`,
// `cardsso sps` and `cardsso keys` do (and later the admin REST API). It
// works on the same database as running nodes.
type Admin struct {
	cfg      Config
	store    Store
	keys     KeyManager
	samlKeys KeyManager
	secrets  *keys.MAC
}

// New returns the administrator's operations over cfg's store and keys.
func New(cfg Config) *Admin {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Admin{cfg: cfg, store: cfg.Store, keys: cfg.OIDCKeys, samlKeys: cfg.SAMLKeys, secrets: cfg.ClientSecrets}
}

// Close releases the database.
func (a *Admin) Close() error { return a.store.Close() }

// Migrate runs pending migrations and returns the schema version.
func (a *Admin) Migrate(ctx context.Context) (int64, error) {
	if err := a.store.Migrate(ctx); err != nil {
		return 0, err
	}
	return a.store.MigrationVersion(ctx)
}

// Backup writes a consistent copy of the SQLite database to path while
// nodes keep serving (docs/operations.md, "Backup and restore"). On
// PostgreSQL it refuses: pg_dump is the backup there.
func (a *Admin) Backup(ctx context.Context, path string) error {
	err := a.store.BackupTo(ctx, path)
	if errors.Is(err, errors.ErrUnsupported) {
		return &InvalidError{Field: "storage.type", Reason: "cardsso backup copies a SQLite database; for PostgreSQL use pg_dump (see docs/operations.md)"}
	}
	return err
}
