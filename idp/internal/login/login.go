package login

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/policies/assurance"
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

// Completer is a store capability (storage/sqlstore has it): record the
// authentication that completes an auth request in one statement, as
// UpdateAuthRequest would in a transaction: set Done, AccountID,
// SessionID, AuthTime, ACR and AMR and drop the login state, unless the
// request was completed for another account (an error) or is gone
// (storage.ErrNotFound).
type Completer interface {
	CompleteAuthRequest(ctx context.Context, id, accountID, sessionID string, authTime time.Time, acr string, amr []string, now time.Time) error
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
	Card   connectors.CardChecker
	Face   connectors.FaceChecker
	Sealer Sealer
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
		cfg.FaceMaxFailures = 5
	}
	if cfg.FaceWindow == 0 {
		cfg.FaceWindow = time.Hour
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
		photos: make(chan struct{}, photoSlots)}, nil
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

// Register mounts the pages on mux. Serve mux behind BoundBodies, which
// caps and parses the forms.
// Router is where Register mounts the pages (*http.ServeMux is one; the
// server records the routes through it).
type Router interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

func (h *Handler) Register(mux Router) {
	mux.HandleFunc("GET /login", h.start)
	mux.HandleFunc("POST /login/password", h.limitForms(h.postPassword))
	mux.HandleFunc("POST /login/register", h.limitForms(h.postRegister))
	mux.HandleFunc("GET /login/password-setup", h.getSetup)
	mux.HandleFunc("POST /login/password-setup", h.postSetup)
	mux.HandleFunc("GET "+reclaimPath, h.getReclaim)
	mux.HandleFunc("POST "+reclaimPath, h.limitForms(h.postReclaim))
	mux.HandleFunc("GET /login/card", h.getCard)
	mux.HandleFunc("POST /login/card", h.limitForms(h.postCard))
	mux.HandleFunc("GET /login/face", h.getFaceConsent)
	mux.HandleFunc("POST /login/face/consent", h.postFaceConsent)
	mux.HandleFunc("GET /login/face/photo", h.getFacePhoto)
	mux.HandleFunc("POST /login/face/photo", h.postFacePhoto)
	mux.HandleFunc("GET /login/cancel", h.cancel)
	mux.HandleFunc("GET /login/consent", h.getConsent)
	mux.HandleFunc("POST /login/consent", h.postConsent)
	mux.HandleFunc("GET /account", h.getAccount)
	mux.HandleFunc("POST /account/card", h.limitForms(h.postAccountCard))
	mux.HandleFunc("POST /account/session/end", h.postAccountEndSession)
	mux.HandleFunc("POST /account/consent/withdraw", h.postAccountWithdraw)
	mux.HandleFunc("GET /logout", h.getLogout)
	mux.HandleFunc("POST /logout", h.postLogout)
	mux.HandleFunc("GET /logout/done", h.loggedOut)
}

