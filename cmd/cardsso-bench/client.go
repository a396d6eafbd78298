package main

import (
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
	"time"

	jose "github.com/go-jose/go-jose/v4"
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

	transport *http.Transport
	requests  atomic.Int64 // HTTP requests sent, for requests per iteration

	jwksMu sync.RWMutex
	jwks   jose.JSONWebKeySet
}

// newTransport is a keep-alive HTTP/1.1 transport for up to conns
// connections to one host; local, when set, is the source address.
func newTransport(conns int, local net.IP) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// discover reads the discovery document and the key set.
func (t *Target) discover(ctx context.Context) error {
	var c client
	c.init(t, t.transport, nil)
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
	c.init(t, t.transport, nil)
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

// client is one user agent: an HTTP client that does not follow redirects
// (the flows follow them by hand) with an optional cookie jar.
type client struct {
	t  *Target
	hc http.Client
}

func (c *client) init(t *Target, rt *http.Transport, jar http.CookieJar) {
	c.t = t
	c.hc = http.Client{
		Transport:     counting{rt, &t.requests},
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newBrowser is a client with its own cookie jar.
func newBrowser(t *Target, rt *http.Transport) *client {
	jar, _ := cookiejar.New(nil)
	c := &client{}
	c.init(t, rt, jar)
	return c
}

type counting struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// statusError is an unexpected HTTP status.
type statusError struct {
	method, url string
	code        int
	body        string
}

func (e *statusError) Error() string {
	u := e.url
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return fmt.Sprintf("%s %s: status %d: %s", e.method, u, e.code, e.body)
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// do sends req and reads the whole answer.
func (c *client) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

func (c *client) getOK(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, body, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{"GET", u, resp.StatusCode, snippet(body)}
	}
	return body, nil
}

// postForm posts a form, with the bench client's basic auth when auth is set.
func (c *client) postForm(ctx context.Context, u string, form url.Values, auth bool) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth {
		// RFC 6749 §2.3.1: form-encode both, then basic auth.
		req.SetBasicAuth(url.QueryEscape(c.t.ClientID), url.QueryEscape(c.t.Secret))
	}
	return c.do(req)
}

// tokenResponse is a token endpoint answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// token posts a grant to the token endpoint and decodes a 200 answer.
func (c *client) token(ctx context.Context, form url.Values) (tokenResponse, error) {
	var tr tokenResponse
	resp, body, err := c.postForm(ctx, c.t.Discovery.TokenEndpoint, form, true)
	if err != nil {
		return tr, err
	}
	if resp.StatusCode != http.StatusOK {
		return tr, &statusError{"POST", c.t.Discovery.TokenEndpoint, resp.StatusCode, snippet(body)}
	}
	if err := json.Unmarshal(body, &tr); err != nil {
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
func (c *client) authorizeURL(extra url.Values) (string, flow) {
	f := flow{state: randomString(12), nonce: randomString(12)}
	var challenge string
	f.verifier, challenge = pkce()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.t.ClientID},
		"redirect_uri":          {c.t.Redirect},
		"scope":                 {c.t.Scope},
		"state":                 {f.state},
		"nonce":                 {f.nonce},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return c.t.Discovery.AuthorizationEndpoint + "?" + q.Encode(), f
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
	u := e.url
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return fmt.Sprintf("flow stopped at a page: %s: %s", u, snippet(e.body))
}

// follow GETs u and follows redirects until one leads to the redirect URI,
// whose code it returns after checking state. A 200 page on the way ends
// with *errPage (the caller may fill in a form and go on).
func (c *client) follow(ctx context.Context, u string, f flow) (string, error) {
	for range maxHops {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return "", err
		}
		resp, body, err := c.do(req)
		if err != nil {
			return "", err
		}
		switch resp.StatusCode {
		case http.StatusFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		case http.StatusOK:
			return "", &errPage{url: u, body: body}
		default:
			return "", &statusError{"GET", u, resp.StatusCode, snippet(body)}
		}
		next, err := resp.Location()
		if err != nil {
			return "", fmt.Errorf("redirect without Location from %s", u)
		}
		if strings.HasPrefix(next.String(), c.t.Redirect) {
			return codeOf(next, f)
		}
		u = next.String()
	}
	return "", errors.New("too many redirects")
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
	tr, err := c.token(ctx, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.t.Redirect},
		"code_verifier": {f.verifier},
	})
	if err != nil {
		return tr, err
	}
	if tr.IDToken == "" {
		return tr, errors.New("token response without id_token")
	}
	return tr, c.t.verifyIDToken(ctx, tr.IDToken, f.nonce)
}
