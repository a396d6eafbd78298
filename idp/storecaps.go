package idp

import (
	"github.com/cardsso/cardsso/storage"
)

// Store is what a node asks of its database (cmd/cardsso passes a
// *sqlstore.Store, opened from the configured flavour): the storage
// contract, the capabilities the protocol packages use on the hot paths
// (fewer writes per request; docs/performance.md), readiness (readyz),
// migration and backup (docs/architecture.md, "The storage contract").
// New and OpenAdmin take it opened and migrated; Close closes it.
type Store interface {
	storage.Store
	storage.TokenIssuer
	storage.CodeSaver
	storage.Completer
	storage.Health
	storage.Migrator
	storage.Backuper
	Close() error
}
