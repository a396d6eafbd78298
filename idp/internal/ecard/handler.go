package ecard

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// The paths served.
const (
	VerifyPath        = "/ecard/verify"
	LicencePath       = "/ecard/license"
	LicenceVerifyPath = "/ecard/license/verify"
)

// MaxVerifyBody bounds the body of POST /ecard/verify.
const MaxVerifyBody = 4 << 10

// MaxLicenceBody bounds the body of POST /ecard/license/verify (a licence
// JWS is about 1 KB).
const MaxLicenceBody = 16 << 10

// Token is a bearer access token as validated by the OpenID Provider.
type Token struct {
	ClientID      string
	AllowedClaims []string // the client's allow-list of restricted scopes
	AccountID     string   // the citizen; empty for a client credentials token
	Subject       string   // the citizen as the client sees them
	Scopes        []string
}

// ErrInvalidToken means a bearer token is not valid (unknown, expired,
// revoked); Tokens returns it, and any other error means "try again".
var ErrInvalidToken = errors.New("ecard: invalid access token")

// Tokens validates bearer tokens.
type Tokens interface {
	Token(r *http.Request, bearer string) (Token, error)
}

// Signer signs the licence with the node's signing key and names the
// published keys.
type Signer interface {
	SignJWT(typ string, claims any) (string, error)
	PublicJWKS() []jose.JSONWebKey
}

// Store is what the handler reads and writes.
type Store interface {
	GetAccount(ctx context.Context, id string) (storage.Account, error)
	storage.CounterLog
}

// Opener opens an account's sealed number (keys.MasterKey).
type Opener interface {
	Open(sealed, associatedData []byte) ([]byte, error)
}

// Config is what the handler needs. Counter and Licences may each be nil:
// their endpoints are then not registered.
type Config struct {
	Counter  connectors.CounterVerifier
	Licences connectors.LicenceFetcher
	Tokens   Tokens
	Signer   Signer
	Store    Store
	Numbers  Opener
	Issuer   string
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger
}

// Handler serves the e-card APIs.
type Handler struct{ cfg Config }

// New returns the handler of cfg.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg}
}

// Router is where routes are registered (the node's mux).
type Router interface {
	Handle(pattern string, h http.Handler)
}

// Register registers the endpoints the connector serves: counter
// verification with a CounterVerifier, the licence with a LicenceFetcher.
func (h *Handler) Register(r Router) {
	if h.cfg.Counter != nil {
		r.Handle("POST "+VerifyPath, http.HandlerFunc(h.verify))
	}
	if h.cfg.Licences != nil {
		r.Handle("GET "+LicencePath, http.HandlerFunc(h.licence))
		r.Handle("POST "+LicenceVerifyPath, http.HandlerFunc(h.licenceVerify))
	}
}

// The error codes answered besides RFC 6750's.
const (
	errInvalidRequest = "invalid_request"
	errInvalidToken   = "invalid_token"
	errScope          = "insufficient_scope"
	errUnavailable    = "temporarily_unavailable"
	errInvalidCode    = "invalid_code"
	errExpiredCode    = "expired_code"
	errUsedCode       = "used_code"
	errNotFound       = "not_found"
)

// retryAfter is the Retry-After of a 503, in seconds.
const retryAfter = "5"

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// bearer authenticates r's bearer token and checks that it carries scope
// (granted to a client allowed it); on failure it has answered and returns
// the error code answered.
func (h *Handler) bearer(w http.ResponseWriter, r *http.Request, scope string) (Token, string) {
	raw, ok := bearerOf(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardsso"`)
		writeError(w, http.StatusUnauthorized, errInvalidToken, "an access token is required (Authorization: Bearer)")
		return Token{}, errInvalidToken
	}
	t, err := h.cfg.Tokens.Token(r, raw)
	switch {
	case errors.Is(err, ErrInvalidToken):
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardsso", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, errInvalidToken, "the access token is invalid, expired or revoked")
		return Token{}, errInvalidToken
	case err != nil:
		h.cfg.Logger.WarnContext(r.Context(), "e-card: access token", "error", err)
		writeError(w, http.StatusServiceUnavailable, errUnavailable, "try again later")
		return Token{}, errUnavailable
	}
	if !slices.Contains(release.Granted(t.Scopes, t.AllowedClaims), scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cardsso", error="insufficient_scope", scope="`+scope+`"`)
		writeError(w, http.StatusForbidden, errScope, "the access token was not granted "+scope)
		return t, errScope
	}
	return t, ""
}

// bearerOf reads the token of an Authorization: Bearer header (RFC 6750
// §2.1; the scheme is case-insensitive).
func bearerOf(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return "", false
	}
	t := v[7:]
	return t, t != ""
}

// newID is a random identifier (verification ids, licence ids).
func newID() string { return rand.Text() }
