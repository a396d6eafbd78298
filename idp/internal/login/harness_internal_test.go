package login

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// The handler tests run the pages over the real SQLite store, the real
// session manager and the simulator's real-name and card checks, behind
// BoundBodies as the node mounts them, and drive them like a browser (a
// cookie jar, forms, no redirects followed). The protocol front end is a
// fake that records what the login hands back to it.

// Demo holders of the simulator's default fixture.
const (
	zhangName   = "张三"
	zhangNumber = "110105199003070017"
	zhangCard   = "A00000001" // normal
	liName      = "李四"
	liNumber    = "440305198511120028"
	liCard      = "A00000002" // reported lost
	zhaoCard    = "A00000004" // another holder's card
	testPass    = "correct horse battery staple"
)

// fakeProvider is the protocol front end: the callback and the errors
// are plain URLs the tests read; consent is asked for scopes unless the
// client is exempt.
type fakeProvider struct {
	scopes []string
	exempt map[string]bool
}

func (p *fakeProvider) CallbackURL(_ context.Context, id string) string {
	return "/callback?" + url.Values{"id": {id}}.Encode()
}

func (p *fakeProvider) ReturnError(w http.ResponseWriter, r *http.Request, id, code, _ string) {
	http.Redirect(w, r, "/rp-error?"+url.Values{"id": {id}, "error": {code}}.Encode(), http.StatusFound)
}

func (p *fakeProvider) DisplayName(_ context.Context, clientID string) string {
	return "Portal " + clientID
}

func (p *fakeProvider) ConsentScopes(_ context.Context, req storage.AuthRequest) ([]string, bool, error) {
	return p.scopes, p.exempt[req.ClientID], nil
}

var _ Consenter = (*fakeProvider)(nil)

// testSealer "seals" by prefixing the associated data: enough to check
// that the login opens what it sealed, with the right account.
type testSealer struct{}

func (testSealer) Seal(p, ad []byte) ([]byte, error) {
	return append(append(append([]byte{}, ad...), 0), p...), nil
}

func (testSealer) Open(s, ad []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(s, append(append([]byte{}, ad...), 0))
	if !ok {
		return nil, errors.New("wrong associated data")
	}
	return rest, nil
}

func (testSealer) BlindIndex(v string) []byte {
	s := sha256.Sum256([]byte("index\x00" + v))
	return s[:]
}

type testMAC struct{ key []byte }

func (m testMAC) Sum(data []byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write(data)
	return h.Sum(nil)
}

func (m testMAC) Equal(data, mac []byte) bool { return hmac.Equal(m.Sum(data), mac) }

// fakeFace passes the photo "me" and fails every other.
type fakeFace struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeFace) CheckFace(_ context.Context, _ citizenid.Number, photo []byte, challenge string) (connectors.FaceResult, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if challenge == "" {
		return connectors.FaceResult{}, errors.New("no challenge")
	}
	return connectors.FaceResult{Passed: string(photo) == "me"}, nil
}

func (f *fakeFace) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// countingObserver records the outcomes the pages count.
type countingObserver struct {
	mu     sync.Mutex
	logins []string
}

func (o *countingObserver) Login(method, outcome string) {
	o.mu.Lock()
	o.logins = append(o.logins, method+"/"+outcome)
	o.mu.Unlock()
}

func (o *countingObserver) Check(string, string) {}

func (o *countingObserver) saw(s string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, l := range o.logins {
		if l == s {
			return true
		}
	}
	return false
}

// env is one login node under test.
type env struct {
	t        *testing.T
	h        *Handler
	store    *sqlstore.Store
	prov     *fakeProvider
	face     *fakeFace
	obs      *countingObserver
	srv      *httptest.Server
	now      time.Time
	sessions *session.Manager
}

// newEnv starts the pages; change, when not nil, adjusts the Config first.
func newEnv(t *testing.T, change func(*Config)) *env {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	st, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: filepath.Join(t.TempDir(), "login.db"), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, now: now, face: &fakeFace{}, obs: &countingObserver{},
		prov: &fakeProvider{scopes: []string{"openid", "profile"}, exempt: map[string]bool{"first-party": true}}}
	e.sessions = session.New(st, session.Config{Now: clock})
	cfg := Config{
		Store: st, Sessions: e.sessions,
		Providers: map[string]Provider{ProtocolOIDC: e.prov, ProtocolSAML: e.prov},
		RealName:  sim, Card: sim, Face: e.face, Sealer: testSealer{},
		CSRF: testMAC{[]byte("csrf")}, Links: testMAC{[]byte("links")},
		Password: password.Defaults(), Hashes: password.NewLimiter(2),
		Lockout:     LockoutConfig{PasswordDelay: time.Millisecond, PasswordMaxDelay: time.Millisecond},
		HintMatches: func(_ context.Context, hint, accountID string) bool { return hint == "sub:"+accountID },
		Observer:    e.obs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
	}
	if change != nil {
		change(&cfg)
	}
	e.h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewServer(e.h.BoundBodies(mux))
	t.Cleanup(e.srv.Close)
	return e
}

