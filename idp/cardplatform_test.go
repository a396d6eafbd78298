package idp_test

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
	"github.com/cardsso/cardsso/idp/admin"
)

// platform is the networked card service platform of examples/cardplatform,
// in-process over TLS, with a switch that makes it misbehave.
type platform struct {
	url    string
	caFile string
	mode   atomic.Value // "ok", "down5xx", "garbage", "slow"
}

const platformSecret = "a-test-secret-of-at-least-32-bytes!!"

func startPlatform(t *testing.T) *platform {
	t.Helper()
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewHandler(server.Config{Clients: map[string]string{"cardsso": platformSecret}, Checker: sim})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{}
	p.mode.Store("ok")
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.mode.Load() {
		case "down5xx":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "garbage":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"matched": tru`))
		case "slow":
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-r.Context().Done():
			}
		default:
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	p.url = ts.URL
	p.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deps is a node's connector on this platform.
func (p *platform) deps() nodeDeps {
	return nodeDeps{cardplatform: &cardplatform.Config{
		URL: p.url, ClientID: "cardsso", Secret: platformSecret, TLS: cardplatform.TLSConfig{CAFile: p.caFile},
		Timeout: 500 * time.Millisecond, RetryBackoff: 10 * time.Millisecond,
	}}
}

// TestThreeChecksOverTheNetwork: the whole login with the networked
// platform: real-name, real-card, real-person.
func TestThreeChecksOverTheNetwork(t *testing.T) {
	p := startPlatform(t)
	n := startNodeWith(t, p.deps())
	const redirect = "http://127.0.0.1:9601/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:3"})
	r := newRP(t, n, "tax", secret, redirect)
	br := newBrowser(t, redirect)
	consent := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000001")
	photoPage := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "allow"})
	done := br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
	codeFrom(t, done, redirect, "st")
	assertNoPersonalData(t, n)
}

// TestPlatformFaults: a platform that is down, slow or answers garbage gives
// the citizen a clear message, and the account is not modified.
func TestPlatformFaults(t *testing.T) {
	p := startPlatform(t)
	n := startNodeWith(t, p.deps())
	br := newBrowser(t)
	// Register 张三 (real-name over the network) from the account page.
	acct := register(t, br, n, br.get(n.issuer+"/account"), zhangSan, zhangSanSSN, goodPass)
	if acct.url.Path != "/account" {
		t.Fatalf("registration over the network: %d at %s", acct.status, acct.url)
	}
	before := cardSection(acct.body)
	for _, mode := range []string{"down5xx", "garbage", "slow"} {
		t.Run(mode, func(t *testing.T) {
			p.mode.Store(mode)
			defer p.mode.Store("ok")
			start := time.Now()
			got := br.submit(n.issuer, formFor(t, acct, "/account/card"), map[string]string{"card_number": "A00000001"})
			if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "cannot be reached right now") {
				t.Errorf("status %d; want 503 with a clear message:\n%s", got.status, got.body)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the fault took %v to surface", d)
			}
			if after := cardSection(got.body); after != before {
				t.Errorf("the account changed after a fault:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	// Registration while the platform is down: a clear message, no account.
	p.mode.Store("down5xx")
	br2 := newBrowser(t)
	lp := br2.get(n.issuer + "/account")
	got := br2.submit(n.issuer, formFor(t, lp, "/login/register"), map[string]string{"name": "赵六", "ssn": "510104200002290046"})
	if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "Nothing was changed") {
		t.Errorf("registration with the platform down: %d:\n%s", got.status, got.body)
	}
	p.mode.Store("ok")
	// Back to normal, the check works and is recorded.
	ok := br.submit(n.issuer, formFor(t, acct, "/account/card"), map[string]string{"card_number": "A00000001"})
	if !strings.Contains(ok.body, "Your card is verified") {
		t.Errorf("after recovery the card check does not pass:\n%s", ok.body)
	}
	if !strings.Contains(n.logs.String(), "real-card check failed") || !strings.Contains(n.logs.String(), "110***********0017") {
		t.Errorf("the faults are not logged with the masked number")
	}
	assertNoPersonalData(t, n)
}

// cardSection is the part of the account page that shows the stored card check.
func cardSection(body string) string {
	i := strings.Index(body, `id="card-heading"`)
	j := strings.Index(body, `action="/account/card"`)
	if i < 0 || j < i {
		return body
	}
	return body[i:j]
}
