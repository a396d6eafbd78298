package idp_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// Every check has a limit, counted before the check; per-address limits
// key on the client behind trusted proxies only; page bodies are bounded.

const (
	wrongPasswordText = "The social security number or the password is wrong"
	lockedNumberText  = "Too many failed logins for this number"
	lockedAddressText = "Too many failed logins from your network"
	cardMismatchText  = "does not match your card records"
	cardLockedText    = "Too many card numbers that did not match"
	tooLargeText      = "The form sent is too large"
)

// fastLockout keeps the progressive delay short and the form rate limit
// out of the way (each test says which limit it exercises).
func fastLockout(l idp.LockoutConfig) idp.LockoutConfig {
	l.PasswordDelay, l.PasswordMaxDelay = time.Millisecond, 2*time.Millisecond
	l.FormRate, l.FormBurst = 1000, 1000
	return l
}

// citizenNumber makes a valid GB 11643 number from 17 digits.
func citizenNumber(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

// withHeader makes every request of the browser carry the header (a client
// that writes its own X-Forwarded-For, or the proxy in front of the node).
func withHeader(b *browser, key, value string) *browser {
	base := b.c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	b.c.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(key, value)
		return base.RoundTrip(r)
	})
	return b
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCardNumberGuessingLocked: card numbers that do not match lock the
// real-card step of the account; the right number after them is refused
// until the window ends. (Before: 30 wrong numbers, then the right one,
// passed.)
func TestCardNumberGuessingLocked(t *testing.T) {
	clk := &clock{t: time.Now()}
	n := startNode(t, func(c *idp.Config) {
		c.Now = clk.Now
		c.Tokens.AuthRequestLifetime = 3 * time.Hour
		c.Lockout = fastLockout(idp.LockoutConfig{CardPerAccount: 5})
	})
	const redirect = "http://127.0.0.1:9811/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:2"})
	r := newRP(t, n, "tax", secret, redirect)
	br := newBrowser(t, redirect)
	page := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000004")
	for i := range 5 {
		if page.status != http.StatusUnauthorized || !strings.Contains(page.body, cardMismatchText) {
			t.Fatalf("wrong card number %d: status %d:\n%s", i+1, page.status, page.body)
		}
		if i < 4 {
			page = br.submit(n.issuer, formFor(t, page, "/login/card"), map[string]string{"card_number": fmt.Sprintf("A0000000%d", 2+i%3)})
		}
	}
	id := formFor(t, page, "/login/card").fields.Get("authRequestID")
	right := br.submit(n.issuer, formFor(t, page, "/login/card"), map[string]string{"card_number": "A00000001"})
	if right.status != http.StatusTooManyRequests || !strings.Contains(right.body, cardLockedText) {
		t.Fatalf("the right card number after 5 wrong ones: status %d; want 429 locked:\n%s", right.status, right.body)
	}
	if !strings.Contains(n.logs.String(), `"msg":"real-card check locked"`) {
		t.Errorf("no audit line for the lock")
	}
	// When the window is over the right number passes.
	clk.Add(61 * time.Minute)
	again := br.get(n.issuer + "/login/card?authRequestID=" + url.QueryEscape(id))
	if again.status != http.StatusOK {
		t.Fatalf("card page after the window: %d:\n%s", again.status, again.body)
	}
	done := br.submit(n.issuer, formFor(t, again, "/login/card"), map[string]string{"card_number": "A00000001"})
	codeFrom(t, done, redirect, "st") // the right number after the window passes

	// The account page's card check has the same limit.
	clk.Add(61 * time.Minute)
	acct := br.get(n.issuer + "/account")
	f, ok := formWith(t, acct, "/account/card")
	if !ok {
		t.Fatalf("account page (%d) has no card form:\n%s", acct.status, acct.body)
	}
	for i := range 5 {
		if got := br.submit(n.issuer, f, map[string]string{"card_number": "A00000004"}); got.status != http.StatusUnauthorized {
			t.Fatalf("account page, wrong card number %d: %d", i+1, got.status)
		}
	}
	if got := br.submit(n.issuer, f, map[string]string{"card_number": "A00000001"}); got.status != http.StatusTooManyRequests || !strings.Contains(got.body, cardLockedText) {
		t.Errorf("account page, the right card number after 5 wrong ones: %d; want 429 locked:\n%s", got.status, got.body)
	}
}

// formWith is the page's form posting to action, if any.
func formWith(t *testing.T, p page, action string) (form, bool) {
	for _, f := range forms(t, p.body) {
		if f.action == action {
			return f, true
		}
	}
	return form{}, false
}

