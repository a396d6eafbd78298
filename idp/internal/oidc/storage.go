package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// SigningKeys is the in-memory view of the token signing keys.
type SigningKeys interface {
	Active() (*keys.Signer, error)
	PublicJWKS() []jose.JSONWebKey
	// JWKSJSON is the pre-serialised {"keys":[…]} and ETag its strong ETag.
	JWKSJSON() []byte
	ETag() string
}

// SecretVerifier checks a client secret against its stored keyed hash in
// constant time.
type SecretVerifier interface {
	Equal(data, mac []byte) bool
}

// Opener opens sealed social security numbers (idp/keys.MasterKey).
type Opener interface {
	Open(sealed, associatedData []byte) ([]byte, error)
}

// StorageConfig is what the op.Storage adapter needs.
type StorageConfig struct {
	Store         storage.Store
	Keys          SigningKeys
	ClientSecrets SecretVerifier
	// PairwiseKey keys the pairwise subject identifiers; every node must
	// share it (derive it from the master key).
	PairwiseKey []byte
	// Numbers opens the sealed number for the cardsso.ssn claim.
	Numbers Opener
	// CardTTL is how long a real-card check counts (for verified_claims).
	CardTTL time.Duration
	// Aliases maps levels to other frameworks' acr values, which requests
	// may use in acr_values and the claims parameter.
	Aliases assurance.Aliases
	// LoginURL returns the first login page for an auth request id.
	LoginURL func(authRequestID string) string
	// LogoutURL returns the URL of the logout page that ends the SSO session
	// (it reads the cookie, which the library never sees) and then goes to
	// the validated post-logout redirect.
	LogoutURL func(ctx context.Context, r *op.EndSessionRequest) (string, error)

	AccessTokenLifetime  time.Duration
	IDTokenLifetime      time.Duration
	RefreshTokenLifetime time.Duration
	AuthRequestLifetime  time.Duration
	CodeLifetime         time.Duration

	// ClientCacheTTL is how long a client is served from memory before it
	// is read from storage again (clientcache.go); zero means
	// DefaultClientCacheTTL, negative turns the cache off.
	ClientCacheTTL time.Duration

	Now    func() time.Time
	Logger *slog.Logger
}

// Storage implements op.Storage over storage.Store.
type Storage struct {
	cfg     StorageConfig
	clients *clientCache
	outages storage.Outages // the database away: logged once per burst
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*Storage)(nil)
)

// NewStorage returns the adapter.
func NewStorage(cfg StorageConfig) *Storage {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClientCacheTTL == 0 {
		cfg.ClientCacheTTL = DefaultClientCacheTTL
	}
	return &Storage{cfg: cfg, clients: newClientCache(cfg.Store, cfg.ClientCacheTTL, cfg.Now)}
}

// Client returns a registered client, served from memory for up to
// ClientCacheTTL (clientcache.go). Its slices are shared: do not modify them.
func (s *Storage) Client(ctx context.Context, id string) (storage.Client, error) {
	return s.clients.get(ctx, id)
}

// InvalidateClient makes the next Client(id) read storage: call it after
// changing a client in this process.
func (s *Storage) InvalidateClient(id string) { s.clients.invalidate(id) }

func (s *Storage) now() time.Time { return s.cfg.Now().UTC() }

func hashValue(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

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
	if cs, ok := s.cfg.Store.(CodeSaver); ok {
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

// CodeSaver is a store capability (storage/sqlstore has it): attach a code
// to a completed auth request in one statement, as SaveAuthCode would in a
// transaction.
type CodeSaver interface {
	SaveAuthCode(ctx context.Context, id string, codeHash []byte, expiresAt, now time.Time) error
}

// TokenIssuer is a store capability (storage/sqlstore has it): claim a code
// or a refresh token and store the tokens issued for it in one
// transaction, instead of three writes (claim, access token, refresh
// token), each its own commit. A code's request is kept until keepUntil at
// the same time, which DeleteAuthRequest would do next. The claim errors
// are those of ClaimAuthCode and ClaimRefreshToken.
type TokenIssuer interface {
	ClaimAuthCodeAndIssue(ctx context.Context, codeHash []byte, now, keepUntil time.Time,
		issue func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error)) (storage.AuthRequest, error)
	ClaimRefreshTokenAndIssue(ctx context.Context, hash []byte, now time.Time,
		issue func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error)) (storage.RefreshToken, error)
}

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
// of a TokenIssuer store. It returns the access token and the new refresh
// token's value.
func (s *Storage) issueAtOnce(ctx context.Context, ti TokenIssuer, req op.TokenRequest, currentRefresh string, withRefresh bool) (storage.AccessToken, string, error) {
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
	if ti, ok := s.cfg.Store.(TokenIssuer); ok {
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
	if ti, ok := s.cfg.Store.(TokenIssuer); ok {
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

// TerminateSession is not used: TerminateSessionFromRequest is.
func (s *Storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest hands RP-initiated logout to our logout page,
// which reads the SSO cookie.
func (s *Storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	return s.cfg.LogoutURL(ctx, r)
}

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

// signingKey adapts keys.Signer to op.SigningKey.
type signingKey struct{ s *keys.Signer }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.s.Algorithm }
func (k signingKey) Key() any                                    { return k.s.Key }
func (k signingKey) ID() string                                  { return k.s.ID }

// SigningKey returns the active key from memory.
func (s *Storage) SigningKey(context.Context) (op.SigningKey, error) {
	a, err := s.cfg.Keys.Active()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return signingKey{a}, nil
}

// SignatureAlgorithms lists the algorithm of the active key.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	a, err := s.cfg.Keys.Active()
	if err != nil {
		return nil, err
	}
	return []jose.SignatureAlgorithm{a.Algorithm}, nil
}

// publicKey adapts a JWK to op.Key.
type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string                         { return k.k.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }
func (k publicKey) Use() string                        { return k.k.Use }
func (k publicKey) Key() any                           { return k.k.Key }

// KeySet returns next, active and still-published retired public keys.
func (s *Storage) KeySet(context.Context) ([]op.Key, error) {
	jwks := s.cfg.Keys.PublicJWKS()
	out := make([]op.Key, len(jwks))
	for i, k := range jwks {
		out[i] = publicKey{k}
	}
	return out, nil
}

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
// client sees it, is subject.
func (s *Storage) liveToken(ctx context.Context, tokenID, subject string) (storage.AccessToken, storage.Client, error) {
	t, err := s.cfg.Store.GetAccessToken(ctx, tokenID)
	if err != nil {
		noteFault(ctx, err)
		return t, storage.Client{}, errors.New("access token invalid or revoked")
	}
	c, err := s.Client(ctx, t.ClientID)
	noteFault(ctx, err)
	if err != nil || s.subjectOf(c, t.AccountID) != subject {
		return t, c, errors.New("access token invalid or revoked")
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

// GetPrivateClaimsFromScopes adds nothing to JWT access tokens (ours are opaque).
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID: the JWT profile grant is not offered.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile not supported")
}

// ValidateJWTProfileScopes: the JWT profile grant is not offered.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile not supported")
}

// Health reports whether the database answers.
func (s *Storage) Health(ctx context.Context) error { return s.cfg.Store.Ping(ctx) }
