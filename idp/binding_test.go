package idp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// Tests of docs/security.md §1: a login belongs to the browser that started
// it.

const (
	liSi    = "李四"
	liSiSSN = "440305198511120028"
	otherBr = "another browser" // in the refusal page's text
)

// bindingNode is a node with a first-party portal and a third-party one.
func bindingNode(t *testing.T) (n *node, first, third *rp) {
	t.Helper()
	n = startNode(t)
	const r1, r3 = "http://127.0.0.1:9801/cb", "http://127.0.0.1:9803/cb"
	first = newRP(t, n, "first", registerClient(t, n, admin.ClientSpec{ID: "first", Name: "First portal", RedirectURIs: []string{r1}}), r1)
	third = newRP(t, n, "third", registerThirdParty(t, n, admin.ClientSpec{ID: "third", Name: "Third portal", RedirectURIs: []string{r3}}), r3)
	first.conf.Scopes = []string{oidc.ScopeOpenID, "profile"}
	third.conf.Scopes = []string{oidc.ScopeOpenID, "profile"}
	return n, first, third
}

// signedUp registers a citizen at the first-party portal in a new browser
// and returns the browser (now signed in) and the ID token.
func signedUp(t *testing.T, n *node, first *rp, name, ssn string) (*browser, *oauth2.Token) {
	t.Helper()
	br := newBrowser(t, first.conf.RedirectURL, "http://127.0.0.1:9803/cb")
	v := oauth2.GenerateVerifier()
	tok, c := exchange(t, first, register(t, br, n, first.authorize(br, "s", "n", v), name, ssn, goodPass), v, "s")
	if c.Name != name {
		t.Fatalf("registered %s, ID token names %q", name, c.Name)
	}
	return br, tok
}

// whoIs answers who the browser's SSO session is, through the first portal.
func whoIs(t *testing.T, first *rp, br *browser) string {
	t.Helper()
	v := oauth2.GenerateVerifier()
	_, c := exchange(t, first, first.authorize(br, "who", "n", v), v, "who")
	return c.Name
}

// TestSessionSwapRefused: the attacker signs in with their own password at
// a third-party portal with prompt=consent, stops at the consent page and
// sends the victim the link. The victim's browser gets a 403 page at every
// step and stays signed in as the victim; the attacker can still finish in
// their own browser.
func TestSessionSwapRefused(t *testing.T) {
	n, first, third := bindingNode(t)
	victim, _ := signedUp(t, n, first, zhangSan, zhangSanSSN)
	attacker, _ := signedUp(t, n, first, liSi, liSiSSN)

	v := oauth2.GenerateVerifier()
	ask := third.authorize(attacker, "a", "n", v, oauth2.SetAuthURLParam("prompt", "consent"))
	if ask.status != http.StatusOK || ask.url.Path != "/login/consent" {
		t.Fatalf("attacker: want the consent page, got %d at %s", ask.status, ask.url)
	}
	id := ask.url.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("consent page URL %s has no authRequestID", ask.url)
	}
	// The link the victim is sent, and every step it could lead to.
	for _, path := range []string{"/login", "/login/consent", "/login/card", "/login/face", "/login/password-setup"} {
		p := victim.get(n.issuer + path + "?" + url.Values{"authRequestID": {id}}.Encode())
		if p.status != http.StatusForbidden || !strings.Contains(p.body, otherBr) {
			t.Errorf("victim GET %s: %d; want 403 saying the login was started in another browser:\n%s", path, p.status, p.body)
		}
	}
	// Posting the attacker's consent form (its own CSRF token and all) from
	// the victim's browser is refused too.
	f := formFor(t, ask, "/login/consent")
	if p := victim.submit(n.issuer, f, map[string]string{"consent": "allow", "decision": "allow"}); p.status != http.StatusForbidden {
		t.Errorf("victim POST consent: %d; want 403", p.status)
	}
	if p := victim.get(n.issuer + "/login/cancel?" + url.Values{"authRequestID": {id}}.Encode()); p.status != http.StatusForbidden {
		t.Errorf("victim cancel: %d; want 403", p.status)
	}
	if got := whoIs(t, first, victim); got != zhangSan {
		t.Fatalf("the victim's browser is signed in as %q; want %s", got, zhangSan)
	}
	// The attacker's own login is not disturbed.
	_, c := exchange(t, third, attacker.submit(n.issuer, f, map[string]string{"consent": "allow", "decision": "allow"}), v, "a")
	if c.Name != liSi {
		t.Errorf("attacker's own consent: name %q; want %s", c.Name, liSi)
	}
}

