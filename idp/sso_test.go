package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

// TestSingleSignOnAtAuthorize: a browser whose live SSO session answers a
// request gets its code from the authorization endpoint itself (one
// response, no login page, no callback), the code works once (a replay
// revokes what it issued), and the requests the session cannot answer as
// it is still go through the login pages: prompt=login, a higher level.
func TestSingleSignOnAtAuthorize(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	const redirectA, redirectB = "http://127.0.0.1:9811/cb", "http://127.0.0.1:9812/cb"
	a := newRP(t, n, "sso-a", registerClient(t, n, admin.ClientSpec{ID: "sso-a", Name: "A", RedirectURIs: []string{redirectA}}), redirectA)
	b := newRP(t, n, "sso-b", registerClient(t, n, admin.ClientSpec{ID: "sso-b", Name: "B", RedirectURIs: []string{redirectB}}), redirectB)
	br := newBrowser(t, redirectA, redirectB)

	va := oauth2.GenerateVerifier()
	_, ca := exchange(t, a, register(t, br, n, a.authorize(br, "s1", "n1", va), zhangSan, zhangSanSSN, goodPass), va, "s1")

	// The session answers portal B at /authorize.
	vb := oauth2.GenerateVerifier()
	p := b.authorize(br, "s2", "n2", vb)
	if p.url.Path != "/authorize" || p.status != http.StatusFound {
		t.Fatalf("SSO at portal B took more than the authorization request: %d at %s", p.status, p.url)
	}
	code := codeFrom(t, p, redirectB, "s2")
	tok, err := b.conf.Exchange(ctx, code, oauth2.VerifierOption(vb))
	if err != nil {
		t.Fatalf("exchange of the code answered at /authorize: %v", err)
	}
	_, cb := b.verify(tok)
	if cb.Nonce != "n2" || cb.AuthTime != ca.AuthTime || cb.ACR != "urn:cardsso:loa:1" || cb.Name != zhangSan {
		t.Errorf("SSO ID token nonce %q auth_time %d acr %q name %q; want n2, the session's %d, loa:1, %q",
			cb.Nonce, cb.AuthTime, cb.ACR, cb.Name, ca.AuthTime, zhangSan)
	}
	if in := b.introspect(tok.AccessToken); in["active"] != true || in["client_id"] != "sso-b" {
		t.Fatalf("introspection of the SSO access token = %v; want active for sso-b", in)
	}
	// The code is single-use: a replay fails and revokes what it issued.
	if _, err := b.conf.Exchange(ctx, code, oauth2.VerifierOption(vb)); oauthError(err) != "invalid_grant" {
		t.Errorf("replayed code: %v; want invalid_grant", err)
	}
	if in := b.introspect(tok.AccessToken); in["active"] != false {
		t.Errorf("access token after the code's replay = %v; want inactive", in)
	}

	// prompt=none: answered at once as well.
	vn := oauth2.GenerateVerifier()
	pn := b.authorize(br, "s3", "n3", vn, oauth2.SetAuthURLParam("prompt", "none"))
	if pn.url.Path != "/authorize" {
		t.Errorf("prompt=none with a live session: ended at %s; want the answer at /authorize", pn.url)
	}
	exchange(t, b, pn, vn, "s3")

	// prompt=login: the login page, not the session.
	pl := b.authorize(br, "s4", "n4", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "login"))
	if pl.status != http.StatusOK || pl.url.Path != "/login" {
		t.Errorf("prompt=login: %d at %s; want the login page", pl.status, pl.url)
	}
	// A higher level than the session's: the card step, not a code.
	ph := b.authorize(br, "s5", "n5", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("acr_values", "urn:cardsso:loa:2"))
	if ph.url.Path == "/authorize" || strings.HasPrefix(ph.location, redirectB) {
		t.Errorf("a loa:2 request was answered from a loa:1 session: %d at %s -> %s", ph.status, ph.url, ph.location)
	}

	// Without a session: the login page, and the request is stored for it.
	fresh := newBrowser(t, redirectB)
	pf := b.authorize(fresh, "s6", "n6", oauth2.GenerateVerifier())
	if pf.status != http.StatusOK || pf.url.Path != "/login" {
		t.Fatalf("a browser without a session: %d at %s; want the login page", pf.status, pf.url)
	}
	if id := pf.url.Query().Get("authRequestID"); id == "" {
		t.Errorf("login page without authRequestID: %s", pf.url)
	}
	// A bad request at the same endpoint, from a signed-in browser, still
	// gets the library's answer: an unregistered redirect URI is never
	// redirected to.
	bad := br.get(a.conf.Endpoint.AuthURL + "?" + url.Values{"client_id": {"sso-b"}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s7"}, "redirect_uri": {"http://127.0.0.1:6666/evil"}}.Encode())
	if bad.status != http.StatusBadRequest || bad.location != "" {
		t.Errorf("unregistered redirect_uri: %d -> %q; want 400 without a redirect", bad.status, bad.location)
	}
	assertNoPersonalData(t, n)
}

// TestSAMLSingleSignOnAtSSO: an AuthnRequest (HTTP-Redirect) from a browser
// whose live SSO session answers it gets the auto-posting Response from the
// SSO service itself, which the SP accepts; ForceAuthn still asks for the
// login, and the login completes the request through the continuation.
func TestSAMLSingleSignOnAtSSO(t *testing.T) {
	n := startNode(t)
	a := newCrewSP(t, n, spOpts{noEncryption: true})
	b := newCrewSP(t, n, spOpts{})
	forced := newCrewSP(t, n, spOpts{forceAuthn: true, noEncryption: true})
	br := newBrowser(t)
	subA, _ := helloOf(t, br.postSAML(register(t, br, n, br.get(a.url+"/hello"), zhangSan, zhangSanSSN, goodPass)))

	p := br.get(b.url + "/hello")
	if p.url.Path != "/saml/sso" {
		t.Fatalf("SSO at SP B ended at %s; want the Response from /saml/sso itself", p.url)
	}
	if _, ok := samlForm(t, p); !ok {
		t.Fatalf("no auto-posting Response at %s:\n%s", p.url, p.body)
	}
	subB, attrs := helloOf(t, br.postSAML(p))
	if subB == "" || subB == subA || len(attrs["name"]) != 1 {
		t.Errorf("SP B: NameID %q (A's %q), attributes %v; want a pairwise NameID and the name", subB, subA, attrs)
	}

	login := br.get(forced.url + "/hello")
	if login.url.Path != "/login" {
		t.Fatalf("ForceAuthn with a live session: %d at %s; want the login page", login.status, login.url)
	}
	done := br.submit(n.issuer, formFor(t, login, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	if done.url.Path != "/saml/sso/continue" {
		t.Errorf("ForceAuthn login ended at %s; want the continuation", done.url)
	}
	helloOf(t, br.postSAML(done))
	assertNoPersonalData(t, n)
}
