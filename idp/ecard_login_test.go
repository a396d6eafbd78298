package idp_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
	"github.com/cardsso/cardsso/examples/ecard-app/app"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/internal/testlog"
)

// ecardConn is the simulator with two faults a test can switch on: the
// platform away when a ticket is made, and a card reported with another
// status (after the app was bound) in the licence data.
type ecardConn struct {
	*simulator.Simulator
	mu     sync.Mutex
	down   bool
	status connectors.CardStatus
}

func (c *ecardConn) set(down bool, status connectors.CardStatus) {
	c.mu.Lock()
	c.down, c.status = down, status
	c.mu.Unlock()
}

func (c *ecardConn) CreateLoginTicket(ctx context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down {
		return connectors.LoginTicket{}, fmt.Errorf("test platform: %w", connectors.ErrUnavailable)
	}
	return c.Simulator.CreateLoginTicket(ctx, req)
}

func (c *ecardConn) Licence(ctx context.Context, n citizenid.Number) (connectors.Licence, bool, error) {
	l, found, err := c.Simulator.Licence(ctx, n)
	c.mu.Lock()
	if c.status != "" {
		l.Status = c.status
	}
	c.mu.Unlock()
	return l, found, err
}

// ecardEnv is a node on the e-card simulator (through ecardConn) with a
// level-3 portal, 张三 registered through the ordinary registration, and
// an e-card app bound to 张三 through the node's app API.
type ecardEnv struct {
	n    *node
	conn *ecardConn
	clk  *clock
	rp   *rp
	app  *app.App
}

