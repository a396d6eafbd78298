package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/crewjam/saml"
	"github.com/valyala/fasthttp"
)

// Citizen is a returning citizen's login: number and password.
type Citizen struct {
	Number, Password string
}

// readCitizens reads a citizens file as `cardsso seed --citizens-file`
// writes it: one citizen a line, number TAB password; blank lines and lines
// starting with # are skipped.
func readCitizens(path string) ([]Citizen, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Citizen
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		num, pw, ok := strings.Cut(line, "\t")
		if !ok || num == "" || pw == "" {
			return nil, fmt.Errorf("%s:%d: want number<TAB>password", path, n)
		}
		out = append(out, Citizen{num, pw})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no citizens", path)
	}
	return out, nil
}

// Env is what workloads are built from.
type Env struct {
	T *Target
	// Citizens sign in where a provider shows a login form (CardSSO);
	// worker i uses Citizens[i % len].
	Citizens []Citizen
	// SetupParams are extra authorization request parameters for the
	// flows that set a worker up (e.g. prompt=consent, which
	// node-oidc-provider needs to issue a refresh token).
	SetupParams url.Values
	// RefreshScope is the scope of the flows that obtain refresh and
	// access tokens for the refresh and introspect workloads.
	RefreshScope string
	// SourceIPs are the loopback source addresses the login workload
	// spreads its browsers over (a login form limits posts per client IP,
	// as it should: a million citizens do not share one address).
	SourceIPs []net.IP // browsers spread over them (sign-ins at setup too)
	Workers   int
	// IntrospectRefresh introspects refresh tokens instead of access tokens.
	IntrospectRefresh bool
	// SAMLKey is the PEM file of the saml-sso workload's SP key (saml.go).
	SAMLKey string

	// Browsers' HTTP clients, one per source address, and the login
	// workload's turn.
	browserOnce sync.Once
	browserHCs  []*fasthttp.Client
	loginNext   atomic.Uint64

	samlOnce sync.Once
	sp       *saml.ServiceProvider
	samlErr  error
}

// workloads by name: each makes one worker.
var workloads = map[string]func(ctx context.Context, e *Env, i int) (Worker, error){
	"discovery": func(_ context.Context, e *Env, _ int) (Worker, error) {
		return &getWorker{c: plainClient(e), url: strings.TrimSuffix(e.T.Issuer, "/") + "/.well-known/openid-configuration"}, nil
	},
	"jwks": func(_ context.Context, e *Env, _ int) (Worker, error) {
		return &getWorker{c: plainClient(e), url: e.T.Discovery.JWKSURI}, nil
	},
	"client-credentials": func(_ context.Context, e *Env, _ int) (Worker, error) {
		return &ccWorker{c: plainClient(e)}, nil
	},
	"sso-code-flow": newSSOWorker,
	"refresh":       newRefreshWorker,
	"introspect":    newIntrospectWorker,
	"login":         newLoginWorker,
	"saml-sso":      newSAMLWorker,
}

// workloadOrder is the order of `--workload all`: the OpenID Connect
// workloads (saml-sso is asked for by name).
var workloadOrder = []string{"discovery", "jwks", "client-credentials", "sso-code-flow", "refresh", "introspect", "login"}

// plainClient is an API client without cookies, on the default source
// address.
func plainClient(e *Env) *client {
	c := &client{}
	c.init(e.T, e.T.hc, nil)
	return c
}

// getWorker GETs a URL and wants 200 (or 304).
type getWorker struct {
	c   *client
	url string
}

func (w *getWorker) Do(ctx context.Context) error {
	_, err := w.c.getOK(ctx, w.url)
	return err
}

// ccWorker runs the client credentials grant.
type ccWorker struct{ c *client }

func (w *ccWorker) Do(ctx context.Context) error {
	form := w.c.newForm()
	form.Add("grant_type", "client_credentials")
	if w.c.t.CCScope != "" {
		form.Add("scope", w.c.t.CCScope)
	}
	_, err := w.c.token(ctx)
	return err
}

