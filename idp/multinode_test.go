package idp_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// balancer is a load balancer for the test: it forwards every request to
// the node currently chosen, with no stickiness.
type balancer struct {
	target atomic.Pointer[url.URL]
	url    string
}

func newBalancer(t *testing.T, ln net.Listener) *balancer {
	b := &balancer{url: "http://" + ln.Addr().String()}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(b.target.Load())
		pr.Out.Host = pr.In.Host // the nodes see the public host
	}}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *balancer) use(n *node) {
	u, _ := url.Parse("http://" + n.addr)
	b.target.Store(u)
}

// startCluster starts n nodes on one fresh PostgreSQL database behind a
// balancer; all share the issuer (the balancer's URL) and the master key.
func startCluster(t *testing.T, count int, dsn string) (*balancer, []*node) {
	t.Helper()
	lbln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	lb := newBalancer(t, lbln)
	var nodes []*node
	for range count {
		nodes = append(nodes, startNodeWith(t, nodeDeps{postgresDSN: dsn}, func(c *idp.Config) {
			c.Issuer = lb.url
			c.MasterKey.Value = base64.StdEncoding.EncodeToString(key[:])
		}))
	}
	lb.use(nodes[0])
	return lb, nodes
}

// TestTwoNodesOnePostgres: login through node A, token exchange and refresh
// on B, userinfo on A, logout on B ends the session on A; a refresh token
// used on both nodes at once yields exactly one success.
func TestTwoNodesOnePostgres(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the two-node test needs PostgreSQL and does not run")
		return
	}
	lb, nodes := startCluster(t, 2, storagetest.FreshPostgres(t))
	a, b := nodes[0], nodes[1]
	const redirect = "http://127.0.0.1:9401/cb"
	secret := registerClient(t, a, admin.ClientSpec{ID: "portal", RedirectURIs: []string{redirect}})
	lbNode := &node{issuer: lb.url}
	r := newRP(t, lbNode, "portal", secret, redirect)
	br := newBrowser(t, redirect)
	ctx := context.Background()

	// Login through A.
	lb.use(a)
	v := oauth2.GenerateVerifier()
	p := r.authorize(br, "st", "nonce", v)
	done := register(t, br, lbNode, p, zhangSan, zhangSanSSN, goodPass)
	code := codeFrom(t, done, redirect, "st")

	// Token exchange and refresh on B.
	lb.use(b)
	tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange on B: %v", err)
	}
	r.verify(tok)
	tok2, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh on B: %v", err)
	}

	// Userinfo on A.
	lb.use(a)
	if _, err := r.userinfo(tok2); err != nil {
		t.Fatalf("userinfo on A with a token from B: %v", err)
	}

	// A refresh token used on both nodes at once: exactly one success.
	var wg sync.WaitGroup
	var wins atomic.Int32
	for _, n := range []*node{a, b, a, b} {
		wg.Go(func() {
			conf := r.conf
			conf.Endpoint.TokenURL = "http://" + n.addr + "/oauth/token"
			if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("%d of 4 concurrent refreshes on two nodes succeeded; want exactly 1", got)
	}

	// Logout on B ends the session on A.
	lb.use(b)
	v2 := oauth2.GenerateVerifier()
	code2 := codeFrom(t, r.authorize(br, "st2", "n2", v2), redirect, "st2") // SSO on B
	tok3, err := r.conf.Exchange(ctx, code2, oauth2.VerifierOption(v2))
	if err != nil {
		t.Fatal(err)
	}
	lo := br.get(r.eps.EndSession + "?" + url.Values{"id_token_hint": {tok3.Extra("id_token").(string)}}.Encode())
	if lo.status >= 400 {
		t.Fatalf("logout on B: %d", lo.status)
	}
	lb.use(a)
	again := r.authorize(br, "st3", "n3", oauth2.GenerateVerifier())
	if again.status != http.StatusOK || !strings.Contains(again.body, `action="/login/password"`) {
		t.Errorf("after logout on B, node A still signs the citizen in: %d %s", again.status, again.location)
	}
	if _, err := r.userinfo(tok3); err == nil {
		t.Errorf("after logout on B, the session's access token still works on A")
	}
}

// flakyProxy is a TCP proxy to PostgreSQL that the test can cut.
type flakyProxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	return p
}

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
		go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
	}
}

// cut closes every connection and refuses new ones until restore.
func (p *flakyProxy) cut() {
	p.down.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *flakyProxy) restore() { p.down.Store(false) }

