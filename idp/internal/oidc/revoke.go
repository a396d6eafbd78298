package oidc

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

const refreshIDPrefix = "refresh:"

// GetRefreshTokenInfo tells the revocation endpoint whether a value is one
// of our refresh tokens.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, _ string, value string) (string, string, error) {
	h := refreshKey(value)
	t, err := s.cfg.Store.GetRefreshToken(ctx, h)
	if err != nil {
		noteFault(ctx, err)
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.AccountID, refreshIDPrefix + hex.EncodeToString(h), nil
}

// RevokeToken implements RFC 7009. Revoking a refresh token revokes its
// whole grant (RFC 7009 §2.1); revoking an access token revokes that token.
// Unknown tokens are not an error.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if userID == "" {
		// The library found no token: a refresh token sent with
		// token_type_hint=access_token arrives here as it is (the library
		// tries the hinted type only), and RFC 7009 §2.1 says to search
		// every type. An unknown token is answered 200 (§2.2).
		return s.revokeRefresh(ctx, refreshKey(tokenOrID), clientID)
	}
	if h, ok := strings.CutPrefix(tokenOrID, refreshIDPrefix); ok {
		hb, err := hex.DecodeString(h)
		if err != nil {
			return nil
		}
		return s.revokeRefresh(ctx, hb, clientID)
	}
	t, err := s.cfg.Store.GetAccessToken(ctx, tokenOrID)
	if err != nil {
		return s.revocationFault(ctx, err)
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if err := s.cfg.Store.DeleteAccessToken(ctx, t.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		noteFault(ctx, err)
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// revokeRefresh revokes the family (grant) of the refresh token with this
// hash, if the client holds it.
func (s *Storage) revokeRefresh(ctx context.Context, hash []byte, clientID string) *oidc.Error {
	t, err := s.cfg.Store.GetRefreshToken(ctx, hash)
	if err != nil {
		return s.revocationFault(ctx, err)
	}
	if t.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	if err := s.cfg.Store.RevokeGrant(ctx, t.GrantID); err != nil {
		noteFault(ctx, err)
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// revocationFault is RevokeToken's answer when it could not read the token:
// nothing for an unknown one (RFC 7009 §2.2: 200), a fault (503) when the
// store failed, so that a portal does not believe a token revoked that is
// still live.
func (s *Storage) revocationFault(ctx context.Context, err error) *oidc.Error {
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	noteFault(ctx, err)
	return oidc.ErrServerError().WithParent(err)
}
