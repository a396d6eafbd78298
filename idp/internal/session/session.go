package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// Store is the part of storage.Store sessions need.
type Store interface {
	CreateSession(ctx context.Context, s storage.Session) error
	GetSession(ctx context.Context, id string) (storage.Session, error)
	UpdateSession(ctx context.Context, id string, update func(storage.Session) (storage.Session, error)) error
	DeleteSession(ctx context.Context, id string) error
}

// Config configures the cookie and lifetimes.
type Config struct {
	// CookieName is the session cookie's name, default cardsso_session.
	// With Secure, names without a prefix get __Host- (RFC 6265bis §4.1.3.2:
	// Secure, Path=/, no Domain, so a sibling subdomain cannot set it).
	CookieName  string
	Secure      bool          // set the Secure attribute (issuer is https)
	Lifetime    time.Duration // absolute; default 12h
	IdleTimeout time.Duration // default 2h
	Now         func() time.Time
}

// Manager reads and writes SSO sessions.
type Manager struct {
	store Store
	cfg   Config
}

// New returns a Manager.
func New(store Store, cfg Config) *Manager {
	if cfg.CookieName == "" {
		cfg.CookieName = "cardsso_session"
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 12 * time.Hour
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.CookieName = CookieName(cfg.CookieName, cfg.Secure)
	return &Manager{store: store, cfg: cfg}
}

// CookieName is the name a cookie is set under: with __Host- in front when
// the issuer is https (secure) and the name has no prefix of its own.
func CookieName(name string, secure bool) string {
	if !secure || strings.HasPrefix(name, "__Host-") || strings.HasPrefix(name, "__Secure-") {
		return name
	}
	return "__Host-" + name
}

// Secure reports whether cookies are set Secure (and __Host- prefixed).
func (m *Manager) Secure() bool { return m.cfg.Secure }

// The session cookie's value is "<id>.<secret>": the id names the row, the
// secret proves the browser holds the current cookie (only its SHA-256 is
// stored, Session.SecretHash). The secret is replaced at every step-up
// (Reauthenticated), so a cookie planted or seen before a step-up does not
// carry the higher level (session fixation, docs/security.md §2). Sessions
// created before rotation existed have a cookie hashed into the id and no
// SecretHash; they keep working until their first step-up.

// newSecret returns a random cookie secret and its hash.
func newSecret() (string, []byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	v := base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(v))
	return v, h[:], nil
}

// parseCookie splits a session cookie into the session id and the secret
// ("" for a cookie of the older form, whose hash is the id).
func parseCookie(value string) (id, secret string) {
	if id, secret, ok := strings.Cut(value, "."); ok {
		return id, secret
	}
	return idOf(value), ""
}

// secretMatches reports whether a cookie's secret half is the session's
// current one.
func secretMatches(s storage.Session, secret string) bool {
	if secret == "" {
		return len(s.SecretHash) == 0 // a cookie of the older form
	}
	if len(s.SecretHash) == 0 {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], s.SecretHash) == 1
}

func (m *Manager) setCookie(w http.ResponseWriter, id, secret string) {
	http.SetCookie(w, &http.Cookie{
		Name: m.cfg.CookieName, Value: id + "." + secret, Path: "/",
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
}

func idOf(value string) string {
	h := sha256.Sum256([]byte(value))
	return hex.EncodeToString(h[:])
}

// Current returns the browser's live session. ok is false when there is no
// cookie, the session is unknown, ended, expired or idle too long; err is
// only for storage faults.
func (m *Manager) Current(r *http.Request) (s storage.Session, ok bool, err error) {
	c, err := r.Cookie(m.cfg.CookieName)
	if err != nil || c.Value == "" {
		return storage.Session{}, false, nil
	}
	id, secret := parseCookie(c.Value)
	if id == "" || len(id) > 128 {
		return storage.Session{}, false, nil
	}
	s, err = m.store.GetSession(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, fmt.Errorf("session: %w", err)
	}
	if !secretMatches(s, secret) {
		return storage.Session{}, false, nil // an old (rotated) or forged cookie
	}
	now := m.cfg.Now()
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) > m.cfg.IdleTimeout {
		return storage.Session{}, false, nil
	}
	return s, true, nil
}

// Start creates a session for an authentication and sets the cookie.
func (m *Manager) Start(ctx context.Context, w http.ResponseWriter, accountID string, authTime time.Time, acr string, amr []string) (storage.Session, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return storage.Session{}, err
	}
	secret, secretHash, err := newSecret()
	if err != nil {
		return storage.Session{}, err
	}
	now := m.cfg.Now().UTC()
	s := storage.Session{
		ID: hex.EncodeToString(raw[:]), SecretHash: secretHash, AccountID: accountID, AuthTime: authTime.UTC(), ACR: acr, AMR: amr,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.cfg.Lifetime),
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return storage.Session{}, fmt.Errorf("create session: %w", err)
	}
	m.setCookie(w, s.ID, secret)
	return s, nil
}

