package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// grant is what a new token pair inherits.
type grant struct {
	id, clientID, accountID, sessionID string
	scopes, audience, amr              []string
	authTime                           time.Time
	acr                                string
	// claims is the claims request parameter of the authorization request
	// (JSON), kept with the grant so that userinfo and refreshed ID tokens
	// answer it (verified_claims).
	claims []byte
}

// claim makes a token request single use: it claims the authorization code
// or the presented refresh token, and returns what the new tokens inherit.
func (s *Storage) claim(ctx context.Context, req op.TokenRequest, currentRefresh string) (grant, error) {
	now := s.now()
	switch r := req.(type) {
	case *authRequest:
		if r.codeHash == nil {
			return grant{}, oidc.ErrInvalidGrant().WithDescription("no authorization code")
		}
		got, err := s.cfg.Store.ClaimAuthCode(ctx, r.codeHash, now)
		switch {
		case errors.Is(err, storage.ErrAlreadyUsed):
			s.revokeGrant(ctx, got.ID, "authorization code redeemed twice")
			return grant{}, oidc.ErrInvalidGrant().WithDescription("authorization code already used")
		case errors.Is(err, storage.ErrNotFound):
			return grant{}, oidc.ErrInvalidGrant().WithDescription("authorization code expired or unknown")
		case err != nil:
			return grant{}, oidc.ErrServerError().WithParent(err)
		}
		return grantOfCode(got), nil
	case *refreshRequest:
		got, err := s.cfg.Store.ClaimRefreshToken(ctx, refreshKey(currentRefresh), now)
		switch {
		case errors.Is(err, storage.ErrAlreadyUsed):
			s.revokeGrant(ctx, got.GrantID, "refresh token reused")
			return grant{}, oidc.ErrInvalidGrant().WithDescription("refresh token already used")
		case errors.Is(err, storage.ErrNotFound):
			return grant{}, oidc.ErrInvalidGrant().WithDescription("refresh token expired or revoked")
		case err != nil:
			return grant{}, oidc.ErrServerError().WithParent(err)
		}
		return grantOfRefresh(got, r.t.Scopes), nil
	default:
		return grant{}, oidc.ErrUnsupportedGrantType()
	}
}

// grantOfCode is what tokens issued for a redeemed code inherit.
func grantOfCode(got storage.AuthRequest) grant {
	return grant{
		id: got.ID, clientID: got.ClientID, accountID: got.AccountID, sessionID: got.SessionID,
		scopes: got.Scopes, audience: []string{got.ClientID}, amr: got.AMR,
		authTime: got.AuthTime, acr: got.ACR, claims: got.Claims,
	}
}

// grantOfRefresh is what tokens issued for a rotated refresh token inherit
// (with the scopes of this request, which may narrow them).
func grantOfRefresh(got storage.RefreshToken, scopes []string) grant {
	return grant{
		id: got.GrantID, clientID: got.ClientID, accountID: got.AccountID, sessionID: got.SessionID,
		scopes: scopes, audience: got.Audience, amr: got.AMR,
		authTime: got.AuthTime, acr: got.ACR, claims: got.Claims,
	}
}

// claimError maps a failed claim to the OAuth answer, revoking what the
// first use of a reused code or refresh token issued.
func (s *Storage) claimError(ctx context.Context, err error, grantID, what, gone string) error {
	switch {
	case errors.Is(err, storage.ErrAlreadyUsed):
		s.revokeGrant(ctx, grantID, what+" used twice")
		return oidc.ErrInvalidGrant().WithDescription("%s already used", what)
	case errors.Is(err, storage.ErrNotFound):
		return oidc.ErrInvalidGrant().WithDescription("%s %s", what, gone)
	default:
		if errors.Is(err, storage.ErrUnavailable) {
			noteFault(ctx, err) // a full disk at the commit: 503 temporarily_unavailable, not 500
		}
		return oidc.ErrServerError().WithParent(err)
	}
}