// TestPostgresOutage: while PostgreSQL is unreachable, readiness is false and
// requests fail cleanly; when it is back the node recovers without a restart.
func TestPostgresOutage(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the outage test needs PostgreSQL and does not run")
		return
	}
	dsn := storagetest.FreshPostgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFlakyProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	_, nodes := startCluster(t, 1, u.String())
	n := nodes[0]
	const redirect = "http://127.0.0.1:9402/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "portal", RedirectURIs: []string{redirect}})
	r := newRP(t, &node{issuer: n.issuer}, "portal", secret, redirect)

	status := func(path string) int {
		resp, err := http.Get("http://" + n.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Fatalf("readyz before the outage: %d", got)
	}
	// A citizen has a code in hand when the database goes away.
	br := newBrowser(t, redirect)
	v := oauth2.GenerateVerifier()
	p := r.authorize(br, "st", "n", v)
	code := codeFrom(t, register(t, br, &node{issuer: n.issuer}, p, zhangSan, zhangSanSSN, goodPass), redirect, "st")
	// … and a portal holds a refresh token through it.
	v0 := oauth2.GenerateVerifier()
	held, _ := exchange(t, r, r.authorize(br, "st0", "n", v0), v0, "st0")
	proxy.cut()
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: %d; want 503", got)
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("healthz during the outage: %d; want 200 (the process is up)", got)
	}
	// The token request fails cleanly and says "try again", not "bad code".
	_, err = r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable || re.ErrorCode != "temporarily_unavailable" || re.Response.Header.Get("Retry-After") == "" {
		t.Errorf("token exchange during the outage: %v; want 503 temporarily_unavailable with Retry-After", err)
	}
	// A new sign-in at the portal is sent back with temporarily_unavailable
	// (RFC 6749 §4.1.2.1), not server_error, and a login page says "try
	// again shortly" with 503 and Retry-After, without internal text.
	out := r.authorize(newBrowser(t, redirect), "st2", "n", oauth2.GenerateVerifier())
	if lu, _ := url.Parse(out.location); lu == nil || lu.Query().Get("error") != "temporarily_unavailable" {
		t.Errorf("authorize during the outage: %d %q; want a redirect with error=temporarily_unavailable", out.status, out.location)
	}
	lreq, _ := http.NewRequest(http.MethodGet, "http://"+n.addr+"/login?authRequestID=anything", nil)
	lreq.Header.Set("Accept-Language", "en")
	lresp, err := http.DefaultClient.Do(lreq)
	if err != nil {
		t.Fatal(err)
	}
	lbody, _ := io.ReadAll(lresp.Body)
	lresp.Body.Close()
	if lresp.StatusCode != http.StatusServiceUnavailable || lresp.Header.Get("Retry-After") == "" || !strings.Contains(string(lbody), "briefly unavailable") {
		t.Errorf("login page during the outage: %d Retry-After %q:\n%s", lresp.StatusCode, lresp.Header.Get("Retry-After"), lbody)
	}
	desc := ""
	if lu, _ := url.Parse(out.location); lu != nil {
		desc = lu.Query().Get("error_description")
	}
	for _, leak := range []string{"sqlstore", "pgx", "dial", "connect:", "127.0.0.1:"} {
		if strings.Contains(string(lbody), leak) || strings.Contains(desc, leak) {
			t.Errorf("answer during the outage shows internal text %q", leak)
		}
	}
	if _, err := r.refresh(held.RefreshToken); oauthError(err) != "temporarily_unavailable" {
		t.Errorf("refresh during the outage: %v; want temporarily_unavailable", err)
	}
	// Client credentials need no database when the client is cached: a
	// token, or at worst 503; never a 500.
	ccReq, _ := http.NewRequest(http.MethodPost, "http://"+n.addr+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	ccReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ccReq.SetBasicAuth("portal", secret)
	if ccResp, err := http.DefaultClient.Do(ccReq); err != nil {
		t.Fatal(err)
	} else {
		ccResp.Body.Close()
		if ccResp.StatusCode != http.StatusOK && ccResp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("client credentials during the outage: %d; want 200 (cached client) or 503", ccResp.StatusCode)
		}
	}
	// A revocation that could not be carried out is not answered 200
	// (which would tell the portal the token is dead).
	for _, hint := range []string{"refresh_token", "access_token"} {
		if got := r.revoke(held.RefreshToken, hint); got != http.StatusServiceUnavailable {
			t.Errorf("revocation (%s hint) during the outage: %d; want 503", hint, got)
		}
	}
	proxy.restore()
	deadline := time.Now().Add(10 * time.Second)
	for status("/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("readyz did not recover within 10s after PostgreSQL came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And the node works again: the same code, not used up by the outage.
	if _, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err != nil {
		t.Errorf("exchange after recovery: %v", err)
	}
	// The refresh token tried during the outage was neither used up nor
	// taken as a reuse (which would have revoked its family).
	if _, err := r.refresh(held.RefreshToken); err != nil {
		t.Errorf("refresh after recovery with the token held through the outage: %v", err)
	}
}
