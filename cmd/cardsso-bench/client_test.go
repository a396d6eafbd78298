package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testTarget is a Target on srv with the bench client's credentials.
func testTarget(srv *httptest.Server) *Target {
	t := &Target{
		Issuer: srv.URL, ClientID: "bench", Secret: "s3cr:t/+ x", Redirect: "http://127.0.0.1:9999/cb",
		Scope: "openid profile", hc: newHTTPClient(4, nil),
	}
	t.Discovery.TokenEndpoint = srv.URL + "/token"
	t.Discovery.AuthorizationEndpoint = srv.URL + "/authorize"
	return t
}

// cookieServer sets, scopes and expires cookies, and echoes the Cookie
// header it gets.
func cookieServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	echo := func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Header.Get("Cookie")) }
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/a/echo", echo)
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "1", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "scoped", Value: "x", Path: "/a"})
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/expire", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Path: "/", MaxAge: -1}) // Max-Age=0: delete
		http.SetCookie(w, &http.Cookie{Name: "old", Value: "1", Path: "/", Expires: time.Now().Add(-time.Hour)})
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowserCookies(t *testing.T) {
	srv := cookieServer(t)
	tg := testTarget(srv)
	ctx := context.Background()
	b1, b2 := newBrowser(tg, tg.hc), newBrowser(tg, tg.hc) // one connection pool, two jars

	// A cookie set on a redirect goes with the request that follows it.
	_, err := b1.follow(ctx, srv.URL+"/set", flow{})
	var page *errPage
	if !errors.As(err, &page) {
		t.Fatalf("follow(/set) = %v; want the /echo page", err)
	}
	if got := string(page.body); got != "sid=1" {
		t.Errorf("after the redirect, /echo got Cookie %q; want %q", got, "sid=1")
	}

	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	steps := []struct {
		name string
		b    *client
		path string // or a whole URL
		want string // the Cookie header the server sees
	}{
		{"same browser, same host", b1, "/echo", "sid=1"},
		{"path-scoped cookie on its path", b1, "/a/echo", "scoped=x; sid=1"},
		{"path-scoped cookie off its path", b1, "/echo", "sid=1"},
		{"another browser on the same connections", b2, "/echo", ""},
		{"another host (host-only cookie)", b1, "http://localhost:" + port + "/echo", ""},
		{"expire", b1, "/expire", ""},
		{"deleted and expired cookies dropped", b1, "/echo", ""},
		{"path-scoped cookie kept", b1, "/a/echo", "scoped=x"},
		{"fresh jar", nil, "/a/echo", ""},
	}
	for _, s := range steps {
		b := s.b
		if b == nil {
			b = b1
			b.clearCookies()
		}
		u := s.path
		if strings.HasPrefix(u, "/") {
			u = srv.URL + u
		}
		if err := b.get(ctx, u, nil); err != nil {
			t.Fatalf("%s: GET %s: %v", s.name, u, err)
		}
		if got := string(b.resp.Body()); got != s.want {
			t.Errorf("%s: GET %s sent Cookie %q; want %q", s.name, s.path, got, s.want)
		}
	}

	// An API client keeps no cookies.
	c := &client{}
	c.init(tg, tg.hc, nil)
	for _, p := range []string{"/set", "/echo"} {
		if err := c.get(ctx, srv.URL+p, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(c.resp.Body()); got != "" {
		t.Errorf("a client without a jar sent Cookie %q", got)
	}
}

func TestClientErrors(t *testing.T) {
	long := strings.Repeat("internal   error\n", 40)
	mux := http.NewServeMux()
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, long, http.StatusInternalServerError)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tg := testTarget(srv)
	ctx := context.Background()
	c := plainClient(&Env{T: tg})

	// Non-2xx: a statusError with the method, the URL without its query,
	// the status and a short, one-line snippet of the body.
	_, err := c.getOK(ctx, srv.URL+"/fail?code=secret-code")
	var se *statusError
	if !errors.As(err, &se) || se.code != http.StatusInternalServerError {
		t.Fatalf("getOK(/fail) = %v; want a statusError 500", err)
	}
	msg := err.Error()
	for _, want := range []string{"GET " + srv.URL + "/fail: status 500: internal error internal error", "…"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q; want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "secret-code") || strings.Contains(msg, "\n") || len(msg) > 250 {
		t.Errorf("error %q; want one short line without the query", msg)
	}

	c.newForm().Add("grant_type", "client_credentials")
	_, err = c.token(ctx)
	if !errors.As(err, &se) || se.code != http.StatusBadRequest || !strings.Contains(err.Error(), `POST `+srv.URL+`/token: status 400: {"error":"invalid_grant"}`) {
		t.Errorf("token() = %v; want POST …/token: status 400 with the body", err)
	}

	// The runner counts a non-2xx answer as an error and keeps its message.
	res := run(ctx, []Worker{&getWorker{c: c, url: srv.URL + "/fail"}}, 0, 100*time.Millisecond, 0, &tg.requests, soak{})
	if res.Errors == 0 || res.Iterations != 0 || len(res.ErrorSamples) == 0 || !strings.Contains(res.ErrorSamples[0], "status 500") {
		t.Errorf("run against /fail: %d errors, %d iterations, samples %q; want errors with status 500 and no iterations", res.Errors, res.Iterations, res.ErrorSamples)
	}

	// Connection refused: a plain error naming the request, no panic.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	_, err = c.getOK(ctx, closed+"/x?state=s")
	var re *requestError
	if !errors.As(err, &re) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("getOK(closed port) = %#v; want a requestError wrapping ECONNREFUSED", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "GET "+closed+"/x: ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q; want GET <url>: … connection refused", msg)
	}
	tg.Discovery.TokenEndpoint = closed + "/token"
	c.newForm().Add("grant_type", "client_credentials")
	if _, err := c.token(ctx); !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "POST ") {
		t.Errorf("token(closed port) = %v; want POST …: connection refused", err)
	}

	// A cancelled context stops a request before it is sent.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.getOK(cctx, srv.URL+"/fail"); !errors.Is(err, context.Canceled) {
		t.Errorf("getOK(cancelled) = %v; want context.Canceled", err)
	}
}

