package idp_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// clock is a test clock the node reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture writes a one-holder simulator fixture for 张三 with a card status.
func writeFixture(t *testing.T, path, status string) {
	t.Helper()
	y := `holders:
  - name: 张三
    number: "110105199003070017"
    card_number: A00000001
    card_region: "110105"
    card_status: ` + status + `
    photo: 110105199003070017.png
`
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStaleCardIsCheckedAgain: at a later login, a card check older than the
// TTL is repeated without a form; a card reported lost since then loses
// level 2, with the reason shown.
func TestStaleCardIsCheckedAgain(t *testing.T) {
	dir := t.TempDir()
	fixture := filepath.Join(dir, "holders.yaml")
	writeFixture(t, fixture, "normal")
	clk := &clock{t: time.Now()}
	const redirect = "http://127.0.0.1:9501/cb"
	cfg := func(c *idp.Config) {
		c.DataDir = dir
		c.Now = clk.Now
		c.Checks.CardTTL = time.Hour
	}
	sim := nodeDeps{simulator: simulator.Config{Fixture: fixture}}
	n := startNodeWith(t, sim, cfg)
	secret := registerClient(t, n, admin.ClientSpec{ID: "bank", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:2"})
	r := newRP(t, n, "bank", secret, redirect)
	br := newBrowser(t, redirect)
	p := r.authorize(br, "s1", "n", oauth2.GenerateVerifier())
	cardPage := register(t, br, n, p, zhangSan, zhangSanSSN, goodPass)
	codeFrom(t, br.submit(n.issuer, formFor(t, cardPage, "/login/card"), map[string]string{"card_number": "A00000001"}), redirect, "s1")

	// Within the TTL the SSO session answers at level 2 without any page.
	codeFrom(t, r.authorize(br, "s2", "n", oauth2.GenerateVerifier()), redirect, "s2")

	// Later, the check is stale: the card is asked about again without a
	// form, and is still normal.
	clk.Add(2 * time.Hour)
	brLater := newBrowser(t, redirect)
	pl := r.authorize(brLater, "s4", "n", oauth2.GenerateVerifier())
	codeFrom(t, brLater.submit(n.issuer, formFor(t, pl, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass}), redirect, "s4")

	// The card is reported lost at the platform; the node restarts with it.
	writeFixture(t, fixture, "reported_lost")
	n2 := startNodeWith(t, sim, cfg) // a restarted node on the same data directory
	r2 := newRP(t, n2, "bank", secret, redirect)
	clk.Add(2 * time.Hour) // the check is stale now
	br2 := newBrowser(t, redirect)
	p2 := r2.authorize(br2, "s3", "n", oauth2.GenerateVerifier())
	refused := br2.submit(n2.issuer, formFor(t, p2, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	if refused.status != http.StatusForbidden || !strings.Contains(refused.body, "reported lost") {
		t.Fatalf("stale check of a card reported lost since: %d at %s; want 403 naming the status:\n%s", refused.status, refused.url, refused.body)
	}
}

// TestFaceAttemptLimit: five failed face checks in an hour lock the face
// check for that account; the lock ends with the window.
func TestFaceAttemptLimit(t *testing.T) {
	clk := &clock{t: time.Now()}
	n := startNode(t, func(c *idp.Config) { c.Now = clk.Now; c.Tokens.AuthRequestLifetime = 3 * time.Hour })
	const redirect = "http://127.0.0.1:9502/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:3"})
	r := newRP(t, n, "tax", secret, redirect)
	br := newBrowser(t, redirect)
	consent := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000001")
	page := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "allow"})
	other := photo(t, "510104200002290046")
	for i := range 5 {
		page = br.submitFile(n.issuer, formFor(t, page, "/login/face/photo"), nil, "photo", "x.png", other)
		if page.status != http.StatusUnauthorized {
			t.Fatalf("failed attempt %d: status %d", i+1, page.status)
		}
	}
	locked := br.submitFile(n.issuer, formFor(t, page, "/login/face/photo"), nil, "photo", "x.png", photo(t, zhangSanSSN))
	if locked.status != http.StatusTooManyRequests {
		t.Fatalf("sixth attempt (with the right photo): status %d; want 429", locked.status)
	}
	// An hour later the face check works again.
	clk.Add(61 * time.Minute)
	page = br.get(n.issuer + "/login/face/photo?authRequestID=" + formFor(t, page, "/login/face/photo").fields.Get("authRequestID"))
	if page.status != http.StatusOK {
		t.Fatalf("photo page after the window: %d", page.status)
	}
	done := br.submitFile(n.issuer, formFor(t, page, "/login/face/photo"), nil, "photo", "x.png", photo(t, zhangSanSSN))
	codeFrom(t, done, redirect, "st")
}
