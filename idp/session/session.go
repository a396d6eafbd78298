package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	CookieName  string        // default cardsso_session
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
	return &Manager{store: store, cfg: cfg}
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
	s, err = m.store.GetSession(r.Context(), idOf(c.Value))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, fmt.Errorf("session: %w", err)
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
	value := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.cfg.Now().UTC()
	s := storage.Session{
		ID: idOf(value), AccountID: accountID, AuthTime: authTime.UTC(), ACR: acr, AMR: amr,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.cfg.Lifetime),
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return storage.Session{}, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.cfg.CookieName, Value: value, Path: "/",
		HttpOnly: true, Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode,
	})
	return s, nil
}

// Reauthenticated records a fresh authentication in an existing session
// (prompt=login or max_age for the same citizen).
func (m *Manager) Reauthenticated(ctx context.Context, id string, authTime time.Time, acr string, amr []string) (storage.Session, error) {
	var out storage.Session
	now := m.cfg.Now().UTC()
	err := m.store.UpdateSession(ctx, id, func(s storage.Session) (storage.Session, error) {
		s.AuthTime, s.ACR, s.AMR, s.LastSeenAt = authTime.UTC(), acr, amr, now
		out = s
		return s, nil
	})
	return out, err
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
	id := idOf(c.Value)
	s, err := m.store.GetSession(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Session{}, false, nil
	}
	if err != nil {
		return storage.Session{}, false, fmt.Errorf("session: %w", err)
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
