package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// CreateAuthRequest stores a validated authorization request after the
// checks the library leaves to us: the redirect URI is registered exactly,
// PKCE uses S256 only, and public clients must use PKCE.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSub string) (op.AuthRequest, error) {
	r, err := s.newAuthRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	bindRequest(ctx, &r, hintSub)
	if err := s.cfg.Store.CreateAuthRequest(ctx, r); err != nil {
		return nil, fmt.Errorf("create auth request: %w", err)
	}
	return &authRequest{r: r}, nil
}

// newAuthRequest checks a validated authorization request (see
// CreateAuthRequest) and makes the record to store, without storing it.
func (s *Storage) newAuthRequest(ctx context.Context, req *oidc.AuthRequest) (storage.AuthRequest, error) {
	c, err := s.Client(ctx, req.ClientID)
	if err != nil {
		return storage.AuthRequest{}, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client").WithParent(err)
	}
	if !slices.Contains(c.RedirectURIs, req.RedirectURI) {
		return storage.AuthRequest{}, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered for this client")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return storage.AuthRequest{}, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	switch req.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFragment, oidc.ResponseModeFormPost:
	default:
		// The library would answer an unknown mode as query: refuse what
		// discovery does not list (discovery.go).
		return storage.AuthRequest{}, oidc.ErrInvalidRequest().WithDescription("response_mode must be query, fragment or form_post")
	}
	if req.CodeChallenge != "" && !validChallenge(req.CodeChallenge) {
		return storage.AuthRequest{}, oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 base64url characters (RFC 7636 §4.2)")
	}
	if c.Public && req.CodeChallenge == "" {
		return storage.AuthRequest{}, oidc.ErrInvalidRequest().WithDescription("PKCE (code_challenge with method S256) is required for public clients")
	}
	rawClaims := claimsParam(ctx)
	claims, err := parseClaims(rawClaims)
	if err != nil {
		return storage.AuthRequest{}, err
	}
	level, err := requiredLevel(c, req.ACRValues, claims, s.cfg.Aliases)
	if err != nil {
		return storage.AuthRequest{}, err
	}
	now := s.now()
	r := storage.AuthRequest{
		ID:                  newRequestID(now),
		Protocol:            "oidc",
		RequiredACR:         level.ACR(),
		Claims:              []byte(rawClaims),
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		Scopes:              req.Scopes,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt:              req.Prompt,
		ACRValues:           req.ACRValues,
		LoginHint:           req.LoginHint,
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.cfg.AuthRequestLifetime),
	}
	if req.MaxAge != nil {
		m := int64(*req.MaxAge)
		r.MaxAge = &m
	}
	for _, t := range req.UILocales {
		r.UILocales = append(r.UILocales, t.String())
	}
	return r, nil
}

// withSubject sets the sub the request's client sees.
func (s *Storage) withSubject(ctx context.Context, a *authRequest) (*authRequest, error) {
	if a.r.AccountID == "" {
		return a, nil
	}
	c, err := s.Client(ctx, a.r.ClientID)
	if err != nil {
		return nil, fmt.Errorf("client of auth request: %w", err)
	}
	a.sub = s.subjectOf(c, a.r.AccountID)
	return a, nil
}

// AuthRequestByID loads a request (used by the callback after login). Its
// errors reach the browser as they are (op.AuthorizeCallback writes
// err.Error()), so they are fixed texts without a parent: the store's
// words are logged, never shown (fault.go).
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	if p := loadedOf(ctx, id); p != nil {
		return s.withSubject(ctx, &authRequest{r: *p})
	}
	r, err := s.cfg.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errAuthRequestUnknown()
	}
	if err != nil {
		noteFault(ctx, err)
		s.cfg.Logger.ErrorContext(ctx, "load auth request", "error", err)
		return nil, errOfStore(err)
	}
	a, err := s.withSubject(ctx, &authRequest{r: r})
	if err != nil {
		s.cfg.Logger.ErrorContext(ctx, "load auth request", "error", err)
		return nil, errOfStore(err)
	}
	return a, nil
}