func startECard(t *testing.T) *ecardEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	logs := &testlog.Buffer{}
	cfg := idp.Config{
		Issuer: "http://" + ln.Addr().String(), DataDir: t.TempDir(), Now: clk.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	sim, err := simulator.Config{AppBaseURL: cfg.Issuer + idp.AppAPIPath, Now: clk.Now}.Open()
	if err != nil {
		t.Fatal(err)
	}
	conn := &ecardConn{Simulator: sim}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := openStore(ctx, cfg, nodeDeps{})
	if err != nil {
		t.Fatal(err)
	}
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := idp.New(ctx, cfg, idp.Parts{Store: st, Checks: conn, MasterKey: mk})
	if err != nil {
		cancel()
		t.Fatalf("idp.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	n := &node{srv: srv, cfg: cfg, issuer: cfg.Issuer, addr: ln.Addr().String(), logs: logs}

	const portal, tax = "http://127.0.0.1:9701/cb", "http://127.0.0.1:9702/cb"
	psecret := registerClient(t, n, admin.ClientSpec{ID: "portal", Name: "Portal", RedirectURIs: []string{portal}})
	first := newRP(t, n, "portal", psecret, portal)
	br := newBrowser(t, portal)
	codeFrom(t, register(t, br, n, first.authorize(br, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, goodPass), portal, "s")

	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", Name: "Tax office", RedirectURIs: []string{tax}, MinACR: loa3})
	a, err := app.Bind(ctx, nil, n.issuer+idp.AppAPIPath, app.Holder{Name: zhangSan, Number: zhangSanSSN, CardNumber: "A00000001", DeviceName: "张三's phone"})
	if err != nil {
		t.Fatalf("bind 张三's app: %v", err)
	}
	a.Now = clk.Now
	return &ecardEnv{n: n, conn: conn, clk: clk, rp: newRP(t, n, "tax", secret, tax), app: a}
}

var (
	ecardLinkRE    = regexp.MustCompile(`id="ecard-login" href="([^"]+)"`)
	ecardPayloadRE = regexp.MustCompile(`<code id="ecard-payload">([^<]+)</code>`)
)

// ecardPage follows the login page's "scan with the e-card app" link.
func (e *ecardEnv) ecardPage(t *testing.T, br *browser, login page) page {
	t.Helper()
	m := ecardLinkRE.FindStringSubmatch(login.body)
	if m == nil {
		t.Fatalf("the login page (%d %s) offers no e-card login:\n%s", login.status, login.url, login.body)
	}
	p := br.get(e.n.issuer + html.UnescapeString(m[1]))
	if p.status != http.StatusOK || p.url.Path != "/login/ecard" {
		t.Fatalf("the e-card page: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p
}

// payloadOf reads the ticket's payload from the page, as a person copying
// the text (or the command-line app) would.
func payloadOf(t *testing.T, p page) string {
	t.Helper()
	m := ecardPayloadRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no QR payload on the e-card page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// confirm is the app scanning the page's QR code and confirming (or
// refusing) the login it names.
func (e *ecardEnv) confirm(t *testing.T, p page, yes bool) *app.Ticket {
	t.Helper()
	u, err := app.TicketURL(payloadOf(t, p))
	if err != nil {
		t.Fatalf("TicketURL: %v", err)
	}
	ctx := context.Background()
	tk, err := e.app.Ticket(ctx, u)
	if err != nil {
		t.Fatalf("the app reads the ticket: %v", err)
	}
	if yes {
		err = e.app.Confirm(ctx, tk)
	} else {
		err = e.app.Refuse(ctx, tk)
	}
	if err != nil {
		t.Fatalf("the app answers the ticket: %v", err)
	}
	return tk
}

// scanned presses "I have scanned".
func (e *ecardEnv) scanned(t *testing.T, br *browser, p page) page {
	t.Helper()
	return br.submit(e.n.issuer, formFor(t, p, "/login/ecard"), nil)
}

// ticketState asks the page's status endpoint.
func ticketState(t *testing.T, br *browser, base, authRequestID string) (int, string) {
	t.Helper()
	p := br.get(base + "/login/ecard/status?" + url.Values{"authRequestID": {authRequestID}}.Encode())
	var out struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(p.body), &out); err != nil {
		t.Fatalf("status endpoint: %d %q: %v", p.status, p.body, err)
	}
	return p.status, out.State
}

func requestID(p page) string { return p.url.Query().Get("authRequestID") }

// TestECardLoginOIDC: a go-oidc client of a level-3 portal starts a login;
// the browser opens the e-card page, whose QR code, text and link carry
// the ticket; the e-card app's code reads it (the portal's name), confirms
// it; the browser's "I have scanned" logs the citizen in, and the ID token
// says amr [swk] and acr loa:3 (a device-bound login is real-person: no
// card or face page).
func TestECardLoginOIDC(t *testing.T) {
	e := startECard(t)
	br := newBrowser(t, e.rp.conf.RedirectURL)
	verifier := oauth2.GenerateVerifier()
	login := e.rp.authorize(br, "st", "nonce", verifier)
	if !strings.Contains(login.body, "扫码登录 / Scan with the e-card app") {
		t.Errorf("the login page does not offer the e-card login in both languages")
	}
	p := e.ecardPage(t, br, login)

	// The page as a browser gets it: the QR image allowed by its CSP, and
	// the polling script by its hash only.
	resp, err := br.c.Get(p.url.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src data:") || !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-inline'; script") {
		t.Errorf("the e-card page's CSP %q does not allow the QR image and the script by hash only", csp)
	}
	for _, want := range []string{`<img src="data:image/png;base64,`, `alt="`, `http-equiv="refresh"`, `id="ecard-link" href="http`, "我已扫码 / I have scanned", "<script>"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the e-card page lacks %q", want)
		}
	}
	id := requestID(p)
	if code, state := ticketState(t, br, e.n.issuer, id); code != http.StatusOK || state != "pending" {
		t.Errorf("status before the scan = %d %q; want 200 pending", code, state)
	}
	tk := e.confirm(t, p, true)
	if tk.Portal != "Tax office" {
		t.Errorf("the app shows the portal %q; want %q", tk.Portal, "Tax office")
	}
	if code, state := ticketState(t, br, e.n.issuer, id); code != http.StatusOK || state != "confirmed" {
		t.Errorf("status after the confirmation = %d %q; want 200 confirmed", code, state)
	}
	code := codeFrom(t, e.scanned(t, br, p), e.rp.conf.RedirectURL, "st")
	tok, err := e.rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token exchange: %v", err)
	}
	_, c := e.rp.verify(tok)
	if len(c.AMR) != 1 || c.AMR[0] != "swk" || c.ACR != loa3 || c.Name != zhangSan {
		t.Errorf("ID token amr %v, acr %q, name %q; want [swk], %s, %s", c.AMR, c.ACR, c.Name, loa3, zhangSan)
	}
	if strings.Contains(e.n.logs.String(), zhangSanSSN) {
		t.Error("the node logged a full social security number")
	}
}

// TestECardLoginSAML: the same login through a SAML SP that needs level 3.
func TestECardLoginSAML(t *testing.T) {
	e := startECard(t)
	sp := newCrewSP(t, e.n, spOpts{minACR: loa3, noEncryption: true})
	br := newBrowser(t)
	login := br.get(sp.url + "/hello")
	p := e.ecardPage(t, br, login)
	e.confirm(t, p, true)
	sub, _ := helloOf(t, br.postSAML(e.scanned(t, br, p)))
	if sub == "" {
		t.Fatal("no subject at the SP")
	}
	if got := classRefOf(sp.last()); got != loa3 {
		t.Errorf("AuthnContextClassRef = %q; want %s", got, loa3)
	}
}

// TestECardLoginRefusals: every way an e-card login must not complete.
func TestECardLoginRefusals(t *testing.T) {
	start := func(t *testing.T) (*ecardEnv, *browser, page) {
		e := startECard(t)
		br := newBrowser(t, e.rp.conf.RedirectURL)
		return e, br, e.ecardPage(t, br, e.rp.authorize(br, "st", "nonce", oauth2.GenerateVerifier()))
	}
	t.Run("expired", func(t *testing.T) {
		e, br, p := start(t)
		e.clk.Add(connectors.TicketLifetime + time.Second)
		got := e.scanned(t, br, p)
		if got.status != http.StatusGone || !strings.Contains(got.body, "new=1") {
			t.Fatalf("an expired ticket: %d\n%s; want 410 with a try-again link", got.status, got.body)
		}
		again := br.get(e.n.issuer + "/login/ecard?" + url.Values{"authRequestID": {requestID(p)}, "new": {"1"}}.Encode())
		if again.status != http.StatusOK || payloadOf(t, again) == payloadOf(t, p) {
			t.Errorf("try again: %d, payload %q (was %q); want a new ticket", again.status, payloadOf(t, again), payloadOf(t, p))
		}
	})
	t.Run("other browser", func(t *testing.T) {
		e, br, p := start(t)
		e.confirm(t, p, true)
		other := newBrowser(t, e.rp.conf.RedirectURL)
		id := requestID(p)
		if code, state := ticketState(t, other, e.n.issuer, id); code != http.StatusForbidden || state != "forbidden" {
			t.Errorf("another browser polls: %d %q; want 403 forbidden", code, state)
		}
		if got := other.get(p.url.String()); got.status != http.StatusForbidden {
			t.Errorf("another browser opens the page: %d; want 403", got.status)
		}
		if got := other.post(e.n.issuer+"/login/ecard", formFor(t, p, "/login/ecard").fields); got.status != http.StatusForbidden {
			t.Errorf("another browser posts I have scanned: %d; want 403", got.status)
		}
		// The browser that started it still completes: the other did not use the ticket.
		codeFrom(t, e.scanned(t, br, p), e.rp.conf.RedirectURL, "st")
	})
	t.Run("refused in the app", func(t *testing.T) {
		e, br, p := start(t)
		e.confirm(t, p, false)
		got := e.scanned(t, br, p)
		if got.status != http.StatusForbidden || !strings.Contains(got.body, "refused") || !strings.Contains(got.body, "new=1") {
			t.Errorf("a refused ticket: %d\n%s; want 403 naming the refusal, with a try-again link", got.status, got.body)
		}
	})
	t.Run("card reported lost after binding", func(t *testing.T) {
		e, br, p := start(t)
		e.conn.set(false, connectors.CardReportedLost)
		e.confirm(t, p, true)
		got := e.scanned(t, br, p)
		if got.status != http.StatusForbidden || !strings.Contains(got.body, "reported lost") {
			t.Errorf("a card reported lost: %d\n%s; want 403 naming the status", got.status, got.body)
		}
	})
	t.Run("no account", func(t *testing.T) {
		e, br, p := start(t)
		zhao, err := app.Bind(context.Background(), nil, e.n.issuer+idp.AppAPIPath,
			app.Holder{Name: "赵六", Number: "510104200002290046", CardNumber: "A00000004", DeviceName: "phone"})
		if err != nil {
			t.Fatal(err)
		}
		e.app = zhao
		e.confirm(t, p, true)
		got := e.scanned(t, br, p)
		if got.status != http.StatusForbidden || !strings.Contains(got.body, "register once") {
			t.Errorf("a holder without an account: %d\n%s; want 403 saying to register", got.status, got.body)
		}
	})
	t.Run("ticket limit", func(t *testing.T) {
		e, br, p := start(t)
		u := e.n.issuer + "/login/ecard?" + url.Values{"authRequestID": {requestID(p)}, "new": {"1"}}.Encode()
		for i := 2; i <= 5; i++ {
			if got := br.get(u); got.status != http.StatusOK {
				t.Fatalf("ticket %d: %d; want 200", i, got.status)
			}
		}
		if got := br.get(u); got.status != http.StatusTooManyRequests {
			t.Errorf("ticket 6: %d; want 429", got.status)
		}
	})
	t.Run("platform down", func(t *testing.T) {
		e := startECard(t)
		br := newBrowser(t, e.rp.conf.RedirectURL)
		login := e.rp.authorize(br, "st", "nonce", oauth2.GenerateVerifier())
		e.conn.set(true, "")
		m := ecardLinkRE.FindStringSubmatch(login.body)
		u := e.n.issuer + html.UnescapeString(m[1])
		resp, err := br.c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("platform down: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// Nothing half-written: the failed attempt used none of the five tickets.
		e.conn.set(false, "")
		for i := 1; i <= 5; i++ {
			if got := br.get(u + "&new=1"); got.status != http.StatusOK {
				t.Fatalf("after the outage, ticket %d: %d; want 200", i, got.status)
			}
		}
	})
	t.Run("two posts complete once", func(t *testing.T) {
		e, br, p := start(t)
		e.confirm(t, p, true)
		f := formFor(t, p, "/login/ecard")
		var wg sync.WaitGroup
		results := make([]page, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = br.post(e.n.issuer+"/login/ecard", f.fields)
			}()
		}
		wg.Wait()
		codes := 0
		for _, r := range results {
			if strings.HasPrefix(r.location, e.rp.conf.RedirectURL) && strings.Contains(r.location, "code=") {
				codes++
			}
		}
		if codes != 1 {
			t.Errorf("%d of %d concurrent posts of one confirmed ticket reached the portal with a code; want 1", codes, len(results))
		}
	})
}

// TestECardAccountBindings: the account's e-card page lists the citizen's app
// bindings and revokes their own (the app can no longer confirm a login);
// another citizen's binding id is refused and stays live.
func TestECardAccountBindings(t *testing.T) {
	e := startECard(t)
	ctx := context.Background()
	zhao, err := app.Bind(ctx, nil, e.n.issuer+idp.AppAPIPath,
		app.Holder{Name: "赵六", Number: "510104200002290046", CardNumber: "A00000004", DeviceName: "zhao phone"})
	if err != nil {
		t.Fatal(err)
	}
	br := newBrowser(t, e.rp.conf.RedirectURL)
	p := e.ecardPage(t, br, e.rp.authorize(br, "st", "nonce", oauth2.GenerateVerifier()))
	e.confirm(t, p, true)
	codeFrom(t, e.scanned(t, br, p), e.rp.conf.RedirectURL, "st")

	if home := br.get(e.n.issuer + "/account"); !strings.Contains(home.body, `href="/account/ecard"`) {
		t.Errorf("the account page does not link to the e-card apps:\n%s", home.body)
	}
	acct := br.get(e.n.issuer + "/account/ecard")
	if acct.status != http.StatusOK || !strings.Contains(acct.body, "s phone") || strings.Contains(acct.body, "zhao phone") {
		t.Fatalf("the account page (%d) does not list exactly 张三's binding:\n%s", acct.status, acct.body)
	}
	f := formFor(t, acct, "/account/ecard/revoke")
	if f.fields.Get("binding") != e.app.BindingID {
		t.Fatalf("revoke form names binding %q; want %q", f.fields.Get("binding"), e.app.BindingID)
	}
	other := br.submit(e.n.issuer, f, map[string]string{"binding": zhao.BindingID})
	if other.status != http.StatusNotFound {
		t.Errorf("revoking another citizen's binding: %d; want 404", other.status)
	}
	number, _ := citizenid.Parse("510104200002290046")
	if bs, err := e.conn.Bindings(ctx, &number); err != nil || len(bs) != 1 || !bs[0].RevokedAt.IsZero() {
		t.Errorf("赵六's bindings after the refused revoke: %+v, %v; want one, live", bs, err)
	}
	if got := br.submit(e.n.issuer, f, nil); got.status != http.StatusOK || !strings.Contains(got.body, "binding is revoked") {
		t.Fatalf("revoking the own binding: %d\n%s", got.status, got.body)
	}
	// The revoked app can no longer confirm a login.
	br2 := newBrowser(t, e.rp.conf.RedirectURL)
	p2 := e.ecardPage(t, br2, e.rp.authorize(br2, "st", "nonce", oauth2.GenerateVerifier()))
	u, _ := app.TicketURL(payloadOf(t, p2))
	tk, err := e.app.Ticket(ctx, u)
	if err == nil {
		err = e.app.Confirm(ctx, tk)
	}
	if err == nil {
		t.Error("a revoked binding confirmed a login")
	}
	if got := e.scanned(t, br2, p2); strings.Contains(got.location, "code=") {
		t.Error("a login completed after the binding was revoked")
	}
}

// TestECardLoginOverTheNetwork: the same QR login when the connector is
// the networked card platform (examples/cardplatform's server over the
// simulator, its app API under /app): tickets, their states and the card's
// licence status come over the signed platform API, and the app binds and
// confirms at the platform itself.
func TestECardLoginOverTheNetwork(t *testing.T) {
	var handler http.Handler
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	sim, err := simulator.Config{AppBaseURL: ts.URL + "/app"}.Open()
	if err != nil {
		t.Fatal(err)
	}
	handler, err = server.NewHandler(server.Config{Clients: map[string]string{"cardsso": platformSecret}, Checker: sim, ECard: sim, App: sim.AppHandler()})
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, nodeDeps{cardplatform: &cardplatform.Config{
		URL: ts.URL, ClientID: "cardsso", Secret: platformSecret, TLS: cardplatform.TLSConfig{CAFile: caFile},
		Timeout: 2 * time.Second, RetryBackoff: 10 * time.Millisecond,
	}})
	const portal, tax = "http://127.0.0.1:9711/cb", "http://127.0.0.1:9712/cb"
	first := newRP(t, n, "portal", registerClient(t, n, admin.ClientSpec{ID: "portal", RedirectURIs: []string{portal}}), portal)
	br := newBrowser(t, portal)
	codeFrom(t, register(t, br, n, first.authorize(br, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, goodPass), portal, "s")

	a, err := app.Bind(t.Context(), ts.Client(), ts.URL+"/app", app.Holder{Name: zhangSan, Number: zhangSanSSN, CardNumber: "A00000001", DeviceName: "phone"})
	if err != nil {
		t.Fatalf("bind at the platform: %v", err)
	}
	e := &ecardEnv{n: n, app: a,
		rp: newRP(t, n, "tax", registerClient(t, n, admin.ClientSpec{ID: "tax", Name: "Tax office", RedirectURIs: []string{tax}, MinACR: loa3}), tax)}
	b := newBrowser(t, tax)
	verifier := oauth2.GenerateVerifier()
	p := e.ecardPage(t, b, e.rp.authorize(b, "st", "nonce", verifier))
	if tk := e.confirm(t, p, true); tk.Portal != "Tax office" {
		t.Errorf("the app shows the portal %q; want Tax office", tk.Portal)
	}
	code := codeFrom(t, e.scanned(t, b, p), tax, "st")
	tok, err := e.rp.conf.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := e.rp.verify(tok); len(c.AMR) != 1 || c.AMR[0] != "swk" || c.ACR != loa3 {
		t.Errorf("ID token amr %v, acr %q; want [swk], %s", c.AMR, c.ACR, loa3)
	}
}