// signIn runs one code flow in browser b up to the code, logging the
// citizen in through the form when the provider shows one.
func signIn(ctx context.Context, b *client, cit Citizen, extra url.Values) (string, flow, error) {
	u, f := b.authorizeURL(extra)
	code, err := b.follow(ctx, u, f)
	var page *errPage
	if !errors.As(err, &page) {
		return code, f, err
	}
	code, err = submitLogin(ctx, b, page, cit, f)
	return code, f, err
}

var (
	passwordForm = regexp.MustCompile(`(?s)<form[^>]*action="(/login/password)"[^>]*>(.*?)</form>`)
	hiddenInput  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// submitLogin fills CardSSO's returning-citizen form (number + password) on
// page and follows the answer to the code.
func submitLogin(ctx context.Context, b *client, page *errPage, cit Citizen, f flow) (string, error) {
	m := passwordForm.FindSubmatch(page.body)
	if m == nil {
		return "", page
	}
	form := b.newForm()
	for _, h := range hiddenInput.FindAllSubmatch(m[2], -1) {
		form.Set(string(h[1]), html.UnescapeString(string(h[2])))
	}
	if len(form.Peek("csrf_token")) == 0 || len(form.Peek("authRequestID")) == 0 {
		return "", errors.New("login form without csrf_token or authRequestID")
	}
	if cit.Number == "" {
		return "", errors.New("the provider shows a login form: give --citizens (from cardsso seed --citizens-file)")
	}
	form.Set("ssn", cit.Number)
	form.Set("password", cit.Password)
	base, err := url.Parse(page.url)
	if err != nil {
		return "", err
	}
	action, err := base.Parse(string(m[1]))
	if err != nil {
		return "", err
	}
	if err := b.postForm(ctx, action.String(), false); err != nil {
		return "", err
	}
	if sc := b.resp.StatusCode(); sc != http.StatusSeeOther && sc != http.StatusFound {
		return "", b.statusErr(action.String())
	}
	next, err := b.location(action)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(next.String(), b.t.Redirect) {
		return codeOf(next, f)
	}
	return b.follow(ctx, next.String(), f)
}

func (e *Env) citizen(i int) Citizen {
	if len(e.Citizens) == 0 {
		return Citizen{}
	}
	return e.Citizens[i%len(e.Citizens)]
}

// ssoWorker is a browser with a live SSO session: every iteration is a
// whole code flow that the session answers without a form.
type ssoWorker struct{ b *client }

func newSSOWorker(ctx context.Context, e *Env, i int) (Worker, error) {
	b := newBrowser(e.T, e.browserClient(uint64(i)))
	code, f, err := signIn(ctx, b, e.citizen(i), nil)
	if err != nil {
		return nil, fmt.Errorf("worker %d: sign in: %w", i, err)
	}
	if _, err := b.exchange(ctx, code, f); err != nil {
		return nil, fmt.Errorf("worker %d: first exchange: %w", i, err)
	}
	w := &ssoWorker{b: b}
	// One flow must now complete from the session alone.
	if err := w.Do(ctx); err != nil {
		return nil, fmt.Errorf("worker %d: SSO flow: %w", i, err)
	}
	return w, nil
}

func (w *ssoWorker) Do(ctx context.Context) error {
	u, f := w.b.authorizeURL(nil)
	code, err := w.b.follow(ctx, u, f)
	if err != nil {
		return err
	}
	_, err = w.b.exchange(ctx, code, f)
	return err
}

// tokensFor signs worker i in with the refresh scope and returns its tokens.
func tokensFor(ctx context.Context, e *Env, i int) (tokenResponse, error) {
	b := newBrowser(e.T, e.browserClient(uint64(i)))
	extra := url.Values{"scope": {e.RefreshScope}}
	for k, v := range e.SetupParams {
		extra[k] = v
	}
	code, f, err := signIn(ctx, b, e.citizen(i), extra)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("worker %d: sign in: %w", i, err)
	}
	tr, err := b.exchange(ctx, code, f)
	if err != nil {
		return tr, fmt.Errorf("worker %d: exchange: %w", i, err)
	}
	return tr, nil
}