// TestTokenRequest checks the token request on the wire: basic auth with the
// form-encoded id and secret (RFC 6749 §2.3.1) and the form body; and that a
// POST on a keep-alive connection the server has since closed is sent again
// on a new one.
func TestTokenRequest(t *testing.T) {
	var got url.Values
	var user, pass string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got = r.PostForm
		u, p, _ := r.BasicAuth()
		user, _ = url.QueryUnescape(u)
		pass, _ = url.QueryUnescape(p)
		fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer"}`)
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	defer srv.Close()
	tg := testTarget(srv)
	c := plainClient(&Env{T: tg})
	for i := range 2 {
		form := c.newForm()
		form.Add("grant_type", "refresh_token")
		form.Add("refresh_token", "a b&c=d+é")
		tr, err := c.token(context.Background())
		if err != nil || tr.AccessToken != "at" {
			t.Fatalf("token() #%d = %+v, %v; want access token at", i+1, tr, err)
		}
		want := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a b&c=d+é"}}
		if got.Encode() != want.Encode() || user != tg.ClientID || pass != tg.Secret {
			t.Errorf("server got form %v, basic auth %q:%q; want %v, %q:%q", got, user, pass, want, tg.ClientID, tg.Secret)
		}
		time.Sleep(100 * time.Millisecond) // the server closes the idle connection
	}
	if n := tg.requests.Load(); n != 2 {
		t.Errorf("requests = %d; want 2", n)
	}
}

func TestAuthorizeURL(t *testing.T) {
	tg := &Target{ClientID: "bench", Redirect: "http://127.0.0.1:9999/cb", Scope: "openid profile"}
	tg.Discovery.AuthorizationEndpoint = "http://op.test/authorize"
	c := &client{t: tg}
	for _, tc := range []struct {
		extra url.Values
		scope string
	}{
		{nil, "openid profile"},
		{url.Values{"scope": {"openid offline_access"}, "prompt": {"consent"}}, "openid offline_access"},
	} {
		raw, f := c.authorizeURL(tc.extra)
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		want := url.Values{
			"response_type": {"code"}, "client_id": {"bench"}, "redirect_uri": {tg.Redirect},
			"scope": {tc.scope}, "state": {f.state}, "nonce": {f.nonce},
			"code_challenge": {q.Get("code_challenge")}, "code_challenge_method": {"S256"},
		}
		for k, v := range tc.extra {
			if k != "scope" {
				want[k] = v
			}
		}
		if u.Scheme+"://"+u.Host+u.Path != tg.Discovery.AuthorizationEndpoint || q.Encode() != want.Encode() || f.state == "" {
			t.Errorf("authorizeURL(%v) = %s; want %s?%s", tc.extra, raw, tg.Discovery.AuthorizationEndpoint, want.Encode())
		}
		if sum := sha256.Sum256([]byte(f.verifier)); q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Errorf("code_challenge %q is not S256 of the verifier %q", q.Get("code_challenge"), f.verifier)
		}
	}
}
