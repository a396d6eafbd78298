package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/valyala/fasthttp"
)

// Target is the provider under test, as discovery describes it, and the
// bench client registered there.
type Target struct {
	Issuer   string
	ClientID string
	Secret   string
	Redirect string
	Scope    string
	// CCScope is the scope asked for in the client credentials grant.
	CCScope string

	Discovery struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}

	// hc holds the keep-alive connections from the default source address.
	hc       *fasthttp.Client
	requests atomic.Int64 // HTTP requests sent, for requests per iteration

	authOnce sync.Once
	auth     string // the Authorization header of the bench client

	jwksMu sync.RWMutex
	jwks   jose.JSONWebKeySet
}

// basicAuth is the bench client's Authorization header: RFC 6749 §2.3.1
// form-encodes the id and secret, then HTTP basic authentication.
func (t *Target) basicAuth() string {
	t.authOnce.Do(func() {
		cred := url.QueryEscape(t.ClientID) + ":" + url.QueryEscape(t.Secret)
		t.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	})
	return t.auth
}

// discover reads the discovery document and the key set.
func (t *Target) discover(ctx context.Context) error {
	var c client
	c.init(t, t.hc, nil)
	body, err := c.getOK(ctx, strings.TrimSuffix(t.Issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if err := json.Unmarshal(body, &t.Discovery); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if t.Discovery.Issuer != t.Issuer {
		return fmt.Errorf("discovery: issuer %q; want %q (use --issuer exactly as the provider names itself)", t.Discovery.Issuer, t.Issuer)
	}
	return t.refreshKeys(ctx)
}

// refreshKeys fetches the JWKS into the cache.
func (t *Target) refreshKeys(ctx context.Context) error {
	var c client
	c.init(t, t.hc, nil)
	body, err := c.getOK(ctx, t.Discovery.JWKSURI)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	t.jwksMu.Lock()
	t.jwks = set
	t.jwksMu.Unlock()
	return nil
}

func (t *Target) key(kid string) (jose.JSONWebKey, bool) {
	t.jwksMu.RLock()
	defer t.jwksMu.RUnlock()
	for _, k := range t.jwks.Keys {
		if k.KeyID == kid && k.Use != "enc" {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

var idTokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.RS256, jose.PS256}

// verifyIDToken checks an ID token's signature against the cached JWKS
// (fetched again once for an unknown kid) and its iss, aud, exp and nonce.
func (t *Target) verifyIDToken(ctx context.Context, raw, nonce string) error {
	jws, err := jose.ParseSignedCompact(raw, idTokenAlgs)
	if err != nil {
		return fmt.Errorf("id token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return errors.New("id token: want one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	k, ok := t.key(kid)
	if !ok {
		if err := t.refreshKeys(ctx); err != nil {
			return err
		}
		if k, ok = t.key(kid); !ok {
			return fmt.Errorf("id token: unknown kid %q", kid)
		}
	}
	payload, err := jws.Verify(k)
	if err != nil {
		return fmt.Errorf("id token: %w", err)
	}
	var c struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Exp   int64           `json:"exp"`
		Nonce string          `json:"nonce"`
		Sub   string          `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("id token claims: %w", err)
	}
	var aud []string
	if err := json.Unmarshal(c.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err != nil {
			return errors.New("id token: bad aud")
		}
		aud = []string{one}
	}
	switch {
	case c.Iss != t.Discovery.Issuer:
		return fmt.Errorf("id token: iss %q", c.Iss)
	case !slices.Contains(aud, t.ClientID):
		return fmt.Errorf("id token: aud %v", aud)
	case time.Now().Unix() >= c.Exp:
		return errors.New("id token: expired")
	case nonce != "" && c.Nonce != nonce:
		return errors.New("id token: nonce mismatch")
	case c.Sub == "":
		return errors.New("id token: no sub")
	}
	return nil
}

// An HTTP request takes at most this long (writing it, then reading the
// whole answer); a dial at most dialTimeout.
const (
	requestTimeout = 30 * time.Second
	dialTimeout    = 5 * time.Second
)

// newHTTPClient is a keep-alive HTTP/1.1 client (fasthttp: no goroutines
// per connection, requests and responses reused) with up to conns
// connections per host; local, when set, is the source address of its
// connections. It follows no redirects: the flows do, by hand.
func newHTTPClient(conns int, local net.IP) *fasthttp.Client {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &fasthttp.Client{
		Name:                   "cardsso-bench",
		Dial:                   func(addr string) (net.Conn, error) { return d.Dial("tcp", addr) },
		MaxConnsPerHost:        conns,
		MaxConnWaitTimeout:     requestTimeout,
		ReadTimeout:            requestTimeout,
		WriteTimeout:           requestTimeout,
		DisablePathNormalizing: true, // send Location targets as given
		RetryIfErr:             retryIfErr,
	}
}

// retryIfErr retries an idempotent request, as fasthttp does by default, and
// any request whose connection the server closed before answering (a
// keep-alive connection that sat idle past the server's keep-alive timeout:
// node's is 5 s); a server that closed without an answer has not acted on
// the request. fasthttp retries only after a failed attempt, at most
// DefaultMaxIdemponentCallAttempts times.
func retryIfErr(req *fasthttp.Request, _ int, err error) (resetTimeout, retry bool) {
	if req.Header.IsGet() || req.Header.IsHead() {
		return false, true
	}
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// client is one user agent: an HTTP client that does not follow redirects
// (the flows follow them by hand) with, for a browser, a cookie jar. Its
// request and response are reused from one request to the next, so a
// client serves one worker at a time, and a body read from c.resp is valid
// until its next request.
type client struct {
	t  *Target
	hc *fasthttp.Client
	// jar is a browser's cookies (net/http/cookiejar: domain, path,
	// expiry and host-only rules); nil for a client that keeps none.
	jar *cookiejar.Jar

	req  fasthttp.Request
	resp fasthttp.Response
	form fasthttp.Args // the form being built (newForm)
	buf  []byte        // a URL or body being built
}

func (c *client) init(t *Target, hc *fasthttp.Client, jar *cookiejar.Jar) {
	c.t, c.hc, c.jar = t, hc, jar
}

// newBrowser is a client with its own cookie jar.
func newBrowser(t *Target, hc *fasthttp.Client) *client {
	c := &client{}
	c.init(t, hc, nil)
	c.clearCookies()
	return c
}

// clearCookies gives the browser an empty jar: a fresh browser that keeps
// the client's connections and buffers.
func (c *client) clearCookies() {
	c.jar, _ = cookiejar.New(nil) // never fails without options
}

// requestError is a request that got no answer: the connection was
// refused or broke, or the answer timed out.
type requestError struct {
	method, url string
	err         error
}

func (e *requestError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.method, stripQuery(e.url), e.err)
}

func (e *requestError) Unwrap() error { return e.err }

// statusError is an unexpected HTTP status.
type statusError struct {
	method, url string
	code        int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, stripQuery(e.url), e.code, e.body)
}

// stripQuery leaves a URL's query (codes, tokens, state) out of messages.
func stripQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// statusErr is the statusError of the answer in c.resp.
func (c *client) statusErr(u string) error {
	return &statusError{string(c.req.Header.Method()), u, c.resp.StatusCode(), snippet(c.resp.Body())}
}

// do sends c.req (its method, headers and body set; its URI is set here
// from raw) and reads the whole answer into c.resp. A browser sends the
// cookies its jar holds for u and keeps those the answer sets; u is raw
// parsed, or nil to have do parse it.
func (c *client) do(ctx context.Context, raw string, u *url.URL) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.req.SetRequestURI(raw)
	if c.jar != nil {
		if u == nil {
			var err error
			if u, err = url.Parse(raw); err != nil {
				return err
			}
		}
		c.req.Header.DelAllCookies()
		for _, ck := range c.jar.Cookies(u) {
			c.req.Header.SetCookie(ck.Name, ck.Value)
		}
	}
	c.t.requests.Add(1)
	if err := c.hc.Do(&c.req, &c.resp); err != nil {
		return &requestError{string(c.req.Header.Method()), raw, err}
	}
	if c.jar != nil {
		var set []*http.Cookie
		for _, v := range c.resp.Header.Cookies() {
			// Invalid Set-Cookie lines are dropped, as net/http does.
			if ck, err := http.ParseSetCookie(string(v)); err == nil {
				set = append(set, ck)
			}
		}
		if len(set) > 0 {
			c.jar.SetCookies(u, set)
		}
	}
	return nil
}

// get GETs u; the answer is in c.resp.
func (c *client) get(ctx context.Context, raw string, u *url.URL) error {
	c.req.Reset()
	return c.do(ctx, raw, u)
}

// getOK GETs u and wants 200; the body is valid until c's next request.
func (c *client) getOK(ctx context.Context, u string) ([]byte, error) {
	if err := c.get(ctx, u, nil); err != nil {
		return nil, err
	}
	if c.resp.StatusCode() != http.StatusOK {
		return nil, c.statusErr(u)
	}
	return c.resp.Body(), nil
}

// newForm empties c's form and returns it, to be filled and posted with
// postForm or token.
func (c *client) newForm() *fasthttp.Args {
	c.form.Reset()
	return &c.form
}

var formContentType = []byte("application/x-www-form-urlencoded")

// postForm posts c's form (newForm), with the bench client's basic auth
// when auth is set; the answer is in c.resp.
func (c *client) postForm(ctx context.Context, u string, auth bool) error {
	c.req.Reset()
	c.req.Header.SetMethod(fasthttp.MethodPost)
	c.req.Header.SetContentTypeBytes(formContentType)
	if auth {
		c.req.Header.Set("Authorization", c.t.basicAuth())
	}
	c.buf = c.form.AppendBytes(c.buf[:0])
	c.req.SetBody(c.buf)
	return c.do(ctx, u, nil)
}

// tokenResponse is a token endpoint answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// token posts c's form (newForm: a grant) to the token endpoint and decodes
// a 200 answer.
func (c *client) token(ctx context.Context) (tokenResponse, error) {
	var tr tokenResponse
	ep := c.t.Discovery.TokenEndpoint
	if err := c.postForm(ctx, ep, true); err != nil {
		return tr, err
	}
	if c.resp.StatusCode() != http.StatusOK {
		return tr, c.statusErr(ep)
	}
	if err := json.Unmarshal(c.resp.Body(), &tr); err != nil {
		return tr, fmt.Errorf("token response: %w", err)
	}
	if tr.AccessToken == "" {
		return tr, errors.New("token response without access_token")
	}
	return tr, nil
}

// pkce is a code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// flow is one authorization code flow in progress.
type flow struct {
	state, nonce, verifier string
}

// authorizeURL starts a flow: the authorization request with PKCE S256.
// A parameter in extra replaces the one of that name.
func (c *client) authorizeURL(extra url.Values) (string, flow) {
	f := flow{state: randomString(12), nonce: randomString(12)}
	var challenge string
	f.verifier, challenge = pkce()
	b := append(c.buf[:0], c.t.Discovery.AuthorizationEndpoint...)
	sep := byte('?')
	add := func(k, v string) {
		b = append(b, sep)
		sep = '&'
		b = fasthttp.AppendQuotedArg(b, []byte(k))
		b = append(b, '=')
		b = fasthttp.AppendQuotedArg(b, []byte(v))
	}
	for _, p := range [...][2]string{
		{"response_type", "code"},
		{"client_id", c.t.ClientID},
		{"redirect_uri", c.t.Redirect},
		{"scope", c.t.Scope},
		{"state", f.state},
		{"nonce", f.nonce},
		{"code_challenge", challenge},
		{"code_challenge_method", "S256"},
	} {
		if _, ok := extra[p[0]]; !ok {
			add(p[0], p[1])
		}
	}
	for k, vs := range extra {
		for _, v := range vs {
			add(k, v)
		}
	}
	c.buf = b
	return string(b), f
}

// maxHops bounds the redirects of one flow.
const maxHops = 12

// errPage is a flow that stopped at a page (a login form) instead of
// reaching the redirect URI; page is its body.
type errPage struct {
	url  string
	body []byte
}

func (e *errPage) Error() string {
	return fmt.Sprintf("flow stopped at a page: %s: %s", stripQuery(e.url), snippet(e.body))
}

// follow GETs u and follows redirects until one leads to the redirect URI,
// whose code it returns after checking state. A 200 page on the way ends
// with *errPage (the caller may fill in a form and go on).
func (c *client) follow(ctx context.Context, u string, f flow) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	for range maxHops {
		if err := c.get(ctx, u, pu); err != nil {
			return "", err
		}
		switch c.resp.StatusCode() {
		case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		case http.StatusOK:
			return "", &errPage{url: u, body: bytes.Clone(c.resp.Body())}
		default:
			return "", c.statusErr(u)
		}
		next, err := c.location(pu)
		if err != nil {
			return "", err
		}
		u, pu = next.String(), next
		if strings.HasPrefix(u, c.t.Redirect) {
			return codeOf(next, f)
		}
	}
	return "", errors.New("too many redirects")
}

// location is the Location of the redirect in c.resp, resolved against
// the URL of the request, base.
func (c *client) location(base *url.URL) (*url.URL, error) {
	loc := c.resp.Header.Peek("Location")
	if len(loc) == 0 {
		return nil, fmt.Errorf("redirect without Location from %s", stripQuery(base.String()))
	}
	next, err := base.Parse(string(loc))
	if err != nil {
		return nil, fmt.Errorf("redirect from %s: %w", stripQuery(base.String()), err)
	}
	return next, nil
}

// codeOf reads the code of the redirect to the client, checking state.
func codeOf(u *url.URL, f flow) (string, error) {
	q := u.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != f.state {
		return "", errors.New("state mismatch")
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("redirect without code")
	}
	return code, nil
}

// exchange redeems a code with its verifier and verifies the ID token.
func (c *client) exchange(ctx context.Context, code string, f flow) (tokenResponse, error) {
	form := c.newForm()
	form.Add("grant_type", "authorization_code")
	form.Add("code", code)
	form.Add("redirect_uri", c.t.Redirect)
	form.Add("code_verifier", f.verifier)
	tr, err := c.token(ctx)
	if err != nil {
		return tr, err
	}
	if tr.IDToken == "" {
		return tr, errors.New("token response without id_token")
	}
	return tr, c.t.verifyIDToken(ctx, tr.IDToken, f.nonce)
}
