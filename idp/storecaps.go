package idp

import (
	"github.com/cardsso/cardsso/idp/internal/login"
	cardoidc "github.com/cardsso/cardsso/idp/internal/oidc"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// The store's capabilities beyond storage.Store that the protocol packages
// use when present (fewer writes per request; docs/performance.md).
var (
	_ cardoidc.TokenIssuer = (*sqlstore.Store)(nil)
	_ cardoidc.CodeSaver   = (*sqlstore.Store)(nil)
	_ login.Completer      = (*sqlstore.Store)(nil)
)
