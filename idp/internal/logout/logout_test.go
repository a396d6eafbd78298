package logout

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

type clients map[string]storage.Client

func (c clients) GetClient(_ context.Context, id string) (storage.Client, error) {
	if cl, ok := c[id]; ok {
		return cl, nil
	}
	return storage.Client{}, storage.ErrNotFound
}

type tokens struct{}

func (tokens) LogoutToken(_ context.Context, _ string, c storage.Client, accountID, sessionID string) (string, error) {
	return "token-for-" + c.ID + "-" + accountID + "-" + sessionID, nil
}

// rp is a relying party's back-channel logout endpoint answering the
// statuses given in turn (the last one from then on).
type rp struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []url.Values
	calls    atomic.Int32
}

func newRP(t *testing.T, statuses ...int) *rp {
	r := &rp{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1))
		_ = req.ParseForm()
		r.mu.Lock()
		r.got = append(r.got, req.PostForm)
		r.mu.Unlock()
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(r.statuses[min(n, len(r.statuses))-1])
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func newFanout(cs clients, attempts int) *Fanout {
	return New(Config{
		Clients: cs, Tokens: tokens{}, Issuer: "http://idp.test",
		Timeout: 2 * time.Second, Attempts: attempts, Backoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// TestBackchannelDelivery: each OIDC client of the ended session with a
// back-channel URI gets one POST carrying its logout token; SAML
// participants, clients without a URI and unknown clients get nothing;
// 5xx and 429 answers are tried again up to Attempts times, a 4xx is final.
func TestBackchannelDelivery(t *testing.T) {
	ok := newRP(t, http.StatusOK)
	flaky := newRP(t, http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusOK)
	refusing := newRP(t, http.StatusBadRequest)
	down := newRP(t, http.StatusInternalServerError)
	cs := clients{
		"ok":       {ID: "ok", BackchannelLogoutURI: ok.srv.URL},
		"flaky":    {ID: "flaky", BackchannelLogoutURI: flaky.srv.URL},
		"refusing": {ID: "refusing", BackchannelLogoutURI: refusing.srv.URL},
		"down":     {ID: "down", BackchannelLogoutURI: down.srv.URL},
		"silent":   {ID: "silent"},
	}
	f := newFanout(cs, 3)
	s := storage.Session{ID: "sess1", AccountID: "acct1", Clients: []string{"ok", "flaky", "refusing", "down", "silent", "gone", "saml:sp1"}}
	r := httptest.NewRequest(http.MethodGet, "/logout", nil)
	if next := f.SessionEnded(nil, r, s, "/done"); next != "" {
		t.Errorf("SessionEnded without a SAML chain = %q; want \"\"", next)
	}
	f.Close() // waits for the deliveries (they finish well within Timeout)

	for name, want := range map[string]int32{"ok": 1, "flaky": 3, "refusing": 1, "down": 3} {
		p := map[string]*rp{"ok": ok, "flaky": flaky, "refusing": refusing, "down": down}[name]
		if got := p.calls.Load(); got != want {
			t.Errorf("%s: %d deliveries; want %d", name, got, want)
		}
	}
	ok.mu.Lock()
	defer ok.mu.Unlock()
	if got := ok.got[0].Get("logout_token"); got != "token-for-ok-acct1-sess1" {
		t.Errorf("logout_token = %q; want the client's token for the session", got)
	}
}

type chain struct{ sessions []string }

func (c *chain) LogoutChain(_ context.Context, s storage.Session, next string) string {
	c.sessions = append(c.sessions, s.ID)
	return "/saml/slo/start?next=" + url.QueryEscape(next)
}

// TestSAMLChain: with a SAML provider set, the page's logout continues
// through the SAML participants; a logout that came from SAML only sends
// the OIDC logout tokens.
func TestSAMLChain(t *testing.T) {
	ok := newRP(t, http.StatusOK)
	f := newFanout(clients{"ok": {ID: "ok", BackchannelLogoutURI: ok.srv.URL}}, 1)
	c := &chain{}
	f.UseSAML(c)
	s := storage.Session{ID: "s2", AccountID: "a2", Clients: []string{"ok", "saml:sp"}}
	r := httptest.NewRequest(http.MethodGet, "/logout", nil)
	if next := f.SessionEnded(nil, r, s, "/bye"); next != "/saml/slo/start?next=%2Fbye" {
		t.Errorf("SessionEnded = %q; want the SAML chain", next)
	}
	f.SAMLEnded(context.Background(), s)
	f.Close()
	if got := ok.calls.Load(); got != 2 {
		t.Errorf("%d deliveries; want 2 (one per ended session report)", got)
	}
	if len(c.sessions) != 1 {
		t.Errorf("SAML chain started %d times; want 1 (not again for a SAML-initiated logout)", len(c.sessions))
	}
}

// TestCloseBoundsWaiting: a relying party that never answers does not hold
// the node's shutdown beyond Timeout.
func TestCloseBoundsWaiting(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(func() { close(release); hung.Close() })
	f := New(Config{
		Clients: clients{"hung": {ID: "hung", BackchannelLogoutURI: hung.URL}}, Tokens: tokens{},
		Timeout: 200 * time.Millisecond, Attempts: 5, Backoff: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	f.SAMLEnded(context.Background(), storage.Session{ID: "s", Clients: []string{"hung"}})
	done := make(chan struct{})
	go func() { f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: a hung relying party holds shutdown")
	}
}
