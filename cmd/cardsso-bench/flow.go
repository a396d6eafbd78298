package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

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