// Reauthenticated records a fresh authentication in an existing session
// (a step-up, prompt=login or max_age for the same citizen) and rotates the
// session cookie: the browser gets a new secret and the old cookie stops
// working, while the session id (and with it the tokens and participants of
// the session) stays.
func (m *Manager) Reauthenticated(ctx context.Context, w http.ResponseWriter, id string, authTime time.Time, acr string, amr []string) (storage.Session, error) {
	secret, secretHash, err := newSecret()
	if err != nil {
		return storage.Session{}, err
	}
	var out storage.Session
	now := m.cfg.Now().UTC()
	err = m.store.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) {
		s.AuthTime, s.ACR, s.AMR, s.LastSeenAt = authTime.UTC(), acr, amr, now
		s.SecretHash = secretHash
		out = s
		return s, nil
	})
	if err != nil {
		return out, err
	}
	m.setCookie(w, id, secret)
	return out, nil
}

// joinRefresh is how stale LastSeenAt may be before Touch writes it again.
// The idle timeout (hours) is judged on LastSeenAt, so a minute of
// imprecision is nothing, and single sign-on into a portal the session
// already knows costs no write.
const joinRefresh = time.Minute

// Touch is Join for a session the caller has just read (s): when the client
// is already in it and it was seen within the last minute, there is nothing
// to write.
func (m *Manager) Touch(ctx context.Context, s storage.Session, clientID string) error {
	if slices.Contains(s.Clients, clientID) && m.cfg.Now().Sub(s.LastSeenAt) < joinRefresh {
		return nil
	}
	return m.Join(ctx, s.ID, clientID)
}

// Join records that a client signed in through the session and marks it used.
func (m *Manager) Join(ctx context.Context, id, clientID string) error {
	now := m.cfg.Now().UTC()
	return m.store.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) {
		if !slices.Contains(s.Clients, clientID) {
			s.Clients = append(s.Clients, clientID)
		}
		s.LastSeenAt = now
		return s, nil
	})
}

// End deletes the browser's session (revoking the tokens issued in it) and
// clears the cookie. It returns the ended session, if there was one.
func (m *Manager) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (storage.Session, bool, error) {
	m.clear(w)
	c, err := r.Cookie(m.cfg.CookieName)
	if err != nil || c.Value == "" {
		return storage.Session{}, false, nil
	}
	id, secret := parseCookie(c.Value)
	if id == "" || len(id) > 128 {
		return storage.Session{}, false, nil
	}
	s, err := m.store.GetSession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, fmt.Errorf("session: %w", err)
	}
	if !secretMatches(s, secret) {
		return storage.Session{}, false, nil // not this browser's session any more
	}
	if err := m.store.DeleteSession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, fmt.Errorf("end session: %w", err)
	}
	return s, true, nil
}

func (m *Manager) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: m.cfg.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// The binding cookie ties a login in progress to the browser that started
// it (docs/security.md §1): the protocol front ends store the hash of its
// value on every auth request (storage.AuthRequest.BrowserHash), and every
// login step and the protocol callback accept the request only from a
// browser that presents the same cookie. It is a browser-session cookie
// (no Max-Age), HttpOnly and SameSite=Lax, and says nothing about who is
// signed in.
const bindingCookie = "cardsso_browser"

// Bind returns the hash to store on a new auth request for the browser of
// r, setting the binding cookie when the browser has none yet.
func (m *Manager) Bind(w http.ResponseWriter, r *http.Request) []byte {
	name := CookieName(bindingCookie, m.cfg.Secure)
	if c, err := r.Cookie(name); err == nil && len(c.Value) >= 26 && len(c.Value) <= 64 {
		return bindingHash(c.Value)
	}
	value := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/",
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode})
	// Later steps of this same request (a login page rendered at once) see
	// the new value.
	r.AddCookie(&http.Cookie{Name: name, Value: value})
	return bindingHash(value)
}

// BoundTo reports whether r comes from the browser an auth request with
// this binding hash was created in. A request without a hash (stored before
// binding existed) belongs to no browser.
func (m *Manager) BoundTo(r *http.Request, hash []byte) bool {
	if len(hash) == 0 {
		return false
	}
	c, err := r.Cookie(CookieName(bindingCookie, m.cfg.Secure))
	if err != nil || len(c.Value) < 26 || len(c.Value) > 64 {
		return false
	}
	return subtle.ConstantTimeCompare(bindingHash(c.Value), hash) == 1
}

func bindingHash(value string) []byte {
	h := sha256.Sum256([]byte(value))
	return h[:]
}

// EndID deletes the session with this id (revoking the tokens issued in
// it) without touching the browser's cookie: a session ended from elsewhere
// (the citizen's account page, a reclaimed account). It returns the session
// as it was; ok is false when it was gone already.
func (m *Manager) EndID(ctx context.Context, id string) (storage.Session, bool, error) {
	s, err := m.store.GetSession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, fmt.Errorf("session: %w", err)
	}
	if err := m.store.DeleteSession(ctx, id); errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	} else if err != nil {
		return storage.Session{}, false, fmt.Errorf("end session: %w", err)
	}
	return s, true, nil
}

// Live reports whether a stored session is still usable: neither expired
// nor idle too long.
func (m *Manager) Live(s storage.Session) bool {
	now := m.cfg.Now()
	return now.Before(s.ExpiresAt) && now.Sub(s.LastSeenAt) <= m.cfg.IdleTimeout
}
