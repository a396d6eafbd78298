package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// ProviderConfig configures the OpenID Provider.
type ProviderConfig struct {
	Issuer string
	// CryptoKey encrypts opaque access tokens (and codes); every node of a
	// deployment must share it, so derive it from the master key.
	CryptoKey [32]byte
	Storage   *Storage
	// OriginsTTL is how long the set of registered origins is cached for
	// CORS decisions. Default 30s.
	OriginsTTL time.Duration
}

// Provider is the OpenID Provider with the hooks the login pages need.
type Provider struct {
	op        *op.Provider
	storage   *Storage
	origins   *origins
	discovery *discovery
	sso       SessionAnswerer // authorize.go
}

// NewProvider builds the provider. An http issuer is accepted only for
// loopback hosts (development); config validation refuses the rest.
func NewProvider(cfg ProviderConfig) (*Provider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	orig := &origins{store: cfg.Storage, ttl: cfg.OriginsTTL, now: cfg.Storage.cfg.Now}
	if orig.ttl == 0 {
		orig.ttl = 30 * time.Second
	}
	conf := &op.Config{
		CryptoKey:             cfg.CryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.SimplifiedChinese, language.English},
		SupportedScopes: []string{
			oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess, release.ScopeCard, release.ScopeSSN, release.ScopeLicense,
		},
		SupportedClaims: []string{
			"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp",
			"at_hash", "c_hash", "name", "ssn_masked", "card_region", "card_status", "ssn", "verified_claims", "sid",
		},
	}
	crypto, err := newTokenCrypto(cfg.CryptoKey)
	if err != nil {
		return nil, err
	}
	opts := []op.Option{
		op.WithCrypto(crypto),
		op.WithCORSOptions(&cors.Options{
			AllowedMethods:  []string{http.MethodGet, http.MethodHead, http.MethodPost},
			AllowedHeaders:  []string{"Accept", "Accept-Language", "Authorization", "Content-Type"},
			AllowOriginFunc: orig.allowed,
		}),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms("ES256", "RS256", "EdDSA")),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms("ES256", "RS256", "EdDSA")),
	}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewProvider(conf, cfg.Storage, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, err
	}
	prov := &Provider{op: p, storage: cfg.Storage, origins: orig}
	prov.discovery = &discovery{p: prov}
	return prov, nil
}

// Handler serves discovery, authorize, token, userinfo, introspection,
// revocation, end_session and keys.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	// The issuer in the context is what the id_token_hint verifier checks
	// the hint's iss against (without it no hint verifies).
	mux.Handle(p.op.AuthorizationEndpoint().Relative(), p.IssuerInterceptor(captureClaims(http.HandlerFunc(p.authorize))))
	mux.Handle(p.op.AuthorizationEndpoint().Relative()+"/callback", p.IssuerInterceptor(http.HandlerFunc(p.callback))) // authorize.go
	mux.Handle(p.op.TokenEndpoint().Relative(), uncached(&tokenEndpoint{p: p, next: reportFaults(p.op)}))              // clientcredentials.go
	mux.Handle(p.op.UserinfoEndpoint().Relative(), reportFaults(p.op))
	// A revocation the store could not carry out is 503, not the 200 of an
	// unknown token (RFC 7009 §2.2 answers 200 for those only).
	mux.Handle(p.op.RevocationEndpoint().Relative(), reportAllFaults(p.op))
	mux.HandleFunc(p.op.IntrospectionEndpoint().Relative(), p.introspect) // introspect.go
	mux.Handle("/", p.op)
	return noFraming(mux)
}

// uncached marks every answer of the token endpoint, tokens and errors, for
// every grant, as not to be stored by any cache (RFC 6749 §5.1, §5.2):
// Cache-Control: no-store and, for HTTP/1.0 caches, Pragma: no-cache. The
// headers are set before the handler runs, so that no path (the library's
// grants, ours, the 503 of a store fault) can answer without them.
func uncached(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = noStore
		h["Pragma"] = pragmaNoCache
		next.ServeHTTP(w, r)
	})
}

// frameCSP forbids framing (CSP Level 2 frame-ancestors). It allows the
// library's form_post page its inline onload, which submits the code to the
// relying party.
var frameCSP = []string{"frame-ancestors 'none'; base-uri 'none'"}

var frameDeny = []string{"DENY"}