// TestCallbackBoundAndOnce: /authorize/callback without the browser's
// cookie gets a 403 page, not a code; the browser that started the request
// gets exactly one code, and a second visit gets none.
func TestCallbackBoundAndOnce(t *testing.T) {
	n, first, _ := bindingNode(t)
	br, _ := signedUp(t, n, first, zhangSan, zhangSanSSN)
	br.stopAt = append(br.stopAt, n.issuer+"/authorize/callback")

	// A fresh login (prompt=login), so that the callback is used.
	v := oauth2.GenerateVerifier()
	login := first.authorize(br, "s", "n", v, oauth2.SetAuthURLParam("prompt", "login"))
	done := br.submit(n.issuer, formFor(t, login, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	if !strings.HasPrefix(done.location, n.issuer+"/authorize/callback?id=") {
		t.Fatalf("after the login: %d %q; want the callback", done.status, done.location)
	}
	cb := done.location

	bare := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, cb, nil)
		req.Header.Set("Accept-Language", "en")
		resp, err := bare.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.Contains(string(body), otherBr) {
			t.Fatalf("cookie-less callback: %d Location %q; want 403 and no code:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	code := codeFrom(t, br.get(cb), first.conf.RedirectURL, "s")
	again := br.get(cb)
	if again.status != http.StatusBadRequest || strings.Contains(again.location, "code=") {
		t.Errorf("second callback visit: %d %q; want 400 and no second code", again.status, again.location)
	}
	if _, err := first.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v)); err != nil {
		t.Errorf("the one code does not work: %v", err)
	}
	// An unknown id says the link expired, without internal text.
	p := br.get(n.issuer + "/authorize/callback?id=nonexistent")
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "sqlstore") || strings.Contains(p.body, "not found") {
		t.Errorf("unknown callback id: %d:\n%s", p.status, p.body)
	}
}

