package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

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
