package admin

import (
	"context"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

// publisher is a key manager that loads and publishes its keys
// (keys.Manager).
type publisher interface {
	Refresh(ctx context.Context) error
	PublicJWKS() []jose.JSONWebKey
}

// PublishedKeys are the OpenID Connect signing keys the nodes publish
// (their JWKS), read from the database: what `cardsso license verify`
// checks a licence against.
func (a *Admin) PublishedKeys(ctx context.Context) ([]jose.JSONWebKey, error) {
	p, ok := a.keys.(publisher)
	if !ok {
		return nil, errors.New("admin: the OIDC key manager publishes no keys")
	}
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	return p.PublicJWKS(), nil
}
