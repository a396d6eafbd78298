package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

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

// TerminateSession is not used: TerminateSessionFromRequest is.
func (s *Storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest hands RP-initiated logout to our logout page,
// which reads the SSO cookie.
func (s *Storage) TerminateSessionFromRequest(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	return s.cfg.LogoutURL(ctx, r)
}

// GetPrivateClaimsFromScopes adds the granted scopes to JWT access tokens
// (client credentials; the others are opaque), as the token endpoint's
// own path does (appendCCClaims): APIs such as POST /ecard/verify read them.
func (s *Storage) GetPrivateClaimsFromScopes(_ context.Context, _, _ string, scopes []string) (map[string]any, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	return map[string]any{"scope": strings.Join(scopes, " ")}, nil
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
