package login

import (
	"context"
	"crypto/rand"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/storage"
)

// Provider is a protocol front end (OpenID Connect, SAML) the login hands a
// request back to. The login itself is protocol-neutral: it reads the stored
// storage.AuthRequest (RequiredACR, Prompt, MaxAge) and answers through this.
type Provider interface {
	// CallbackURL is where a completed request continues.
	CallbackURL(ctx context.Context, authRequestID string) string
	// ReturnError sends the browser back to the relying party with an
	// error, named by its OAuth/OIDC code (login_required,
	// interaction_required, access_denied); a SAML front end maps it to a
	// SAML status.
	ReturnError(w http.ResponseWriter, r *http.Request, authRequestID, code, description string)
	// DisplayName is the relying party's name to show the citizen.
	DisplayName(ctx context.Context, clientID string) string
}

// Protocols of auth requests.
const (
	ProtocolOIDC = "oidc"
	ProtocolSAML = "saml"
)

// Store is the part of storage.Store the login uses.
type Store interface {
	GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, update func(storage.AuthRequest) (storage.AuthRequest, error)) error
	GetClient(ctx context.Context, id string) (storage.Client, error)
	CreateAuthRequest(ctx context.Context, r storage.AuthRequest) error
	DeleteAuthRequest(ctx context.Context, id string) error
	CreateAccount(ctx context.Context, a storage.Account) error
	GetAccount(ctx context.Context, id string) (storage.Account, error)
	GetConsent(ctx context.Context, accountID, clientID string) (storage.Consent, error)
	PutConsent(ctx context.Context, c storage.Consent) error
	IncrementCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error)
	GetCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error)
	ResetCounter(ctx context.Context, key string) error
	DecrementCounter(ctx context.Context, key string) error
	GetAccountBySSNIndex(ctx context.Context, index []byte) (storage.Account, error)
	UpdateAccount(ctx context.Context, id string, update func(storage.Account) (storage.Account, error)) error
	ListSessionsByAccount(ctx context.Context, accountID string) ([]storage.Session, error)
	ListConsents(ctx context.Context, accountID string) ([]storage.Consent, error)
	DeleteConsent(ctx context.Context, accountID, clientID string) error
}

// Sealer protects social security numbers (idp/keys.MasterKey).
type Sealer interface {
	Seal(plaintext, associatedData []byte) ([]byte, error)
	Open(sealed, associatedData []byte) ([]byte, error)
	BlindIndex(value string) []byte
}

// MAC signs and checks short values (CSRF tokens, logout links).
type MAC interface {
	Sum(data []byte) []byte
	Equal(data, mac []byte) bool
}

// Observer counts outcomes for metrics.
type Observer interface {
	// Login counts a login attempt: method is password, register or sso;
	// outcome is success or the reason it failed.
	Login(method, outcome string)
	// Check counts a connector check: check is realname; outcome is
	// match, mismatch or unavailable.
	Check(check, outcome string)
}

// Config is what the login pages need.
type Config struct {
	Store    Store
	Sessions *session.Manager
	// Providers are the protocol front ends by protocol ("oidc", "saml"); a
	// request with an empty protocol is OIDC.
	Providers map[string]Provider
	RealName  connectors.RealNameChecker
	// Card and Face are the real-card and real-person checks; nil when the
	// connector does not offer them (a request that needs them is refused).
	Card connectors.CardChecker
	Face connectors.FaceChecker
	// Tickets, Licences and Bindings are the e-card's QR-code login, its
	// licence data (the card's current status) and the citizen's app
	// bindings (ecard.go); nil when the connector does not offer them.
	Tickets  connectors.LoginTickets
	Licences connectors.LicenceFetcher
	Bindings connectors.BindingAdmin
	Sealer   Sealer
	// CardTTL is how long a real-card check counts before the card's status
	// is asked again. Default 24h.
	CardTTL time.Duration
	// FaceChallengeTTL bounds a face-check challenge. Default 2m.
	FaceChallengeTTL time.Duration
	// FaceMaxFailures failed face checks per account per FaceWindow lock the
	// face check until the window ends. Defaults 5 per hour.
	FaceMaxFailures int
	FaceWindow      time.Duration
	// CSRF signs form tokens; Links signs logout links.
	CSRF  MAC
	Links MAC
	// Password is the argon2id cost for new hashes.
	Password password.Params
	// Hashes bounds the argon2id hashes running at once (each holds
	// Password.MemoryKiB); nil means one per core (GOMAXPROCS), returning
	// the heap to the system 10 s after a burst of logins.
	Hashes *password.Limiter
	// Secure marks cookies Secure (https issuer).
	Secure bool
	// CheckTimeout bounds one connector call. Default 10s.
	CheckTimeout time.Duration

	// HintMatches reports whether a logout hint (an id_token_hint's subject
	// as the protocol front end put it in LogoutURL) names the account; a
	// matching hint logs out without asking.
	HintMatches func(ctx context.Context, hint, accountID string) bool
	// Lockout sets the abuse limits.
	Lockout LockoutConfig
	// Reclaim limits the real-card checks that take a registered number
	// back (reclaim.go).
	Reclaim ReclaimConfig
	// SessionEnded, when set, is called after the citizen's SSO session
	// ended at /logout (RP-initiated or from a page), with the session as it
	// was: the node fans the logout out to the session's other participants
	// (OIDC back-channel logout, SAML single logout). It must not block
	// the citizen's page: slow deliveries belong in the background. The
	// returned URL, when not empty, is where the browser goes next instead
	// of the post-logout redirect (a front-channel SAML logout chain), which
	// receives the original destination as its own continuation.
	SessionEnded func(w http.ResponseWriter, r *http.Request, s storage.Session, next string) string

	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
	Rand     io.Reader
}