// AuthRequestByCode finds the request of a code. A code presented after it
// was redeemed revokes every token the first redemption issued (RFC 6749
// §4.1.2) and fails.
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	h := hashValue(code)
	r, err := s.cfg.Store.GetAuthRequestByCode(ctx, h)
	if err != nil {
		noteFault(ctx, err)
		return nil, fmt.Errorf("code: %w", err)
	}
	if r.CodeUsedAt != nil {
		s.revokeGrant(ctx, r.ID, "authorization code reused")
		return nil, errors.New("code already used")
	}
	return s.withSubject(ctx, &authRequest{r: r, codeHash: h})
}

// SaveAuthCode attaches a code (its hash) to a completed request; the code
// is valid for CodeLifetime. The library sends its error's text to the
// portal (as error_description), so the store's is logged and a fixed one
// returned: invalid_request for a request that is unknown, not complete or
// was given its code before, temporarily_unavailable when the database
// is away or hung.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	err := s.saveAuthCode(ctx, id, code)
	if err == nil {
		return nil
	}
	// The store classifies its own failures (storage.ErrUnavailable); any
	// other error is the request's: not complete, expired or answered.
	if errors.Is(err, storage.ErrUnavailable) {
		noteFault(ctx, err)
		s.cfg.Logger.ErrorContext(ctx, "save auth code", "error", err)
		return errTemporarilyUnavailable()
	}
	s.cfg.Logger.WarnContext(ctx, "save auth code refused", "error", err)
	return publicError{oidc.ErrInvalidRequest().WithDescription("the authorization request is not complete, has expired or was answered before")}
}

func (s *Storage) saveAuthCode(ctx context.Context, id, code string) error {
	h := hashValue(code)
	now := s.now()
	if p := pendingOf(ctx, id); p != nil {
		// Answered from the SSO session at /authorize (authorize.go): the
		// request is stored now, completed and with its code, in one write.
		p.CodeHash = h
		p.ExpiresAt = now.Add(s.cfg.CodeLifetime)
		if err := s.cfg.Store.CreateAuthRequest(ctx, *p); err != nil {
			return fmt.Errorf("create auth request: %w", err)
		}
		return nil
	}
	if cs, ok := s.cfg.Store.(storage.CodeSaver); ok {
		return cs.SaveAuthCode(ctx, id, h, now.Add(s.cfg.CodeLifetime), now)
	}
	return s.cfg.Store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		if !r.Done {
			return r, errors.New("auth request is not authenticated")
		}
		if r.CodeUsedAt != nil {
			return r, errors.New("auth request code already redeemed")
		}
		r.CodeHash = h
		r.ExpiresAt = now.Add(s.cfg.CodeLifetime)
		return r, nil
	})
}

// DeleteAuthRequest is called once tokens were issued for a request. A
// request whose code was redeemed is kept (without its login state) for a
// while so that a replayed code is recognised and revokes its tokens; the
// background collector removes it afterwards.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if wasKept(ctx, id) {
		return nil // redeemed and kept with its tokens (issueAtOnce)
	}
	keep := s.keepRedeemed()
	now := s.now()
	err := s.cfg.Store.UpdateAuthRequest(ctx, id, func(r storage.AuthRequest) (storage.AuthRequest, error) {
		if r.CodeUsedAt == nil {
			return r, errNotRedeemed
		}
		r.LoginState = nil
		r.ExpiresAt = now.Add(keep)
		return r, nil
	})
	switch {
	case errors.Is(err, errNotRedeemed):
		err = s.cfg.Store.DeleteAuthRequest(ctx, id)
	case errors.Is(err, storage.ErrNotFound):
		return nil
	}
	return err
}

var errNotRedeemed = errors.New("code not redeemed")

// keepRedeemed is how long a redeemed auth request is kept, so that a
// replayed code is recognised and revokes what the first redemption issued.
func (s *Storage) keepRedeemed() time.Duration {
	return max(s.cfg.AccessTokenLifetime, s.cfg.AuthRequestLifetime)
}