// TestPendingRegistrationBound: a registration half done (real-name check
// passed, password not yet chosen) cannot be finished from another browser.
func TestPendingRegistrationBound(t *testing.T) {
	n, first, _ := bindingNode(t)
	a := newBrowser(t, first.conf.RedirectURL)
	v := oauth2.GenerateVerifier()
	login := first.authorize(a, "s", "n", v)
	setup := a.submit(n.issuer, formFor(t, login, "/login/register"), map[string]string{"name": zhangSan, "ssn": zhangSanSSN})
	if setup.url.Path != "/login/password-setup" {
		t.Fatalf("after the real-name step: %d at %s", setup.status, setup.url)
	}
	sf := formFor(t, setup, "/login/password-setup")
	b := newBrowser(t, first.conf.RedirectURL)
	if p := b.get(setup.url.String()); p.status != http.StatusForbidden || !strings.Contains(p.body, otherBr) {
		t.Errorf("another browser opens the password setup: %d; want 403:\n%s", p.status, p.body)
	}
	if p := b.submit(n.issuer, sf, map[string]string{"password": "attacker pass 1", "password_confirm": "attacker pass 1"}); p.status != http.StatusForbidden {
		t.Errorf("another browser posts the password setup: %d; want 403", p.status)
	}
	// The holder finishes, with their password.
	exchange(t, first, a.submit(n.issuer, sf, map[string]string{"password": goodPass, "password_confirm": goodPass}), v, "s")
	c := newBrowser(t, first.conf.RedirectURL)
	again := first.authorize(c, "s2", "n", oauth2.GenerateVerifier())
	if p := c.submit(n.issuer, formFor(t, again, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": "attacker pass 1"}); p.status != http.StatusUnauthorized {
		t.Errorf("the other browser's password works: %d", p.status)
	}
}

// TestSAMLLoginBound: a parked AuthnRequest's login pages and continuation
// refuse another browser; its own browser completes.
func TestSAMLLoginBound(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{})
	br := newBrowser(t)
	login := br.get(sp.url + "/hello")
	if login.url.Path != "/login" {
		t.Fatalf("SP-initiated SSO: %d at %s", login.status, login.url)
	}
	id := login.url.Query().Get("authRequestID")
	other := newBrowser(t)
	for _, u := range []string{"/login?authRequestID=" + url.QueryEscape(id), "/saml/sso/continue?id=" + url.QueryEscape(id)} {
		if p := other.get(n.issuer + u); p.status != http.StatusForbidden || !strings.Contains(p.body, otherBr) {
			t.Errorf("another browser GET %s: %d; want 403:\n%s", u, p.status, p.body)
		}
	}
	done := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	if sub, _ := helloOf(t, br.postSAML(done)); sub == "" {
		t.Errorf("the browser that started the SAML login did not get in")
	}
}

