package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// SetUserinfoFromScopes is deprecated in the library; SetUserinfoFromRequest does the work.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims: those the scopes
// release, verified_claims when the claims request asks for them in the ID
// token, and sid, the session's id as this client sees it, which its
// logout tokens carry too (OpenID Connect Back-Channel Logout 1.0 §2.1).
// The library answers the token request with its error's text, so the
// store's is logged and a fixed one returned.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	err := s.setUserinfoFromRequest(ctx, ui, req, scopes)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		s.cfg.Logger.WarnContext(ctx, "ID token claims", "client", req.GetClientID(), "error", err)
		return publicError{oidc.ErrInvalidGrant().WithDescription("the account or client of this grant no longer exists")}
	default:
		noteFault(ctx, err)
		s.cfg.Logger.ErrorContext(ctx, "ID token claims", "client", req.GetClientID(), "error", err)
		return errOfStore(err)
	}
}

func (s *Storage) setUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	c, err := s.Client(ctx, req.GetClientID())
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	switch r := req.(type) {
	case *authRequest:
		a, err := s.fillUserinfo(ctx, ui, c, r.r.AccountID, scopes)
		if err != nil {
			return err
		}
		s.addVerifiedClaims(ui, c, a, grantView{claims: r.r.Claims, acr: r.r.ACR, amr: r.r.AMR, scopes: scopes}, inIDToken)
		if r.r.SessionID != "" {
			ui.AppendClaims("sid", s.sessionIDFor(c, r.r.SessionID))
		}
		return nil
	case *refreshRequest:
		a, err := s.fillUserinfo(ctx, ui, c, r.t.AccountID, scopes)
		if err != nil {
			return err
		}
		// The library takes acr only from auth requests; a refreshed ID
		// token carries the level of the original authentication too.
		if r.t.ACR != "" {
			ui.AppendClaims("acr", r.t.ACR)
		}
		s.addVerifiedClaims(ui, c, a, grantView{claims: r.t.Claims, acr: r.t.ACR, amr: r.t.AMR, scopes: scopes}, inIDToken)
		if r.t.SessionID != "" {
			ui.AppendClaims("sid", s.sessionIDFor(c, r.t.SessionID))
		}
		return nil
	default:
		return errors.New("unsupported token request")
	}
}

// SetUserinfoFromToken answers the userinfo endpoint for a live access token.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, c, err := s.liveToken(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	a, err := s.fillUserinfo(ctx, ui, c, t.AccountID, t.Scopes)
	if err != nil {
		return err
	}
	s.addVerifiedClaims(ui, c, a, grantView{claims: t.Claims, acr: t.ACR, amr: t.AMR, scopes: t.Scopes}, inUserinfo)
	ui.AppendClaims("acr", t.ACR)
	ui.AppendClaims("amr", t.AMR)
	ui.AppendClaims("auth_time", t.AuthTime.Unix())
	return nil
}

// SetIntrospectionFromToken answers RFC 7662 introspection for the client
// the token was issued to; any other caller learns only active=false.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	if strings.HasPrefix(tokenID, "cc:") {
		return s.introspectCC(ctx, resp, tokenID, subject, clientID)
	}
	t, c, err := s.liveToken(ctx, tokenID, subject)
	if err != nil || !slices.Contains(t.Audience, clientID) {
		return errors.New("token inactive")
	}
	ui := new(oidc.UserInfo)
	if _, err := s.fillUserinfo(ctx, ui, c, t.AccountID, t.Scopes); err != nil {
		return err
	}
	resp.SetUserInfo(ui)
	resp.Active = true
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	resp.AuthTime = oidc.FromTime(t.AuthTime)
	resp.Subject = ui.Subject
	resp.Audience = t.Audience
	resp.AuthenticationMethodsReferences = t.AMR
	resp.Issuer = op.IssuerFromContext(ctx)
	if resp.Claims == nil {
		resp.Claims = map[string]any{}
	}
	resp.Claims["acr"] = t.ACR
	return nil
}

// liveToken loads an access token that is live and whose subject, as its
// client sees it, is subject; any failure is one opaque error for the
// library (a store fault is noted for the answer's status, fault.go).
func (s *Storage) liveToken(ctx context.Context, tokenID, subject string) (storage.AccessToken, storage.Client, error) {
	t, c, err := s.lookupToken(ctx, tokenID, subject)
	if err != nil {
		if !errors.Is(err, ErrInvalidToken) {
			noteFault(ctx, err)
		}
		return t, c, errors.New("access token invalid or revoked")
	}
	return t, c, nil
}

// lookupToken is liveToken telling ErrInvalidToken (unknown, expired,
// revoked, its client gone, another subject) from a store fault (wrapped).
func (s *Storage) lookupToken(ctx context.Context, tokenID, subject string) (storage.AccessToken, storage.Client, error) {
	t, err := s.cfg.Store.GetAccessToken(ctx, tokenID)
	if err != nil {
		return t, storage.Client{}, storeOrInvalid(err)
	}
	c, err := s.Client(ctx, t.ClientID)
	if err != nil {
		return t, c, storeOrInvalid(err)
	}
	if s.subjectOf(c, t.AccountID) != subject {
		return t, c, ErrInvalidToken
	}
	return t, c, nil
}

// fillUserinfo releases the account's claims the scopes ask for and the
// client may receive (policies: profile → name; cardsso.card → ssn_masked,
// card_region, card_status; cardsso.ssn → the full number, only for clients
// allowed it).
func (s *Storage) fillUserinfo(ctx context.Context, ui *oidc.UserInfo, c storage.Client, accountID string, scopes []string) (storage.Account, error) {
	a, err := s.cfg.Store.GetAccount(ctx, accountID)
	if err != nil {
		return a, fmt.Errorf("account: %w", err)
	}
	ui.Subject = s.subjectOf(c, a.ID)
	return a, s.releaseClaims(ui, c, a, scopes)
}

// releaseClaims sets the claims of fillUserinfo (Name and Claims only).
func (s *Storage) releaseClaims(ui *oidc.UserInfo, c storage.Client, a storage.Account, scopes []string) error {
	for _, sc := range release.Granted(scopes, c.AllowedClaims) {
		switch sc {
		case oidc.ScopeProfile:
			ui.Name = a.Name
		case release.ScopeCard:
			ui.AppendClaims("ssn_masked", a.SSNMasked)
			if a.CardRegion != "" {
				ui.AppendClaims("card_region", a.CardRegion)
			}
			if a.CardStatus != "" {
				ui.AppendClaims("card_status", a.CardStatus)
			}
		case release.ScopeSSN:
			n, err := s.cfg.Numbers.Open(a.SSNSealed, storage.SSNAssociatedData(a.ID))
			if err != nil {
				return fmt.Errorf("open number: %w", err)
			}
			ui.AppendClaims("ssn", string(n))
		}
	}
	return nil
}