// Handler serves the login and logout pages.
type Handler struct {
	cfg       Config
	hashes    *password.Limiter
	forms     *ipLimiter
	tmpl      map[string]*template.Template
	msgs      catalog
	dummyHash string
	outages   storage.Outages // the database away: logged once per burst
	photos    chan struct{}   // photo uploads read at once (face.go)
	steps     []*Step         // the login machine (steps.go)
}

// New prepares templates, messages and the dummy hash for equal timing.
func New(cfg Config) (*Handler, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 10 * time.Second
	}
	if cfg.CardTTL == 0 {
		cfg.CardTTL = 24 * time.Hour
	}
	if cfg.FaceChallengeTTL == 0 {
		cfg.FaceChallengeTTL = 2 * time.Minute
	}
	if cfg.FaceMaxFailures == 0 {
		cfg.FaceMaxFailures = DefaultFaceFailures
	}
	if cfg.FaceWindow == 0 {
		cfg.FaceWindow = DefaultFaceWindow
	}
	cfg.Lockout = cfg.Lockout.withDefaults()
	cfg.Reclaim = cfg.Reclaim.withDefaults()
	if err := cfg.Password.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := loadTemplates()
	if err != nil {
		return nil, fmt.Errorf("login templates: %w", err)
	}
	msgs, err := loadCatalog()
	if err != nil {
		return nil, fmt.Errorf("login messages: %w", err)
	}
	dummy, err := password.Dummy(cfg.Password, cfg.Rand)
	if err != nil {
		return nil, err
	}
	hashes := cfg.Hashes
	if hashes == nil {
		hashes = password.NewLimiter(0)
		hashes.ReturnIdleMemory(10 * time.Second)
	}
	return &Handler{cfg: cfg, hashes: hashes, tmpl: tmpl, msgs: msgs, dummyHash: dummy,
		forms:  newIPLimiter(cfg.Lockout.FormRate, cfg.Lockout.FormBurst),
		photos: make(chan struct{}, photoSlots), steps: steps}, nil
}

// provider is the front end of a request.
func (h *Handler) provider(req storage.AuthRequest) Provider {
	p := req.Protocol
	if p == "" {
		p = ProtocolOIDC
	}
	return h.cfg.Providers[p]
}

type nopObserver struct{}

func (nopObserver) Login(string, string) {}
func (nopObserver) Check(string, string) {}

// Router is where Register mounts the pages (*http.ServeMux is one; the
// server records the routes through it).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Register mounts the pages on mux: the first page, every step's pages
// (Step.Mount), the cancel link, the account and logout pages. Serve mux
// behind BoundBodies, which caps and parses the forms.
func (h *Handler) Register(mux Router) {
	mux.HandleFunc("GET /login", h.start)
	for _, s := range h.steps {
		s.Mount(h, mux)
	}
	mux.HandleFunc("GET "+cancelPath, h.cancel)
	mux.HandleFunc("GET /account", h.getAccount)
	mux.HandleFunc("POST /account/card", h.limitForms(h.postAccountCard))
	mux.HandleFunc("POST /account/session/end", h.postAccountEndSession)
	mux.HandleFunc("POST /account/consent/withdraw", h.postAccountWithdraw)
	mux.HandleFunc("GET "+accountECardPath, h.getAccountECard)
	mux.HandleFunc("POST "+revokePath, h.postAccountRevokeBinding)
	mux.HandleFunc("GET /logout", h.getLogout)
	mux.HandleFunc("POST /logout", h.postLogout)
	mux.HandleFunc("GET /logout/done", h.loggedOut)
}
