package idp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
)

// Benchmarks of token minting at the token and introspection endpoints,
// through the node's whole handler (middleware, zitadel/oidc, storage on
// SQLite, ES256 signing) without the network: what one request costs the
// server. docs/performance.md has the numbers;
//
//	go test ./idp -run '^$' -bench Token -benchtime 2s

const benchRedirect = "http://127.0.0.1:9999/cb"

type benchNode struct {
	srv            *idp.Server
	issuer, secret string
}

func startBenchNode(b *testing.B) *benchNode {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := idp.Config{Issuer: "http://" + ln.Addr().String(), DataDir: b.TempDir(),
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := newServer(ctx, cfg, nodeDeps{})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done; _ = srv.Close() })
	a, err := openAdmin(ctx, cfg, nodeDeps{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	const secret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	if _, _, err := a.CreateClient(ctx, admin.ClientSpec{ID: "bench", RedirectURIs: []string{benchRedirect}, Secret: secret, FirstParty: true}); err != nil {
		b.Fatal(err)
	}
	sd, err := openSeeder(ctx, cfg, nodeDeps{})
	if err != nil {
		b.Fatal(err)
	}
	defer sd.Close()
	if _, err := sd.Seed(ctx, benchseed.Spec{Accounts: 1, Password: "Bench-pass-2026"}); err != nil {
		b.Fatal(err)
	}
	return &benchNode{srv: srv, issuer: cfg.Issuer, secret: secret}
}

var (
	benchForm   = regexp.MustCompile(`(?s)action="/login/password".*?</form>`)
	benchHidden = regexp.MustCompile(`name="(authRequestID|csrf_token)" value="([^"]*)"`)
)

// tokens logs the seeded citizen in over HTTP (code flow with PKCE) and
// returns the token response.
func (n *benchNode) tokens(b *testing.B) map[string]any {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), benchRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {"bench"}, "redirect_uri": {benchRedirect},
		"scope": {"openid profile offline_access"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	resp, err := c.Get(n.issuer + "/authorize?" + q.Encode())
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"ssn": {benchseed.Number(0)}, "password": {"Bench-pass-2026"}}
	for _, m := range benchHidden.FindAllSubmatch(benchForm.Find(page), -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	resp, err = c.PostForm(n.issuer+"/login/password", form)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		b.Fatalf("login ended at %d %v, not at the redirect with a code", resp.StatusCode, loc)
	}
	return n.post(b, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {benchRedirect}, "code_verifier": {verifier}})
}

// post calls an endpoint through the handler as the bench client.
func (n *benchNode) post(b *testing.B, path string, form url.Values) map[string]any {
	req := httptest.NewRequest(http.MethodPost, n.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bench", n.secret)
	rec := httptest.NewRecorder()
	n.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body.String())
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		b.Fatal(err)
	}
	return out
}

func BenchmarkToken(b *testing.B) {
	n := startBenchNode(b)
	b.Run("ClientCredentials", func(b *testing.B) {
		form := url.Values{"grant_type": {"client_credentials"}}
		for b.Loop() {
			n.post(b, "/oauth/token", form)
		}
	})
	b.Run("RefreshRotation", func(b *testing.B) {
		rt, _ := n.tokens(b)["refresh_token"].(string)
		for b.Loop() {
			out := n.post(b, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			rt, _ = out["refresh_token"].(string)
		}
	})
	b.Run("Introspect", func(b *testing.B) {
		at, _ := n.tokens(b)["access_token"].(string)
		form := url.Values{"token": {at}}
		for b.Loop() {
			if out := n.post(b, "/oauth/introspect", form); out["active"] != true {
				b.Fatalf("introspection: %v", out)
			}
		}
	})
}