// issueAtOnce claims the code or refresh token of req and stores the new
// access token (and, withRefresh, a new refresh token) in one transaction
// of a storage.TokenIssuer store. It returns the access token and the new refresh
// token's value.
func (s *Storage) issueAtOnce(ctx context.Context, ti storage.TokenIssuer, req op.TokenRequest, currentRefresh string, withRefresh bool) (storage.AccessToken, string, error) {
	now := s.now()
	var (
		at           storage.AccessToken
		refreshValue string
	)
	build := func(g grant) (storage.AccessToken, *storage.RefreshToken, error) {
		at = s.accessTokenOf(g, now)
		if !withRefresh {
			return at, nil, nil
		}
		value, rt, err := s.refreshTokenOf(g, now)
		if err != nil {
			return at, nil, err
		}
		refreshValue = value
		return at, &rt, nil
	}
	switch r := req.(type) {
	case *authRequest:
		if r.codeHash == nil {
			return at, "", oidc.ErrInvalidGrant().WithDescription("no authorization code")
		}
		got, err := ti.ClaimAuthCodeAndIssue(ctx, r.codeHash, now, now.Add(s.keepRedeemed()),
			func(a storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
				return build(grantOfCode(a))
			})
		if err != nil {
			return at, "", s.claimError(ctx, err, got.ID, "authorization code", "expired or unknown")
		}
		noteKept(ctx, got.ID)
	case *refreshRequest:
		if r.grace {
			return s.issueInGrace(ctx, r.t, r.t.Scopes, withRefresh)
		}
		got, err := ti.ClaimRefreshTokenAndIssue(ctx, refreshKey(currentRefresh), now,
			func(t storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
				return build(grantOfRefresh(t, r.t.Scopes))
			})
		if err != nil {
			return at, "", s.claimError(ctx, err, got.GrantID, "refresh token", "expired or revoked")
		}
	default:
		return at, "", oidc.ErrUnsupportedGrantType()
	}
	return at, refreshValue, nil
}

// isCC reports a client credentials request, whose token is not stored.
func isCC(req op.TokenRequest) bool { _, ok := req.(*ccRequest); return ok }

func (s *Storage) revokeGrant(ctx context.Context, grantID, why string) {
	if err := s.cfg.Store.RevokeGrant(ctx, grantID); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "revoke grant failed", "reason", why, "grant", grantID, "error", err)
		return
	}
	s.cfg.Logger.WarnContext(ctx, "grant revoked", "reason", why, "grant", grantID)
}

// accessTokenOf is a new access token of the grant.
func (s *Storage) accessTokenOf(g grant, now time.Time) storage.AccessToken {
	return storage.AccessToken{
		ID: newAccessTokenID(now), GrantID: g.id, ClientID: g.clientID, AccountID: g.accountID,
		SessionID: g.sessionID, Scopes: g.scopes, Audience: g.audience,
		AuthTime: g.authTime, ACR: g.acr, AMR: g.amr, Claims: g.claims,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.AccessTokenLifetime),
	}
}

// refreshTokenOf is a new refresh token of the grant and its value
// (tokenkeys.go).
func (s *Storage) refreshTokenOf(g grant, now time.Time) (string, storage.RefreshToken, error) {
	value, key := newRefreshValue(now)
	return value, storage.RefreshToken{
		Hash: key, ID: rand.Text(), GrantID: g.id, ClientID: g.clientID,
		AccountID: g.accountID, SessionID: g.sessionID, Scopes: g.scopes, Audience: g.audience,
		AuthTime: g.authTime, ACR: g.acr, AMR: g.amr, Claims: g.claims,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenLifetime),
	}, nil
}

func (s *Storage) newAccessToken(ctx context.Context, g grant) (storage.AccessToken, error) {
	t := s.accessTokenOf(g, s.now())
	if err := s.cfg.Store.CreateAccessToken(ctx, t); err != nil {
		return t, oidc.ErrServerError().WithParent(fmt.Errorf("create access token: %w", err))
	}
	return t, nil
}