// noFraming forbids every page of the provider to be framed: the form_post
// response (response_mode=form_post, OAuth 2.0 Form Post Response Mode),
// served from the authorization endpoint and its callback, carries a code
// and submits itself; framed by another site it could be clickjacked or
// read. X-Frame-Options: DENY for browsers without CSP frame-ancestors.
func noFraming(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = frameCSP
		h["X-Frame-Options"] = frameDeny
		next.ServeHTTP(w, r)
	})
}

// Routes are the endpoints Handler serves that take a request body, as
// "METHOD /path" (the bodies test posts to each).
func (p *Provider) Routes() []string {
	var out []string
	for _, ep := range []*op.Endpoint{p.op.AuthorizationEndpoint(), p.op.TokenEndpoint(), p.op.UserinfoEndpoint(),
		p.op.IntrospectionEndpoint(), p.op.RevocationEndpoint(), p.op.EndSessionEndpoint()} {
		out = append(out, http.MethodPost+" "+ep.Relative())
	}
	return out
}

// IssuerInterceptor puts the issuer into the request context, as the
// provider's own handlers have it; wrap the login pages with it.
func (p *Provider) IssuerInterceptor(h http.Handler) http.Handler {
	return op.NewIssuerInterceptor(p.op.IssuerFromRequest).Handler(h)
}

// CallbackURL is where the login sends the browser when a request is done.
func (p *Provider) CallbackURL(ctx context.Context, authRequestID string) string {
	return op.AuthCallbackURL(p.op)(ctx, authRequestID)
}

// Login errors the login pages can return to the relying party.
const (
	ErrLoginRequired       = "login_required"
	ErrInteractionRequired = "interaction_required"
	ErrAccessDenied        = "access_denied"
)

// ReturnError sends the browser back to the relying party's redirect URI with
// an OAuth error (OIDC Core §3.1.2.6), e.g. login_required for prompt=none.
func (p *Provider) ReturnError(w http.ResponseWriter, r *http.Request, authRequestID, code, description string) {
	req, err := p.storage.AuthRequestByID(r.Context(), authRequestID)
	if err != nil {
		op.AuthRequestError(w, r, nil, err, p.op)
		return
	}
	var e *oidc.Error
	switch code {
	case ErrLoginRequired:
		e = oidc.ErrLoginRequired()
	case ErrInteractionRequired:
		e = oidc.ErrInteractionRequired()
	case ErrAccessDenied:
		e = oidc.ErrAccessDenied()
	case "consent_required":
		e = &oidc.Error{ErrorType: "consent_required"} // OIDC Core §3.1.2.6; the library has no constructor
	default:
		e = oidc.ErrServerError()
	}
	if description != "" {
		e = e.WithDescription("%s", description)
	}
	_ = p.storage.cfg.Store.DeleteAuthRequest(r.Context(), authRequestID)
	op.AuthRequestError(w, r, req, e, p.op)
}

// ConsentScopes implements login.Consenter: the scopes a request would
// release after the release policy, and whether its client is first party
// (no consent asked).
func (p *Provider) ConsentScopes(ctx context.Context, req storage.AuthRequest) ([]string, bool, error) {
	c, err := p.storage.Client(ctx, req.ClientID)
	if err != nil {
		return nil, false, err
	}
	return release.Granted(req.Scopes, c.AllowedClaims), c.FirstParty, nil
}

// DisplayName is the client's registered name (its id when it has none).
func (p *Provider) DisplayName(ctx context.Context, clientID string) string {
	c, err := p.storage.Client(ctx, clientID)
	if err != nil || c.Name == "" {
		return clientID
	}
	return c.Name
}

// origins caches the origins of every registered redirect URI for CORS.
type origins struct {
	store *Storage
	ttl   time.Duration
	now   func() time.Time

	mu      sync.Mutex
	set     map[string]bool
	expires time.Time
}

func (o *origins) allowed(origin string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.set == nil || now.After(o.expires) {
		set, err := o.load()
		if err != nil {
			slog.Error("cors: load client origins", "error", err)
			if o.set == nil {
				return false
			}
		} else {
			o.set, o.expires = set, now.Add(o.ttl)
		}
	}
	return o.set[strings.ToLower(origin)]
}

func (o *origins) load() (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	clients, err := o.store.cfg.Store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool)
	for _, c := range clients {
		for _, ru := range c.RedirectURIs {
			if origin, ok := originOf(ru); ok {
				set[origin] = true
			}
		}
	}
	return set, nil
}

// originOf returns scheme://host[:port] of an http(s) URL, lowercased.
func originOf(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}
