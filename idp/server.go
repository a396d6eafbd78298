package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/time/rate"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/idp/internal/clientip"
	"github.com/cardsso/cardsso/idp/internal/ecard"
	"github.com/cardsso/cardsso/idp/internal/login"
	"github.com/cardsso/cardsso/idp/internal/logout"
	cardoidc "github.com/cardsso/cardsso/idp/internal/oidc"
	cardsaml "github.com/cardsso/cardsso/idp/internal/saml"
	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/idp/keys"
)

// Server is one CardSSO node.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     Store
	readiness readiness
	patterns  []string // the routes registered (bodies.go)
	keys      *keys.Manager
	provider  *cardoidc.Provider
	metrics   *metrics
	// metricsHandler serves the registry of metrics: on the main mux, or
	// by ServeMetrics when Config.MetricsAddr is set.
	metricsHandler http.Handler
	handler        http.Handler

	// SAML identity provider (idp/internal/saml) and the logout fan-out (idp/internal/logout).
	saml     *cardsaml.Provider
	samlKeys *keys.Manager
	logout   *logout.Fanout
	ecard    *ecard.Handler // nil: the connector has no e-card (ecard.go)

	closeOnce sync.Once
}

// Parts are the opened components a node is assembled from; cmd/cardsso
// opens them from the configuration (docs/architecture.md, "The parts").
type Parts struct {
	// Store is the database, opened and migrated. The Server owns it from
	// a successful New on (Close closes it); on error it is left open for
	// the caller to close.
	Store Store
	// Checks are the connector's identity checks; its card and face checks
	// are found by type assertion (connectors.CardChecker,
	// connectors.FaceChecker).
	Checks connectors.RealNameChecker
	// MasterKey is the key source: it seals personal data and private keys
	// and derives every other secret of the node (OpenMasterKey reads it
	// as master_key.* says).
	MasterKey *keys.MasterKey
}

// New assembles a node from cfg and the opened parts: signing keys, the
// OpenID Provider, the SAML identity provider, the logout fan-out, the
// login pages and the operability endpoints.
func New(ctx context.Context, cfg Config, p Parts) (_ *Server, err error) {
	if p.Store == nil || p.Checks == nil || p.MasterKey == nil {
		return nil, errors.New("idp: New needs a store, a connector and the master key")
	}
	cfg = withDefaults(cfg)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := NodeLogger(cfg.Logger)
	cfg.Logger = log
	s := &Server{cfg: cfg, log: log, metrics: newMetrics(), readiness: readiness{log: log}, store: p.Store}
	mk := p.MasterKey
	if err := s.initKeys(ctx, mk); err != nil {
		return nil, err
	}
	issuer, _ := url.Parse(cfg.Issuer)
	secure := issuer.Scheme == "https"
	sessions := session.New(samlSessionStore(s.store, mk, cfg), session.Config{
		CookieName: cfg.Session.CookieName, Secure: secure,
		Lifetime: cfg.Session.Lifetime, IdleTimeout: cfg.Session.IdleTimeout, Now: cfg.Now,
	})
	var pages *login.Handler // the provider's storage hands logout to the pages
	oidcStore, err := s.newOIDC(mk, func(redirect, hint string) string { return pages.LogoutURL(redirect, hint) })
	if err != nil {
		return nil, err
	}
	s.logout = logout.New(logout.Config{
		Clients: s.store, Tokens: oidcStore, Issuer: cfg.Issuer, Logger: log,
		Timeout: cfg.Logout.BackchannelTimeout, Attempts: cfg.Logout.BackchannelAttempts, Backoff: cfg.Logout.BackchannelBackoff,
	})
	defer func() {
		if err != nil {
			s.logout.Close()
		}
	}()
	if s.saml, err = newSAMLProvider(cfg, s.store, mk, s.samlKeys, sessions, s.logout); err != nil {
		return nil, err
	}
	if pages, err = s.newPages(mk, sessions, checkersOf(p.Checks), oidcStore, secure); err != nil {
		return nil, err
	}
	s.provider.AnswerFromSessions(pages) // a live SSO session answers /authorize at once
	s.saml.AnswerFromSessions(pages)     // … and an AuthnRequest
	s.ecard = s.newECard(mk, p.Checks)
	if s.handler, err = s.routes(pages, p.Checks); err != nil {
		return nil, err
	}
	return s, nil
}