// LoginURL is the first page for an auth request.
func LoginURL(authRequestID string) string {
	return "/login?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

// state is the login's record on the auth request (storage.AuthRequest.LoginState).
type state struct {
	// Pending is a registration whose real-name check passed and whose
	// password is not set yet.
	Pending *pending `json:"pending,omitempty"`
	// Auth is an authentication in progress: the citizen is identified and
	// further checks (steps) may follow before the request completes.
	Auth *authState `json:"auth,omitempty"`
	// Challenge is the single-use face-check challenge of this attempt.
	Challenge *challenge `json:"challenge,omitempty"`
}

type authState struct {
	AccountID string    `json:"account_id"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	// SessionID is set when an existing SSO session answers the request
	// (FromSession) or is stepped up.
	SessionID   string `json:"session_id,omitempty"`
	FromSession bool   `json:"from_session,omitempty"`
	// Stepped is set when this login added a check to a session's
	// authentication (a new auth_time).
	Stepped     bool `json:"stepped,omitempty"`
	FaceConsent bool `json:"face_consent,omitempty"`
	Consented   bool `json:"consented,omitempty"`
	FacePassed  bool `json:"face_passed,omitempty"`
}

type challenge struct {
	Value     string    `json:"value"`
	ExpiresAt time.Time `json:"expires_at"`
}

type pending struct {
	AccountID  string    `json:"account_id"`
	Name       string    `json:"name"`
	SSNSealed  []byte    `json:"ssn_sealed"`
	SSNIndex   []byte    `json:"ssn_index"`
	SSNMasked  string    `json:"ssn_masked"`
	CardRegion string    `json:"card_region,omitempty"`
	VerifiedAt time.Time `json:"verified_at"`
	// ReclaimHash, when set, marks a registration of a number that is
	// registered already: the password hash the citizen chose, set on the
	// account only if they pass the real-card check (reclaim.go).
	ReclaimHash string `json:"reclaim_hash,omitempty"`
}

func decodeState(b []byte) (state, error) {
	var s state
	if len(b) == 0 {
		return s, nil
	}
	err := json.Unmarshal(b, &s)
	return s, err
}

// loadRequest finds the auth request named by the form or query, or answers
// with the "expired" page.
func (h *Handler) loadRequest(w http.ResponseWriter, r *http.Request) (storage.AuthRequest, bool) {
	id := r.FormValue("authRequestID")
	if id == "" {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return storage.AuthRequest{}, false
	}
	req, err := h.cfg.Store.GetAuthRequest(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return req, false
	}
	if err != nil {
		h.internal(w, r, "load auth request", err)
		return req, false
	}
	if !h.cfg.Sessions.BoundTo(r, req.BrowserHash) {
		h.OtherBrowser(w, r)
		return req, false
	}
	return req, true
}

// A login belongs to the browser that started it (docs/security.md §1): the
// protocol front ends bind each new auth request to the browser's binding
// cookie (Bind), and every login step, and the protocol callback, refuses a
// request presented by another browser (BoundTo, OtherBrowser). Without it,
// a link to a half-finished login lets whoever follows it complete someone
// else's sign-in in their own browser.

// Bind returns the binding hash to store on a new auth request for the
// browser of r (setting its binding cookie when it has none).
func (h *Handler) Bind(w http.ResponseWriter, r *http.Request) []byte {
	return h.cfg.Sessions.Bind(w, r)
}

// BoundTo reports whether r comes from the browser with the binding hash.
func (h *Handler) BoundTo(r *http.Request, hash []byte) bool {
	return h.cfg.Sessions.BoundTo(r, hash)
}

// OtherBrowser answers a login step or callback for a request that another
// browser started: 403 and a page saying to start again from the portal.
func (h *Handler) OtherBrowser(w http.ResponseWriter, r *http.Request) {
	h.cfg.Observer.Login("form", "other_browser")
	h.cfg.Logger.WarnContext(r.Context(), "login step from another browser refused", "path", r.URL.Path)
	h.message(w, r, http.StatusForbidden, "err.title", "err.otherbrowser", "")
}

// HoldsSession reports whether the browser's live SSO session is the one
// with this id (a storage fault counts as no).
func (h *Handler) HoldsSession(r *http.Request, sessionID string) bool {
	s, live, err := h.cfg.Sessions.Current(r)
	return err == nil && live && sessionID != "" && s.ID == sessionID
}

// Expired answers a callback for an unknown, expired or already answered
// request.
func (h *Handler) Expired(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		// The database is away or hung: say "try again shortly", not
		// "something is wrong" (docs/operations.md, "When things fail").
		h.outages.Note(r.Context(), h.cfg.Logger, what, err)
		h.cfg.Observer.Login("form", "unavailable")
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "err.store_unavailable", "")
		return
	}
	h.cfg.Logger.ErrorContext(r.Context(), what, "error", err)
	h.message(w, r, http.StatusInternalServerError, "err.title", "err.internal", "")
}

// start is the first page: SSO when a session satisfies the request, the
// login and registration forms otherwise.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if req.Done {
		http.Redirect(w, r, h.provider(req).CallbackURL(ctx, req.ID), http.StatusFound)
		return
	}
	sess, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	st, err := decodeState(req.LoginState)
	if err != nil {
		h.internal(w, r, "decode login state", err)
		return
	}
	if st.Auth != nil {
		h.next(w, r, req.ID)
		return
	}
	if live && h.satisfies(ctx, req, sess) {
		// Single sign-on: the citizen is known from the session; the steps
		// decide whether anything is missing (a higher level, consent).
		st.Auth = &authState{AccountID: sess.AccountID, AuthTime: sess.AuthTime, AMR: sess.AMR,
			SessionID: sess.ID, FromSession: true, FacePassed: slices.Contains(sess.AMR, assurance.AMRFace)}
		h.proceed(w, r, req, st, true, &sess)
		return
	}
	if slices.Contains(req.Prompt, "none") {
		h.cfg.Observer.Login("sso", "login_required")
		h.provider(req).ReturnError(w, r, req.ID, "login_required", "")
		return
	}
	if st.Pending != nil && st.Pending.ReclaimHash != "" {
		http.Redirect(w, r, stepURL(reclaimPath, req.ID), http.StatusFound)
		return
	}
	if st.Pending != nil {
		http.Redirect(w, r, "/login/password-setup?"+url.Values{"authRequestID": {req.ID}}.Encode(), http.StatusFound)
		return
	}
	h.renderLogin(w, r, req, http.StatusOK, "", nil)
}

// SingleSignOn answers a new request from the browser's live SSO session
// when no page is needed: the session satisfies max_age, the account meets
// the required level as the session stands (no real-card re-check, no face
// step, no step-up), no consent is to be asked, and the level the session
// records is the one the account has now. It then records the request's
// client in the session and returns the request completed as complete()
// would store it, and the session, for the protocol front end to answer at
// once (one write instead of a login page and a callback). ok is false,
// with nothing written, when the request needs the login pages (start
// decides again).
func (h *Handler) SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error) {
	if isSelf(req) || slices.Contains(req.Prompt, "login") || slices.Contains(req.Prompt, "consent") ||
		slices.Contains(req.Prompt, "select_account") {
		return req, storage.Session{}, false, nil
	}
	ctx := r.Context()
	sess, live, err := h.cfg.Sessions.Current(r)
	if err != nil || !live || !h.satisfies(ctx, req, sess) {
		return req, storage.Session{}, false, err
	}
	acct, err := h.cfg.Store.GetAccount(ctx, sess.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return req, storage.Session{}, false, nil // the login pages say what happened
	}
	if err != nil {
		return req, storage.Session{}, false, err
	}
	face := slices.Contains(sess.AMR, assurance.AMRFace) // as start sets FacePassed
	if step, err := h.stepNeeded(ctx, req, acct, face); err != nil || step != "" {
		return req, storage.Session{}, false, err
	}
	if h.levelOf(acct, face).ACR() != sess.ACR {
		return req, storage.Session{}, false, nil // the session's level changes: finish records it
	}
	participant := req.ClientID
	if req.Protocol == ProtocolSAML {
		participant = "saml:" + req.ClientID
	}
	if err := h.cfg.Sessions.Touch(ctx, sess, participant); err != nil {
		return req, storage.Session{}, false, err
	}
	h.cfg.Observer.Login("sso", "success")
	h.cfg.Logger.InfoContext(ctx, "login complete", "client", req.ClientID, "account", sess.AccountID, "acr", sess.ACR)
	req.Done = true
	req.AccountID, req.SessionID = sess.AccountID, sess.ID
	req.AuthTime, req.ACR, req.AMR = sess.AuthTime, sess.ACR, sess.AMR
	req.LoginState = nil
	return req, sess, true, nil
}

// satisfies reports whether an existing session may answer the request
// without a new authentication (max_age; prompt=login arrives as max_age=0).
func (h *Handler) satisfies(ctx context.Context, req storage.AuthRequest, s storage.Session) bool {
	if req.MaxAge != nil && h.cfg.Now().Sub(s.AuthTime) > time.Duration(*req.MaxAge)*time.Second {
		return false
	}
	// An id_token_hint names the citizen the portal expects (OIDC Core
	// §3.1.2.1): a session of somebody else does not answer; with
	// prompt=none that is login_required.
	if req.IDTokenHint != "" && (h.cfg.HintMatches == nil || !h.cfg.HintMatches(ctx, req.IDTokenHint, s.AccountID)) {
		return false
	}
	return true
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, status int, errKey string, values map[string]string) {
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	if isSelf(req) {
		p.ClientName = p.T("account.title")
	} else if prov := h.provider(req); prov != nil {
		p.ClientName = prov.DisplayName(r.Context(), req.ClientID)
	}
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	for k, v := range values {
		p.Values[k] = v
	}
	h.render(w, status, "login", p)
}

// complete marks the request done with the session's authentication, records
// the client in the session and continues to the protocol callback.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, s storage.Session) {
	ctx := r.Context()
	if isSelf(req) {
		// The account page's own login: nothing to hand to a protocol.
		_ = h.cfg.Store.DeleteAuthRequest(ctx, req.ID)
		http.Redirect(w, r, selfPath, http.StatusSeeOther)
		return
	}
	var err error
	if c, ok := h.cfg.Store.(Completer); ok {
		err = c.CompleteAuthRequest(ctx, req.ID, s.AccountID, s.ID, s.AuthTime, s.ACR, s.AMR, h.cfg.Now())
	} else {
		err = h.cfg.Store.UpdateAuthRequest(ctx, req.ID, func(a storage.AuthRequest) (storage.AuthRequest, error) {
			if a.Done && a.AccountID != s.AccountID {
				return a, errors.New("auth request completed for another account")
			}
			a.Done = true
			a.AccountID, a.SessionID = s.AccountID, s.ID
			a.AuthTime, a.ACR, a.AMR = s.AuthTime, s.ACR, s.AMR
			a.LoginState = nil
			return a, nil
		})
	}
	if errors.Is(err, storage.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return
	}
	if err != nil {
		h.internal(w, r, "complete auth request", err)
		return
	}
	participant := req.ClientID
	if req.Protocol == ProtocolSAML {
		participant = "saml:" + req.ClientID
	}
	if err := h.cfg.Sessions.Touch(ctx, s, participant); err != nil {
		h.internal(w, r, "join session", err)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "login complete", "client", req.ClientID, "account", s.AccountID, "acr", s.ACR)
	http.Redirect(w, r, h.provider(req).CallbackURL(ctx, req.ID), http.StatusSeeOther)
}
