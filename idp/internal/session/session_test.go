package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

func newManager(t *testing.T, secure bool, now *time.Time) *session.Manager {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: filepath.Join(t.TempDir(), "s.db"), Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return session.New(st, session.Config{Secure: secure, Lifetime: time.Hour, IdleTimeout: 10 * time.Minute, Now: func() time.Time { return *now }})
}

// requestWith returns a request carrying the cookies a response set.
func requestWith(rec *httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		r.AddCookie(c)
	}
	return r
}

func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		now := time.Now()
		m := newManager(t, secure, &now)
		rec := httptest.NewRecorder()
		if _, err := m.Start(context.Background(), rec, "acct", now, "urn:cardsso:loa:1", []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
		cs := rec.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("%d cookies; want 1", len(cs))
		}
		c := cs[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure || c.Path != "/" || len(c.Value) < 43 {
			t.Errorf("cookie = %+v; want HttpOnly, SameSite=Lax, Secure=%v, Path=/, 256-bit value", c, secure)
		}
	}
}

func TestLifetimes(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newManager(t, false, &now)
	rec := httptest.NewRecorder()
	s, err := m.Start(ctx, rec, "acct", now, "urn:cardsso:loa:1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	r := requestWith(rec)
	if got, ok, err := m.Current(r); !ok || err != nil || got.ID != s.ID {
		t.Fatalf("Current = %v, %v, %v; want the started session", got.ID, ok, err)
	}
	if s.ID == rec.Result().Cookies()[0].Value {
		t.Errorf("the stored id is the cookie value; want its hash")
	}
	// Used within the idle timeout, it stays alive.
	now = now.Add(9 * time.Minute)
	if err := m.Join(ctx, s.ID, "portal"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Minute)
	if _, ok, _ := m.Current(r); !ok {
		t.Errorf("session used 9 minutes ago is not live")
	}
	// Idle too long.
	now = now.Add(11 * time.Minute)
	if _, ok, _ := m.Current(r); ok {
		t.Errorf("session idle for 11 minutes (timeout 10) is still live")
	}
}

func TestEnd(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newManager(t, false, &now)
	rec := httptest.NewRecorder()
	if _, err := m.Start(ctx, rec, "acct", now, "urn:cardsso:loa:1", nil); err != nil {
		t.Fatal(err)
	}
	r := requestWith(rec)
	rec2 := httptest.NewRecorder()
	if _, ended, err := m.End(ctx, rec2, r); !ended || err != nil {
		t.Fatalf("End = %v, %v; want ended", ended, err)
	}
	if c := rec2.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("End did not clear the cookie: %+v", c)
	}
	if _, ok, _ := m.Current(r); ok {
		t.Errorf("session still live after End")
	}
}
