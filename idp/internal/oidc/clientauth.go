package oidc

import (
	"context"
	"errors"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// GetClientByClientID loads a client. An unknown client is invalid_client
// with a fixed description, a database fault a server error (whose parent
// the library logs and never sends).
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Client(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		// invalid_client at the token endpoint (the refresh grant passes
		// this error on as it is, and a plain one would be a 500 with its
		// text); /authorize wraps it without a redirect.
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		noteFault(ctx, err)
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &client{c: c, loginURL: s.cfg.LoginURL, idLifetime: s.cfg.IDTokenLifetime}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret against its
// keyed hash in constant time.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.Client(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return errors.New("unknown client")
	}
	if err != nil {
		noteFault(ctx, err)
		return oidc.ErrServerError().WithParent(err)
	}
	if c.Public || len(c.SecretHash) == 0 {
		return errors.New("client has no secret")
	}
	if !s.cfg.ClientSecrets.Equal([]byte(secret), c.SecretHash) {
		return errors.New("wrong client secret")
	}
	return nil
}