// TestCardGuessingLimitedByAddress: wrong card numbers for several
// accounts from one address lock the card step for that address.
func TestCardGuessingLimitedByAddress(t *testing.T) {
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{CardPerAccount: 5, CardPerIP: 3})
	})
	const redirect = "http://127.0.0.1:9812/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:3"})
	r := newRP(t, n, "tax", secret, redirect)
	br := newBrowser(t, redirect)
	page := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000004")
	for i := range 2 {
		if page.status != http.StatusUnauthorized {
			t.Fatalf("wrong card number %d: %d", i+1, page.status)
		}
		page = br.submit(n.issuer, formFor(t, page, "/login/card"), map[string]string{"card_number": "A00000004"})
	}
	if page.status != http.StatusUnauthorized {
		t.Fatalf("wrong card number 3: %d", page.status)
	}
	// Another citizen from the same address, with the right card.
	other := newBrowser(t, redirect)
	got := throughCard(t, n, r, other, "李四", "440305198511120028", "A00000002")
	if got.status != http.StatusTooManyRequests || !strings.Contains(got.body, cardLockedText) {
		t.Errorf("another account from the same address after 3 misses: %d; want 429:\n%s", got.status, got.body)
	}
}

// TestParallelWrongPasswordsStopAtTheLimit: 20 wrong passwords sent at
// once for one number: at most the limit of them reach the password check
// (401), the others are refused as locked (429), and so is the right
// password afterwards. (Before: all 20 got 401.)
func TestParallelWrongPasswordsStopAtTheLimit(t *testing.T) {
	const limit = 5
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{PasswordFailures: limit, PasswordPerIP: 100})
	})
	const red = "http://127.0.0.1:9813/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}})
	r := newRP(t, n, "c", secret, red)
	reg := newBrowser(t, red)
	register(t, reg, n, r.authorize(reg, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, goodPass)

	const parallel = 20
	type attempt struct {
		b *browser
		f form
	}
	var attempts []attempt
	for range parallel {
		b := newBrowser(t, red)
		p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
		attempts = append(attempts, attempt{b, formFor(t, p, "/login/password")})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses := make([]int, parallel)
	bodies := make([]string, parallel)
	errs := make([]error, parallel)
	for i, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := a.f.fields
			v.Set("ssn", zhangSanSSN)
			v.Set("password", fmt.Sprintf("wrong password %d", i))
			req, _ := http.NewRequest(http.MethodPost, n.issuer+"/login/password", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept-Language", "en")
			<-start
			resp, err := a.b.c.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i], bodies[i] = resp.StatusCode, string(body)
		}()
	}
	close(start)
	wg.Wait()
	wrong, locked := 0, 0
	for i := range parallel {
		switch {
		case errs[i] != nil:
			t.Fatalf("attempt %d: %v", i, errs[i])
		case statuses[i] == http.StatusUnauthorized && strings.Contains(bodies[i], wrongPasswordText):
			wrong++
		case statuses[i] == http.StatusTooManyRequests && strings.Contains(bodies[i], lockedNumberText):
			locked++
		default:
			t.Errorf("attempt %d: status %d:\n%s", i, statuses[i], bodies[i])
		}
	}
	if wrong > limit || wrong+locked != parallel {
		t.Errorf("%d parallel wrong passwords: %d answered \"wrong password\", %d locked; want at most %d wrong and the rest locked", parallel, wrong, locked, limit)
	}
	if wrong != limit {
		t.Logf("note: %d of %d reached the check", wrong, limit)
	}
	b := newBrowser(t, red)
	p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
	right := b.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	if right.status != http.StatusTooManyRequests {
		t.Errorf("the right password while locked: %d; want 429", right.status)
	}
}

