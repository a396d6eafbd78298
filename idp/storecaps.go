package idp

import (
	"context"
	"time"

	"github.com/cardsso/cardsso/idp/internal/login"
	cardoidc "github.com/cardsso/cardsso/idp/internal/oidc"
	"github.com/cardsso/cardsso/storage"
)

// Store is what a node asks of its database (cmd/cardsso passes a
// *sqlstore.Store, opened from the configured flavour): the storage
// contract, the capabilities the protocol packages use on the hot paths
// (fewer writes per request; docs/performance.md), readiness (readyz),
// the collection of expired rows, migration, backup and bulk seeding.
// New and OpenAdmin take it opened and migrated; Close closes it.
type Store interface {
	storage.Store
	cardoidc.TokenIssuer
	cardoidc.CodeSaver
	login.Completer
	writeHealth

	// DeleteExpired deletes rows expired at now, in small batches; it
	// returns how many.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// Migrate runs pending migrations; MigrationVersion is the schema's.
	Migrate(ctx context.Context) error
	MigrationVersion(ctx context.Context) (int64, error)
	// BackupTo writes a consistent copy of the database to path, or fails
	// when the flavour has no online backup.
	BackupTo(ctx context.Context, path string) error
	// BulkCreateAccounts and BulkCreateSessions insert many rows at once
	// (benchmark seeding, seed.go).
	BulkCreateAccounts(ctx context.Context, as []storage.Account) error
	BulkCreateSessions(ctx context.Context, ss []storage.Session) error
	Close() error
}