// initKeys loads (creating on first start) the signing keys of both uses:
// OIDC tokens and SAML.
func (s *Server) initKeys(ctx context.Context, mk *keys.MasterKey) (err error) {
	if s.keys, err = newKeyManager(s.store, mk, s.cfg); err != nil {
		return err
	}
	if err := s.keys.Init(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if s.samlKeys, err = newSAMLKeyManager(s.store, mk, s.cfg); err != nil {
		return err
	}
	if err := s.samlKeys.Init(ctx); err != nil {
		return fmt.Errorf("saml signing keys: %w", err)
	}
	return nil
}

// newOIDC builds the OpenID Provider (s.provider) over its storage
// adapter, which it returns; logoutURL is the logout page's signed link.
func (s *Server) newOIDC(mk *keys.MasterKey, logoutURL func(redirect, hint string) string) (*cardoidc.Storage, error) {
	cfg := s.cfg
	oidcStore := cardoidc.NewStorage(cardoidc.StorageConfig{
		Store:         s.store,
		Keys:          s.keys,
		ClientSecrets: mk.MAC(keys.PurposeClientSecret),
		LoginURL:      login.LoginURL,
		LogoutURL: func(_ context.Context, r *op.EndSessionRequest) (string, error) {
			hint := ""
			if r.UserID != "" {
				hint = r.ClientID + " " + r.UserID
			}
			return logoutURL(r.RedirectURI, hint), nil
		},
		PairwiseKey:          mk.Derive(purposePairwise, 32),
		Numbers:              mk,
		CardTTL:              cfg.Checks.CardTTL,
		Aliases:              samlAliases(cfg), // one alias table for both protocols (saml.acr_aliases)
		AccessTokenLifetime:  cfg.Tokens.AccessTokenLifetime,
		IDTokenLifetime:      cfg.Tokens.IDTokenLifetime,
		RefreshTokenLifetime: cfg.Tokens.RefreshTokenLifetime,
		AuthRequestLifetime:  cfg.Tokens.AuthRequestLifetime,
		CodeLifetime:         cfg.Tokens.CodeLifetime,
		Now:                  cfg.Now,
		Logger:               s.log,
	})
	var cryptoKey [32]byte
	copy(cryptoKey[:], mk.Derive(keys.PurposeOIDCCrypto, 32))
	var err error
	s.provider, err = cardoidc.NewProvider(cardoidc.ProviderConfig{
		Issuer: cfg.Issuer, CryptoKey: cryptoKey, Storage: oidcStore,
	})
	if err != nil {
		return nil, fmt.Errorf("openid provider: %w", err)
	}
	return oidcStore, nil
}

// newPages builds the login pages over both protocol front ends.
func (s *Server) newPages(mk *keys.MasterKey, sessions *session.Manager, chk checkers, oidcStore *cardoidc.Storage, secure bool) (*login.Handler, error) {
	cfg := s.cfg
	l := cfg.Lockout
	pages, err := login.New(login.Config{
		Store: s.store, Sessions: sessions, SessionEnded: s.logout.SessionEnded, // SAML: the logout fan-out
		Providers: map[string]login.Provider{login.ProtocolOIDC: s.provider, login.ProtocolSAML: s.saml},
		RealName:  chk.realName, Card: chk.card, Face: chk.face, CardTTL: cfg.Checks.CardTTL,
		Tickets: chk.tickets, Licences: chk.licences, Bindings: chk.bindings,
		Sealer: mk, CSRF: mk.MAC(keys.PurposeCSRF), Links: mk.MAC(purposeLinks),
		Password: cfg.Password.params(), Secure: secure,
		Observer: s.metrics, Logger: s.log, Now: cfg.Now,
		HintMatches: oidcStore.HintMatches,
		Lockout: login.LockoutConfig{
			PasswordFailures: l.PasswordFailures, PasswordWindow: l.PasswordWindow, PasswordPerIP: l.PasswordPerIP,
			PasswordDelayAfter: l.PasswordDelayAfter, PasswordDelay: l.PasswordDelay, PasswordMaxDelay: l.PasswordMaxDelay,
			RealNamePerNumber: l.RealNamePerNumber, RealNamePerIP: l.RealNamePerIP, RealNameWindow: l.RealNameWindow,
			CardPerAccount: l.CardPerAccount, CardPerIP: l.CardPerIP, CardWindow: l.CardWindow,
			FormRate: rate.Limit(l.FormRate), FormBurst: l.FormBurst,
		},
		FaceMaxFailures: l.FaceFailures, FaceWindow: l.FaceWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("login pages: %w", err)
	}
	return pages, nil
}

// routes is the node's handler: the operability endpoints, the login
// pages, SAML and OpenID Connect, behind the body caps, the client address
// and the request log.
func (s *Server) routes(pages *login.Handler, checks connectors.RealNameChecker) (http.Handler, error) {
	cfg := s.cfg
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.ready)
	var gather prometheus.Gatherer = s.metrics.reg
	if cfg.ExtraMetrics != nil {
		gather = prometheus.Gatherers{s.metrics.reg, cfg.ExtraMetrics}
	}
	s.metricsHandler = promhttp.HandlerFor(gather, promhttp.HandlerOpts{})
	if cfg.MetricsAddr == "" {
		mux.Handle("GET /metrics", s.metricsHandler)
	} else {
		mux.Handle("/metrics", http.NotFoundHandler()) // served by ServeMetrics only
	}
	loginMux := http.NewServeMux()
	pages.Register(routes{loginMux, &s.patterns})
	for _, p := range pagePrefixes { // bodies.go
		mux.Handle(p, s.provider.IssuerInterceptor(pages.BoundBodies(loginMux)))
		mux.Handle(p+"/", s.provider.IssuerInterceptor(pages.BoundBodies(loginMux)))
	}
	s.saml.Register(routes{mux, &s.patterns}) // SAML: /saml/metadata, /saml/sso, /saml/slo, /saml/idp-initiated …
	mux.Handle("GET /.well-known/openid-configuration", s.provider.Discovery())
	mux.Handle("GET "+s.provider.KeysPath(), s.provider.JWKS())
	if app, ok := checks.(appAPI); ok { // the simulator: the e-card app's side of the platform
		routes{mux, &s.patterns}.Handle(AppAPIPath+"/", http.StripPrefix(AppAPIPath, app.AppHandler()))
	}
	if s.ecard != nil { // the e-card APIs: /ecard/verify, /ecard/license …
		s.ecard.Register(routes{mux, &s.patterns})
	}
	mux.Handle("/", s.provider.Handler())
	clients, err := clientip.New(cfg.TrustedProxies, cfg.ClientIPHeader) // checked in cfg.check
	if err != nil {
		return nil, err
	}
	return capBodies(clients.Handler(s.observe(mux))), nil // observe must hand mux its own request (routeOf reads r.Pattern)
}

// AppAPIPath is where a node serves the e-card app API of a connector that
// has one in process (the simulator: connectors/ecardapp), so that
// `cardsso serve` alone can demo the e-card with examples/ecard-app. A
// networked card platform serves its own.
const AppAPIPath = "/ecard-sim"

// appAPI is a connector that serves the e-card app API itself.
type appAPI interface{ AppHandler() http.Handler }

// checkers are the identity checks of the configured connector; card and
// face are nil when it does not offer them.
type checkers struct {
	realName connectors.RealNameChecker
	card     connectors.CardChecker
	face     connectors.FaceChecker
	// The e-card (connectors/ecard.go): QR login, licence data, bindings.
	tickets  connectors.LoginTickets
	licences connectors.LicenceFetcher
	bindings connectors.BindingAdmin
}

func checkersOf(c connectors.RealNameChecker) checkers {
	out := checkers{realName: c}
	out.card, _ = c.(connectors.CardChecker)
	out.face, _ = c.(connectors.FaceChecker)
	out.tickets, _ = c.(connectors.LoginTickets)
	out.licences, _ = c.(connectors.LicenceFetcher)
	out.bindings, _ = c.(connectors.BindingAdmin)
	return out
}

// ready answers 200 while the database answers, 503 otherwise.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if why := s.readiness.check(ctx, s.store); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(why + "\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Readiness means "this node can log citizens in": the database answers
// (Ping) and takes writes now (a write probe, at most every probeEvery), and
// no write failed for want of space, a writable file system or I/O within
// writeFaultHold (a full database still takes the probe's small row while
// a login's writes fail). docs/operations.md, "When things fail".
const (
	probeEvery     = 2 * time.Second
	writeFaultHold = 15 * time.Second
)

// readiness caches the write probe so that a balancer polling often costs
// one write per probeEvery.
type readiness struct {
	mu     sync.Mutex
	at     time.Time
	result string
	log    *slog.Logger
	now    func() time.Time // nil: time.Now
}

// writeHealth is what readiness asks of the store.
type writeHealth interface {
	Ping(ctx context.Context) error
	ProbeWrite(ctx context.Context) error
	LastWriteFault() time.Time
}

func (rd *readiness) check(ctx context.Context, st writeHealth) string {
	now := time.Now
	if rd.now != nil {
		now = rd.now
	}
	if err := st.Ping(ctx); err != nil {
		rd.log.WarnContext(ctx, "not ready: database unreachable", "error", err)
		return "database unreachable"
	}
	if t := st.LastWriteFault(); !t.IsZero() && now().Sub(t) < writeFaultHold {
		return "database cannot take writes (disk full, read-only or I/O error)"
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if !rd.at.IsZero() && now().Sub(rd.at) < probeEvery {
		return rd.result
	}
	rd.result = ""
	if err := st.ProbeWrite(ctx); err != nil {
		rd.log.WarnContext(ctx, "not ready: database write probe failed", "error", err)
		rd.result = "database cannot take writes"
	}
	rd.at = now()
	return rd.result
}

// Handler is the node's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Issuer is the issuer URL.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Addr is the configured listen address.
func (s *Server) Addr() string { return s.cfg.Addr }

// Background runs the node's background work until ctx is done: signing key
// refresh and scheduled rotation (compare-and-swap across nodes), and the
// collection of expired rows (safe on every node at once).
func (s *Server) Background(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.keys.Run(ctx, s.cfg.Keys.RefreshInterval) })
	wg.Go(func() { s.samlKeys.Run(ctx, s.cfg.Keys.RefreshInterval) })
	wg.Go(func() { s.collect(ctx, collectEvery) })
	wg.Wait()
}