// TestPasswordSprayingLimitedByAddress: one wrong password each for many
// different numbers from one address locks password login from that
// address, for any number, while other addresses (behind the trusted
// proxy) are not affected.
func TestPasswordSprayingLimitedByAddress(t *testing.T) {
	const perIP = 4
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{PasswordFailures: 5, PasswordPerIP: perIP})
		c.TrustedProxies = []string{"127.0.0.1/32"}
	})
	const red = "http://127.0.0.1:9814/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}})
	r := newRP(t, n, "c", secret, red)
	reg := newBrowser(t, red)
	register(t, reg, n, r.authorize(reg, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, goodPass)

	try := func(from, ssn, pw string) page {
		b := withHeader(newBrowser(t, red), "X-Forwarded-For", from)
		p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
		return b.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": ssn, "password": pw})
	}
	const sprayer = "198.51.100.7"
	for i := range perIP {
		ssn := citizenNumber(fmt.Sprintf("11010519900101%03d", 100+i))
		if got := try(sprayer, ssn, "Winter2026!"); got.status != http.StatusUnauthorized {
			t.Fatalf("spray %d (%s…): %d; want 401", i+1, ssn[:6], got.status)
		}
	}
	next := try(sprayer, citizenNumber("11010519900101999"), "Winter2026!")
	if next.status != http.StatusTooManyRequests || !strings.Contains(next.body, lockedAddressText) {
		t.Errorf("a fresh number from the spraying address: %d; want 429 locked by address:\n%s", next.status, next.body)
	}
	if got := try(sprayer, zhangSanSSN, goodPass); got.status != http.StatusTooManyRequests {
		t.Errorf("the right password from the spraying address: %d; want 429", got.status)
	}
	if got := try("198.51.100.8", zhangSanSSN, goodPass); got.status != http.StatusFound && got.status != http.StatusSeeOther {
		t.Errorf("the right password from another address: %d; want the redirect to the portal:\n%s", got.status, got.body)
	}
}

// TestSpoofedForwardedForIgnored: without trusted proxies, a client that
// writes its own X-Forwarded-For (a new address per attempt) is still
// counted by its peer address and locked.
func TestSpoofedForwardedForIgnored(t *testing.T) {
	const perIP = 3
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{PasswordFailures: 5, PasswordPerIP: perIP})
	})
	const red = "http://127.0.0.1:9815/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	for i := range perIP + 1 {
		b := withHeader(newBrowser(t, red), "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
		got := b.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": citizenNumber(fmt.Sprintf("11010519900102%03d", i)), "password": "guess"})
		want := http.StatusUnauthorized
		if i == perIP {
			want = http.StatusTooManyRequests
		}
		if got.status != want {
			t.Errorf("attempt %d with a spoofed X-Forwarded-For: %d; want %d:\n%s", i+1, got.status, want, got.body)
		}
	}
	if strings.Contains(n.logs.String(), "203.0.113.") {
		t.Errorf("a spoofed address reached the log lines")
	}
}

// TestForwardedHeaderFromTrustedProxy: with client_ip_header Forwarded,
// the RFC 7239 for= of the trusted proxy names the client; a client-written
// part to its left is not believed, and X-Forwarded-For is not read.
func TestForwardedHeaderFromTrustedProxy(t *testing.T) {
	const perIP = 2
	n := startNode(t, func(c *idp.Config) {
		c.Lockout = fastLockout(idp.LockoutConfig{PasswordFailures: 5, PasswordPerIP: perIP})
		c.TrustedProxies = []string{"127.0.0.0/8"}
		c.ClientIPHeader = "Forwarded"
	})
	const red = "http://127.0.0.1:9816/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	try := func(i int, key, value string) int {
		b := withHeader(newBrowser(t, red), key, value)
		p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
		return b.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": citizenNumber(fmt.Sprintf("11010519900103%03d", i)), "password": "guess"}).status
	}
	// The client rotates the part it writes; the proxy appends the truth.
	for i := range perIP {
		if got := try(i, "Forwarded", fmt.Sprintf(`for=192.0.2.%d, for="198.51.100.20:4711";proto=http`, i)); got != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, got)
		}
	}
	if got := try(10, "Forwarded", "for=192.0.2.99, for=198.51.100.20"); got != http.StatusTooManyRequests {
		t.Errorf("third attempt from 198.51.100.20: %d; want 429", got)
	}
	if got := try(11, "Forwarded", "for=198.51.100.21"); got != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d; want 401 (not locked)", got)
	}
	if !strings.Contains(n.logs.String(), `"ip":"198.51.100.20"`) {
		t.Errorf("log lines do not name the forwarded client")
	}
	// X-Forwarded-For is not read when Forwarded is configured: the
	// client is then the proxy itself (127.0.0.1), not yet locked.
	if got := try(12, "X-Forwarded-For", "198.51.100.20"); got != http.StatusUnauthorized {
		t.Errorf("X-Forwarded-For with client_ip_header Forwarded: %d; want 401 keyed by the proxy", got)
	}
}