// refreshWorker rotates its own refresh token chain.
type refreshWorker struct {
	c       *client
	refresh string
}

func newRefreshWorker(ctx context.Context, e *Env, i int) (Worker, error) {
	tr, err := tokensFor(ctx, e, i)
	if err != nil {
		return nil, err
	}
	if tr.RefreshToken == "" {
		return nil, fmt.Errorf("worker %d: no refresh token (scope %q; node-oidc-provider needs --setup-params prompt=consent)", i, e.RefreshScope)
	}
	return &refreshWorker{c: plainClient(e), refresh: tr.RefreshToken}, nil
}

func (w *refreshWorker) Do(ctx context.Context) error {
	form := w.c.newForm()
	form.Add("grant_type", "refresh_token")
	form.Add("refresh_token", w.refresh)
	tr, err := w.c.token(ctx)
	if err != nil {
		return err
	}
	if tr.RefreshToken == "" {
		return errors.New("refresh answer without a new refresh token (no rotation)")
	}
	w.refresh = tr.RefreshToken
	return nil
}

// introspectWorker introspects its own user token: the access token, or
// with --introspect refresh the refresh token (node-oidc-provider refuses
// to introspect its JWT access tokens).
type introspectWorker struct {
	c     *client
	token string
}

func newIntrospectWorker(ctx context.Context, e *Env, i int) (Worker, error) {
	tr, err := tokensFor(ctx, e, i)
	if err != nil {
		return nil, err
	}
	w := &introspectWorker{c: plainClient(e), token: tr.AccessToken}
	if e.IntrospectRefresh {
		if tr.RefreshToken == "" {
			return nil, fmt.Errorf("worker %d: no refresh token to introspect", i)
		}
		w.token = tr.RefreshToken
	}
	return w, w.Do(ctx)
}

func (w *introspectWorker) Do(ctx context.Context) error {
	ep := w.c.t.Discovery.IntrospectionEndpoint
	w.c.newForm().Add("token", w.token)
	if err := w.c.postForm(ctx, ep, true); err != nil {
		return err
	}
	if w.c.resp.StatusCode() != http.StatusOK {
		return w.c.statusErr(ep)
	}
	var r struct {
		Active bool `json:"active"`
	}
	if err := json.Unmarshal(w.c.resp.Body(), &r); err != nil {
		return fmt.Errorf("introspection answer: %w", err)
	}
	if !r.Active {
		return errors.New("introspection: token not active")
	}
	return nil
}

// loginWorker is a returning citizen in a fresh browser each iteration:
// login form, number + password, code, token exchange. At a provider that
// logs its browsers in without a form (the node-oidc-provider peer's
// auto-login interaction), it is a code flow with a fresh login that costs
// no password hash. A fresh browser is an empty cookie jar on the next
// source address's connections; the worker's request and response buffers
// are reused.
type loginWorker struct {
	e *Env
	b *client
}

func newLoginWorker(_ context.Context, e *Env, _ int) (Worker, error) {
	return &loginWorker{e: e, b: newBrowser(e.T, e.T.hc)}, nil
}

// browserClient is the HTTP client of browser n: the source addresses are
// taken in turn (the default address without --source-ips), each with its
// own keep-alive connections.
func (e *Env) browserClient(n uint64) *fasthttp.Client {
	e.browserOnce.Do(func() {
		for _, ip := range e.SourceIPs {
			e.browserHCs = append(e.browserHCs, newHTTPClient(e.Workers, ip))
		}
		if len(e.browserHCs) == 0 {
			e.browserHCs = []*fasthttp.Client{e.T.hc}
		}
	})
	return e.browserHCs[n%uint64(len(e.browserHCs))]
}

func (w *loginWorker) Do(ctx context.Context) error {
	n := w.e.loginNext.Add(1)
	b := w.b
	b.hc = w.e.browserClient(n)
	b.clearCookies()
	code, f, err := signIn(ctx, b, w.e.citizen(int(n%(1<<31))), nil)
	if err != nil {
		return err
	}
	_, err = b.exchange(ctx, code, f)
	return err
}
