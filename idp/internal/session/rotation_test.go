package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A step-up replaces the cookie's secret: the cookie from before the step-up
// (one an attacker planted or saw) no longer names a live session, while the
// session id (and the tokens of the session) stays.
func TestReauthenticatedRotatesCookie(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newManager(t, false, &now)
	rec := httptest.NewRecorder()
	s, err := m.Start(ctx, rec, "acct", now, "urn:cardsso:loa:1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	before := requestWith(rec)
	rec2 := httptest.NewRecorder()
	up, err := m.Reauthenticated(ctx, rec2, s.ID, now, "urn:cardsso:loa:2", []string{"pwd", "card"})
	if err != nil {
		t.Fatal(err)
	}
	if up.ID != s.ID {
		t.Errorf("session id changed at step-up: %s -> %s", s.ID, up.ID)
	}
	if _, ok, _ := m.Current(before); ok {
		t.Errorf("the cookie from before the step-up is still live")
	}
	after := requestWith(rec2)
	got, ok, err := m.Current(after)
	if !ok || err != nil || got.ACR != "urn:cardsso:loa:2" {
		t.Fatalf("Current(new cookie) = %v, %v, %v; want the stepped-up session", got.ACR, ok, err)
	}
	if rec.Result().Cookies()[0].Value == rec2.Result().Cookies()[0].Value {
		t.Errorf("cookie value unchanged at step-up")
	}
	// The old cookie cannot end the session either.
	if _, ended, _ := m.End(ctx, httptest.NewRecorder(), before); ended {
		t.Errorf("End with the old cookie ended the session")
	}
	if _, ok, _ := m.Current(after); !ok {
		t.Errorf("session gone after End with the old cookie")
	}
}

// Knowing a session id is not enough: a cookie "<id>.<guess>" is refused.
func TestForgedSecretRefused(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newManager(t, false, &now)
	rec := httptest.NewRecorder()
	s, err := m.Start(ctx, rec, "acct", now, "urn:cardsso:loa:1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{s.ID + ".x", s.ID + ".", s.ID, "." + s.ID} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "cardsso_session", Value: v})
		if _, ok, _ := m.Current(r); ok {
			t.Errorf("cookie %q names a live session", v)
		}
	}
}

// Under an https issuer every cookie CardSSO sets carries __Host- (Secure,
// Path=/, no Domain).
func TestHostPrefixWhenSecure(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	m := newManager(t, true, &now)
	rec := httptest.NewRecorder()
	if _, err := m.Start(ctx, rec, "acct", now, "urn:cardsso:loa:1", []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	m.Bind(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cs := rec.Result().Cookies()
	if len(cs) != 2 {
		t.Fatalf("%d cookies; want session + binding", len(cs))
	}
	for _, c := range cs {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %+v: want __Host- name, Secure, Path=/, no Domain", c)
		}
	}
	plain := newManager(t, false, &now)
	rec = httptest.NewRecorder()
	plain.Bind(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if c := rec.Result().Cookies()[0]; strings.HasPrefix(c.Name, "__Host-") {
		t.Errorf("http issuer: cookie %s has __Host- (browsers drop it without Secure)", c.Name)
	}
}

func TestBindBoundTo(t *testing.T) {
	now := time.Now()
	m := newManager(t, false, &now)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	h := m.Bind(rec, r)
	if len(h) != 32 {
		t.Fatalf("hash %d bytes", len(h))
	}
	if !m.BoundTo(r, h) {
		t.Errorf("the same request is not bound to its new hash")
	}
	same := requestWith(rec)
	if !m.BoundTo(same, h) {
		t.Errorf("the browser that got the cookie is not bound")
	}
	// The same browser starting a second login keeps its cookie.
	rec2 := httptest.NewRecorder()
	if h2 := m.Bind(rec2, same); string(h2) != string(h) || len(rec2.Result().Cookies()) != 0 {
		t.Errorf("second Bind in the same browser: new hash or new cookie")
	}
	other := httptest.NewRequest(http.MethodGet, "/", nil)
	m.Bind(httptest.NewRecorder(), other)
	if m.BoundTo(other, h) {
		t.Errorf("another browser is bound to the first browser's request")
	}
	if m.BoundTo(httptest.NewRequest(http.MethodGet, "/", nil), h) {
		t.Errorf("a browser without the cookie is bound")
	}
	if m.BoundTo(same, nil) {
		t.Errorf("a request without a hash is bound to a browser")
	}
}