// TestBadTrustedProxyRefused: a node does not start with a trusted proxy
// that is not a CIDR.
func TestBadTrustedProxyRefused(t *testing.T) {
	_, err := newServer(t.Context(), idp.Config{DataDir: t.TempDir(), TrustedProxies: []string{"10.0.0.0/8", "10.0.0.0/40"}}, nodeDeps{})
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies") || !strings.Contains(err.Error(), "10.0.0.0/40") {
		t.Errorf("idp.New with a bad CIDR: %v; want an error naming trusted_proxies and the entry", err)
	}
}

// countingBody counts what the server reads of a request body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestLargeFormRefusedBeforeReading: an 80 MB form posted to /logout or to
// /login/password is answered 413 before its body is read, with or without
// a Content-Length, urlencoded or multipart; nothing lands in TMPDIR. (Before:
// an 80 MB upload to /logout was read in full before a 403.)
func TestLargeFormRefusedBeforeReading(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	n := startNode(t)
	var read atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A shallow copy: the server keeps its own view of the original
		// request (to close the connection gracefully after a 413).
		r = r.WithContext(r.Context())
		if r.Body != nil {
			r.Body = countingBody{r.Body, &read}
		}
		n.srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	const size = 80 << 20
	const maxRead = 16<<10 + 1
	mp := "multipart/form-data; boundary=xyz"
	for _, tc := range []struct {
		name, path, contentType string
		chunked                 bool
		want                    int
		maxRead                 int64
	}{
		{"logout", "/logout", "application/x-www-form-urlencoded", false, http.StatusRequestEntityTooLarge, 0},
		{"logout chunked", "/logout", "application/x-www-form-urlencoded", true, http.StatusRequestEntityTooLarge, maxRead},
		{"logout multipart", "/logout", mp, false, http.StatusRequestEntityTooLarge, 0},
		{"logout multipart chunked", "/logout", mp, true, http.StatusUnsupportedMediaType, 0},
		{"password", "/login/password", "application/x-www-form-urlencoded", false, http.StatusRequestEntityTooLarge, 0},
		{"password chunked", "/login/password", "application/x-www-form-urlencoded", true, http.StatusRequestEntityTooLarge, maxRead},
		{"password multipart chunked", "/login/password", mp, true, http.StatusUnsupportedMediaType, 0},
		{"account card chunked", "/account/card", "application/x-www-form-urlencoded", true, http.StatusRequestEntityTooLarge, maxRead},
		{"consent", "/login/consent", "application/x-www-form-urlencoded", false, http.StatusRequestEntityTooLarge, 0},
		{"GET with a body", "/login", "application/x-www-form-urlencoded", false, http.StatusRequestEntityTooLarge, 0},
		{"photo", "/login/face/photo", mp, false, http.StatusRequestEntityTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read.Store(0)
			var body io.Reader = io.LimitReader(zeros{}, size)
			if strings.HasPrefix(tc.contentType, "multipart/") {
				// A file part, as a browser sends an upload.
				head := "--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
				body = io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, size-int64(len(head))))
			}
			method := http.MethodPost
			if strings.HasPrefix(tc.name, "GET") {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = size
			if tc.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", tc.contentType)
			req.Header.Set("Accept-Language", "en")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, tc.path, err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d; want %d:\n%s", resp.StatusCode, tc.want, page)
			}
			if tc.want == http.StatusRequestEntityTooLarge && !strings.Contains(string(page), tooLargeText) {
				t.Errorf("413 page does not say what happened:\n%s", page)
			}
			if got := read.Load(); got > tc.maxRead {
				t.Errorf("the server read %d bytes of the body; want at most %d", got, tc.maxRead)
			}
		})
	}
	// A chunked upload to the photo route is read only up to its own cap,
	// in memory.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("photo", "big.png")
	_, _ = io.CopyN(fw, zeros{}, 7<<20)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/login/face/photo", io.MultiReader(&buf))
	req.ContentLength = -1
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 7 MB photo: %d; want 413", resp.StatusCode)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("TMPDIR holds %s after the uploads", e.Name())
	}
}

// TestSmallFormsStillServed: an ordinary form below the cap is served as
// before, and a small multipart post to a form page is refused with 415.
func TestSmallFormsStillServed(t *testing.T) {
	n := startNode(t)
	b := newBrowser(t)
	if got := b.post(n.issuer+"/login/password", url.Values{"authRequestID": {"nope"}, "x": {strings.Repeat("a", 15<<10)}}); got.status == http.StatusRequestEntityTooLarge {
		t.Errorf("a 15 KiB form: 413; want it served")
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("authRequestID", "x")
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, n.issuer+"/logout", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if got := b.do(req); got.status != http.StatusUnsupportedMediaType {
		t.Errorf("a small multipart /logout: %d; want 415", got.status)
	}
}