// CreateAccessToken issues an access token for a code redemption without
// offline_access.
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if isCC(req) {
		id, exp := s.newCCToken()
		return id, exp, nil
	}
	if ti, ok := s.cfg.Store.(storage.TokenIssuer); ok {
		t, _, err := s.issueAtOnce(ctx, ti, req, "", false)
		if err != nil {
			return "", time.Time{}, err
		}
		return t.ID, t.ExpiresAt, nil
	}
	g, err := s.claim(ctx, req, "")
	if err != nil {
		return "", time.Time{}, err
	}
	t, err := s.newAccessToken(ctx, g)
	if err != nil {
		return "", time.Time{}, err
	}
	return t.ID, t.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token, claiming the code or rotating the presented refresh token.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, currentRefresh string) (string, string, time.Time, error) {
	if ti, ok := s.cfg.Store.(storage.TokenIssuer); ok {
		t, value, err := s.issueAtOnce(ctx, ti, req, currentRefresh, true)
		if err != nil {
			return "", "", time.Time{}, err
		}
		return t.ID, value, t.ExpiresAt, nil
	}
	if rr, ok := req.(*refreshRequest); ok && rr.grace {
		t, value, err := s.issueInGrace(ctx, rr.t, rr.t.Scopes, true)
		if err != nil {
			return "", "", time.Time{}, err
		}
		return t.ID, value, t.ExpiresAt, nil
	}
	g, err := s.claim(ctx, req, currentRefresh)
	if err != nil {
		return "", "", time.Time{}, err
	}
	t, err := s.newAccessToken(ctx, g)
	if err != nil {
		return "", "", time.Time{}, err
	}
	value, rt, err := s.refreshTokenOf(g, s.now())
	if err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	if err := s.cfg.Store.CreateRefreshToken(ctx, rt); err != nil {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(fmt.Errorf("create refresh token: %w", err))
	}
	return t.ID, value, t.ExpiresAt, nil
}

// TokenRequestByRefreshToken loads a refresh token. A token that was rotated
// before is a reuse: its whole family is revoked.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, value string) (op.RefreshTokenRequest, error) {
	t, err := s.cfg.Store.GetRefreshToken(ctx, refreshKey(value))
	if err != nil {
		noteFault(ctx, err)
		return nil, op.ErrInvalidRefreshToken
	}
	c, err := s.Client(ctx, t.ClientID)
	if err != nil {
		noteFault(ctx, err)
		return nil, op.ErrInvalidRefreshToken
	}
	grace := false
	if t.UsedAt != nil {
		if !s.withinReuseGrace(c, t) {
			s.revokeGrant(ctx, t.GrantID, "refresh token reused")
			return nil, op.ErrInvalidRefreshToken
		}
		grace = true
	}
	return &refreshRequest{t: t, value: value, sub: s.subjectOf(c, t.AccountID), grace: grace}, nil
}

// withinReuseGrace reports whether a rotated refresh token may be presented
// again now: its client has a reuse grace and the token was rotated less
// than that long ago (issue #18 §8; as Auth0's reuse interval and Okta's
// grace period). Such a reuse gets a fresh pair in the same grant, so a
// later theft detection (a reuse after the grace) still revokes every
// token issued from it; no token is ever kept in the clear for it.
func (s *Storage) withinReuseGrace(c storage.Client, t storage.RefreshToken) bool {
	return c.RefreshReuseGrace > 0 && t.UsedAt != nil && s.now().Sub(*t.UsedAt) <= c.RefreshReuseGrace
}

// issueInGrace stores a fresh access token (and refresh token) of the grant
// of a rotated refresh token presented again within its grace.
func (s *Storage) issueInGrace(ctx context.Context, t storage.RefreshToken, scopes []string, withRefresh bool) (storage.AccessToken, string, error) {
	g := grantOfRefresh(t, scopes)
	now := s.now()
	at := s.accessTokenOf(g, now)
	if err := s.cfg.Store.CreateAccessToken(ctx, at); err != nil {
		noteFault(ctx, err)
		return at, "", oidc.ErrServerError().WithParent(fmt.Errorf("create access token: %w", err))
	}
	if !withRefresh {
		return at, "", nil
	}
	value, rt, err := s.refreshTokenOf(g, now)
	if err != nil {
		return at, "", oidc.ErrServerError().WithParent(err)
	}
	if err := s.cfg.Store.CreateRefreshToken(ctx, rt); err != nil {
		noteFault(ctx, err)
		return at, "", oidc.ErrServerError().WithParent(fmt.Errorf("create refresh token: %w", err))
	}
	s.cfg.Logger.InfoContext(ctx, "rotated refresh token presented again within the client's reuse grace", "client", t.ClientID, "grant", t.GrantID)
	return at, value, nil
}