// account registers a citizen with testPass; change adjusts the account
// (its card check) before it is stored.
func (e *env) account(name, number string, change func(*storage.Account)) storage.Account {
	e.t.Helper()
	id := "acct-" + number
	sealed, _ := testSealer{}.Seal([]byte(number), storage.SSNAssociatedData(id))
	hash, err := e.h.hashes.Hash(e.t.Context(), testPass, e.h.cfg.Password, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := citizenid.Parse(number)
	if err != nil {
		e.t.Fatal(err)
	}
	a := storage.Account{ID: id, Name: name, SSNSealed: sealed, SSNIndex: testSealer{}.BlindIndex(number),
		SSNMasked: n.Masked(), PasswordHash: hash, RealNameVerifiedAt: e.now.Add(-48 * time.Hour),
		CreatedAt: e.now.Add(-48 * time.Hour), UpdatedAt: e.now.Add(-48 * time.Hour)}
	if change != nil {
		change(&a)
	}
	if err := e.store.CreateAccount(e.t.Context(), a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// cardChecked marks an account's card as checked normal at t.
func cardChecked(t time.Time) func(*storage.Account) {
	return func(a *storage.Account) {
		a.CardNumber, a.CardStatus, a.CardCheckedAt, a.CardVerifiedAt = zhangCard, string(connectors.CardNormal), &t, &t
	}
}

// browser is one user agent: its own cookies, redirects not followed.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// request stores an auth request bound to b for client (empty: the
// account page's own), needing acr ("" for the default level).
func (b *browser) request(client, acr string, change func(*storage.AuthRequest)) string {
	b.e.t.Helper()
	// The binding cookie as the protocol front end sets it (Bind).
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, b.e.srv.URL+"/authorize", nil)
	for _, c := range b.c.Jar.Cookies(b.u("/")) {
		r.AddCookie(c)
	}
	hash := b.e.h.Bind(rec, r)
	b.c.Jar.SetCookies(b.u("/"), rec.Result().Cookies())
	req := storage.AuthRequest{ID: "req-" + strconv.Itoa(int(reqCounter.Add(1))),
		Protocol: ProtocolOIDC, ClientID: client, RedirectURI: "https://portal.example/cb", RequiredACR: acr,
		Scopes: []string{"openid", "profile"}, BrowserHash: hash, CreatedAt: b.e.now, ExpiresAt: b.e.now.Add(30 * time.Minute)}
	if change != nil {
		change(&req)
	}
	if err := b.e.store.CreateAuthRequest(b.e.t.Context(), req); err != nil {
		b.e.t.Fatal(err)
	}
	return req.ID
}

// reqCounter names the auth requests of a test run.
var reqCounter atomic.Int64

func (b *browser) u(path string) *url.URL {
	u, err := url.Parse(b.e.srv.URL + path)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return u
}

// response is what a page answered.
type response struct {
	status   int
	location string
	body     string
}

func (b *browser) do(r *http.Request) response {
	b.e.t.Helper()
	res, err := b.c.Do(r)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, location: res.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(path string) response {
	b.e.t.Helper()
	r, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(r)
}

func (b *browser) post(path string, form url.Values) response {
	b.e.t.Helper()
	r, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(r)
}

// postPhoto uploads the face photo form.
func (b *browser) postPhoto(form url.Values, photo string) response {
	b.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("photo", "me.png")
	_, _ = fw.Write([]byte(photo))
	_ = mw.Close()
	r, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+photoPath, &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(r)
}

var (
	csrfField      = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	challengeField = regexp.MustCompile(`name="challenge" value="([^"]+)"`)
)

// field is the value of a hidden field on a page.
func field(t *testing.T, re *regexp.Regexp, page response) string {
	t.Helper()
	m := re.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no %s on the page (status %d):\n%s", re, page.status, page.body)
	}
	return m[1]
}

// form is a step's form: the request, the CSRF token read from its page,
// and fields.
func form(t *testing.T, id string, page response, kv ...string) url.Values {
	t.Helper()
	v := url.Values{"authRequestID": {id}, "csrf_token": {field(t, csrfField, page)}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// text is a message in the page's language (zh-CN: the tests send no
// Accept-Language).
func (e *env) text(key string) string {
	if s, ok := e.h.msgs["zh-CN"][key]; ok {
		return htmlText(s)
	}
	e.t.Fatalf("no message %q", key)
	return ""
}

// htmlText is s as html/template writes it in a text node.
func htmlText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

// want checks a page's status and, when not empty, that it shows the
// message key or redirects to a location starting with prefix.
func (r response) want(t *testing.T, what string, status int, locPrefix string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d; want %d (location %q)\n%s", what, r.status, status, r.location, r.body)
	}
	if locPrefix != "" && !strings.HasPrefix(r.location, locPrefix) {
		t.Fatalf("%s: location %q; want %s…", what, r.location, locPrefix)
	}
}

func (r response) shows(t *testing.T, e *env, what, key string) {
	t.Helper()
	if !strings.Contains(r.body, e.text(key)) {
		t.Fatalf("%s: the page does not say %s (%q):\n%s", what, key, e.text(key), r.body)
	}
}

// login signs b in with the password for request id and returns the
// answer to the password form.
func (b *browser) login(id, number, pw string) response {
	b.e.t.Helper()
	page := b.get(LoginURL(id))
	page.want(b.e.t, "first page", http.StatusOK, "")
	return b.post("/login/password", form(b.e.t, id, page, "ssn", number, "password", pw))
}

// authRequest is the stored request.
func (e *env) authRequest(id string) storage.AuthRequest {
	e.t.Helper()
	r, err := e.store.GetAuthRequest(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// session starts an SSO session for the account in b, authenticated at
// authTime with amr.
func (b *browser) session(accountID string, authTime time.Time, amr ...string) storage.Session {
	b.e.t.Helper()
	rec := httptest.NewRecorder()
	level := assurance.LoA1
	if len(amr) > 1 {
		level = assurance.LoA3
	}
	s, err := b.e.sessions.Start(b.e.t.Context(), rec, accountID, authTime, level.ACR(), amr)
	if err != nil {
		b.e.t.Fatal(err)
	}
	b.c.Jar.SetCookies(b.u("/"), rec.Result().Cookies())
	return s
}