// collectEvery is how often expired rows are collected: often, in small
// batches (each a short statement of its own, storage/sqlstore expire.go),
// so that rows never pile up under load and no run holds the database long.
const collectEvery = 15 * time.Second

func (s *Server) collect(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.store.DeleteExpired(ctx, s.cfg.Now())
			if err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "collect expired rows", "error", err)
			} else if n > 0 {
				s.log.InfoContext(ctx, "collected expired rows", "rows", n)
			}
		}
	}
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// in-flight requests finish (up to 30 s), background work stops. It does not
// close the database; call Close after it returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer(s.handler)
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { s.Background(bg); close(done) }()
	err := serveUntil(ctx, srv, ln, func() { s.log.Info("shutting down: finishing in-flight requests") })
	stopBG()
	<-done
	return err
}

// httpServer is an http.Server for h with the node's timeouts and error
// log (the main listener and the metrics one alike).
func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// serveUntil serves srv on ln until it fails or ctx is cancelled, then
// shuts it down gracefully: requests in flight get up to 30 s.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, stopping func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		stopping()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ServeMetrics serves GET /metrics (and nothing else: 404) on ln until ctx
// is cancelled, then shuts down gracefully like Serve. It is for
// Config.MetricsAddr, which takes /metrics off the main listener; run it
// next to Serve with the same ctx.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metricsHandler)
	srv := s.httpServer(mux)
	return serveUntil(ctx, srv, ln, func() {})
}

// Close releases the database. It is safe to call more than once.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.logout.Close() // logout tokens in flight
		err = s.store.Close()
	})
	return err
}