// TestSessionCookieRotatedAtStepUp: after a step-up the cookie from before
// it no longer names a session; the new one does, at the higher level.
func TestSessionCookieRotatedAtStepUp(t *testing.T) {
	n, first, _ := bindingNode(t)
	const r2 = "http://127.0.0.1:9802/cb"
	two := newRP(t, n, "two", registerClient(t, n, admin.ClientSpec{ID: "two", RedirectURIs: []string{r2}, MinACR: "urn:cardsso:loa:2"}), r2)
	br, _ := signedUp(t, n, first, zhangSan, zhangSanSSN)
	br.stopAt = append(br.stopAt, r2)
	iss, _ := url.Parse(n.issuer)
	sessionCookie := func(b *browser) string {
		for _, c := range b.c.Jar.Cookies(iss) {
			if c.Name == "cardsso_session" {
				return c.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}
	before := sessionCookie(br)
	v := oauth2.GenerateVerifier()
	card := two.authorize(br, "s", "n", v)
	if card.url.Path != "/login/card" {
		t.Fatalf("step-up: %d at %s; want the card step", card.status, card.url)
	}
	if _, c := exchange(t, two, br.submit(n.issuer, formFor(t, card, "/login/card"), map[string]string{"card_number": "A00000001"}), v, "s"); c.ACR != "urn:cardsso:loa:2" {
		t.Fatalf("after the card step: acr %q", c.ACR)
	}
	after := sessionCookie(br)
	if after == before {
		t.Fatalf("session cookie unchanged at step-up")
	}
	with := func(value string) *browser {
		b := newBrowser(t, first.conf.RedirectURL, r2)
		jar, _ := cookiejar.New(nil)
		jar.SetCookies(iss, []*http.Cookie{{Name: "cardsso_session", Value: value, Path: "/"}})
		b.c.Jar = jar
		return b
	}
	old := two.authorize(with(before), "o", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none"))
	if !strings.Contains(old.location, "error=login_required") {
		t.Errorf("the cookie from before the step-up: %d %q; want login_required", old.status, old.location)
	}
	v2 := oauth2.GenerateVerifier()
	if _, c := exchange(t, two, two.authorize(with(after), "n2", "n", v2, oauth2.SetAuthURLParam("prompt", "none")), v2, "n2"); c.ACR != "urn:cardsso:loa:2" {
		t.Errorf("the rotated cookie: acr %q; want loa:2", c.ACR)
	}
}

// TestPromptNoneHintOfAnotherSubject: prompt=none with an id_token_hint
// naming another citizen than the browser's session answers login_required
// (OIDC Core §3.1.2.1); the session's own hint is answered.
func TestPromptNoneHintOfAnotherSubject(t *testing.T) {
	n, first, _ := bindingNode(t)
	br, mine := signedUp(t, n, first, zhangSan, zhangSanSSN)
	_, theirs := signedUp(t, n, first, liSi, liSiSSN)
	hint := func(tok *oauth2.Token) oauth2.AuthCodeOption {
		raw, _ := tok.Extra("id_token").(string)
		return oauth2.SetAuthURLParam("id_token_hint", raw)
	}
	p := first.authorize(br, "s", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none"), hint(theirs))
	if u, _ := url.Parse(p.location); u == nil || u.Query().Get("error") != "login_required" {
		t.Errorf("hint for another subject: %d %q; want login_required", p.status, p.location)
	}
	v := oauth2.GenerateVerifier()
	if _, c := exchange(t, first, first.authorize(br, "s2", "n", v, oauth2.SetAuthURLParam("prompt", "none"), hint(mine)), v, "s2"); c.Name != zhangSan {
		t.Errorf("own hint: %q", c.Name)
	}
	// Without prompt=none the login page is shown instead of the session.
	if p := first.authorize(br, "s3", "n", oauth2.GenerateVerifier(), hint(theirs)); p.status != http.StatusOK || p.url.Path != "/login" {
		t.Errorf("hint for another subject without prompt=none: %d at %s; want the login page", p.status, p.url)
	}
}

// TestHostPrefixUnderHTTPS: with an https issuer every cookie is __Host-
// (Secure, Path=/, no Domain).
func TestHostPrefixUnderHTTPS(t *testing.T) {
	n := startNode(t, func(c *idp.Config) { c.Issuer = strings.Replace(c.Issuer, "http://", "https://", 1) })
	registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{"https://127.0.0.1:9804/cb"}})
	bare := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"c"}, "redirect_uri": {"https://127.0.0.1:9804/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	seen := map[string]bool{}
	for _, u := range []string{"/authorize?" + q.Encode(), "/account"} {
		resp, err := bare.Get("http://" + n.addr + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if strings.HasPrefix(loc, "/login") || strings.HasPrefix(loc, n.issuer+"/login") {
			req, _ := http.NewRequest(http.MethodGet, "http://"+n.addr+strings.TrimPrefix(loc, n.issuer)+"&lang=en", nil)
			for _, c := range resp.Cookies() {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			r2, err := bare.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r2.Body.Close()
			resp.Header["Set-Cookie"] = append(resp.Header["Set-Cookie"], r2.Header["Set-Cookie"]...)
		}
		for _, c := range (&http.Response{Header: resp.Header}).Cookies() {
			seen[c.Name] = true
			if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
				t.Errorf("%s: cookie %s (Secure=%v Path=%q Domain=%q); want __Host-, Secure, Path=/, no Domain", u, c.Name, c.Secure, c.Path, c.Domain)
			}
		}
	}
	for _, name := range []string{"__Host-cardsso_browser", "__Host-cardsso_csrf", "__Host-cardsso_lang"} {
		if !seen[name] {
			t.Errorf("cookie %s not set (saw %v)", name, seen)
		}
	}
}

// TestMalformedAuthorizeRequestFixedText: a parameter of the wrong form
// gets a fixed 400 text, not the decoder's internals.
func TestMalformedAuthorizeRequestFixedText(t *testing.T) {
	_, first, _ := bindingNode(t)
	u := first.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("max_age", "abc"))
	p := newBrowser(t, first.conf.RedirectURL).get(u)
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "schema") || strings.Contains(p.body, "ErrorType") {
		t.Errorf("max_age=abc: %d %q; want 400 with a fixed text", p.status, p.body)
	}
}
