package idp

import (
	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// The store's capabilities beyond storage.Store that the protocol packages
// use when present (fewer writes per request; docs/performance.md).
var (
	_ storage.TokenIssuer = (*sqlstore.Store)(nil)
	_ storage.CodeSaver   = (*sqlstore.Store)(nil)
	_ storage.Completer   = (*sqlstore.Store)(nil)
)
