package idp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// logoutReceiver is an OIDC client's backchannel_logout_uri: it verifies
// each logout token as the client would (go-oidc: signature against the
// JWKS, iss, aud, exp) and the Back-Channel Logout 1.0 §2.4 claims.
type logoutReceiver struct {
	t        *testing.T
	url      string
	verifier *oidc.IDTokenVerifier
	fail     int // answer 503 to this many deliveries first

	mu     sync.Mutex
	tokens []logoutToken
	errs   []string
	calls  int
	got    chan struct{}
}

type logoutToken struct {
	Subject string
	SID     string         `json:"sid"`
	JTI     string         `json:"jti"`
	Nonce   *string        `json:"nonce"`
	Events  map[string]any `json:"events"`
	IAT     int64          `json:"iat"`
}

func newLogoutReceiver(t *testing.T, n *node, clientID string, fail int) *logoutReceiver {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), n.issuer)
	if err != nil {
		t.Fatal(err)
	}
	r := &logoutReceiver{t: t, verifier: p.Verifier(&oidc.Config{ClientID: clientID}), fail: fail, got: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.calls++
		if r.calls <= r.fail {
			r.mu.Unlock()
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		r.mu.Unlock()
		if req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			r.record(logoutToken{}, "not a form POST")
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		raw := req.PostFormValue("logout_token")
		idt, err := r.verifier.Verify(req.Context(), raw)
		if err != nil {
			r.record(logoutToken{}, "verify: "+err.Error())
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		var lt logoutToken
		if err := idt.Claims(&lt); err != nil {
			r.record(logoutToken{}, err.Error())
			return
		}
		lt.Subject = idt.Subject
		var problems []string
		if _, ok := lt.Events["http://schemas.openid.net/event/backchannel-logout"]; !ok {
			problems = append(problems, "no backchannel-logout event")
		}
		if lt.Nonce != nil {
			problems = append(problems, "a nonce")
		}
		if lt.JTI == "" || lt.IAT == 0 || (lt.Subject == "" && lt.SID == "") {
			problems = append(problems, "jti, iat or sub/sid missing")
		}
		r.record(lt, strings.Join(problems, "; "))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/backchannel"
	return r
}

func (r *logoutReceiver) record(lt logoutToken, problem string) {
	r.mu.Lock()
	r.tokens = append(r.tokens, lt)
	r.errs = append(r.errs, problem)
	r.mu.Unlock()
	r.got <- struct{}{}
}

// wait returns the first logout token received within 10 seconds.
func (r *logoutReceiver) wait() logoutToken {
	r.t.Helper()
	select {
	case <-r.got:
	case <-time.After(10 * time.Second):
		r.t.Fatal("no logout token arrived")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.errs[0] != "" {
		r.t.Fatalf("logout token: %s", r.errs[0])
	}
	return r.tokens[0]
}

// oidcClient registers a confidential client with a backchannel logout
// receiver and logs the browser in through it; it returns the RP and the
// sub of its ID token.
func oidcClient(t *testing.T, n *node, b *browser, id, redirect string, rec *logoutReceiver, login func(page) page) (*rp, string, string) {
	t.Helper()
	spec := admin.ClientSpec{ID: id, Name: id, RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{redirect + "/bye"}, FirstParty: true}
	if rec != nil {
		spec.BackchannelLogoutURI = rec.url
	}
	secret := registerClient(t, n, spec)
	r := newRP(t, n, id, secret, redirect)
	b.stopAt = append(b.stopAt, redirect)
	v := oauth2.GenerateVerifier()
	p := r.authorize(b, "st-"+id, "n-"+id, v)
	if login != nil {
		p = login(p)
	}
	tok, err := r.conf.Exchange(context.Background(), codeFrom(t, p, redirect, "st-"+id), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	_, c := r.verify(tok)
	return r, c.Sub, tok.Extra("id_token").(string)
}

// signedIn reports whether the browser holds a CardSSO session: an SP
// needing a new login then gets its assertion without the login page.
func signedIn(t *testing.T, b *browser, sp *crewSP) bool {
	t.Helper()
	p := b.get(sp.url + "/hello")
	if p.url.Path == "/login" {
		return false
	}
	if _, ok := samlForm(t, p); ok || p.url.Path == "/hello" {
		return true
	}
	t.Fatalf("neither the login page nor an assertion: %d at %s", p.status, p.url)
	return false
}

// TestSAMLSingleLogout: SP A logs out (signed LogoutRequest, HTTP-Redirect):
// the SSO session ends, SP B receives a LogoutRequest through the browser
// and answers, the OIDC client with a backchannel_logout_uri receives a
// valid logout token, and A gets its LogoutResponse.
func TestSAMLSingleLogout(t *testing.T) {
	n := startNode(t)
	a := newCrewSP(t, n, spOpts{noEncryption: true})
	bSP := newCrewSP(t, n, spOpts{})
	probe := newCrewSP(t, n, spOpts{noEncryption: true}) // never logged in: tells whether the session lives
	rec := newLogoutReceiver(t, n, "portal", 0)
	br := newBrowser(t)

	helloOf(t, br.postSAML(register(t, br, n, br.get(a.url+"/hello"), zhangSan, zhangSanSSN, goodPass)))
	helloOf(t, br.postSAML(br.get(bSP.url+"/hello")))
	_, sub, _ := oidcClient(t, n, br, "portal", "http://127.0.0.1:9501/cb", rec, nil)

	end := br.get(a.url + "/logout")
	if end.url.Host != strings.TrimPrefix(a.url, "http://") || end.url.Path == "/hello" {
		t.Fatalf("SP A's logout ended at %d %s:\n%s", end.status, end.url, end.body)
	}
	if signedIn(t, br, probe) {
		t.Errorf("the SSO session lives on after SP A's LogoutRequest")
	}
	// SP B's session cookie is gone: it asks the IdP again.
	if p := br.get(bSP.url + "/hello"); p.url.Path != "/login" {
		t.Errorf("SP B still has a session after single logout: %d %s", p.status, p.url)
	}
	lt := rec.wait()
	if lt.Subject != sub {
		t.Errorf("logout token sub = %q; want the client's sub %q", lt.Subject, sub)
	}
	assertNoPersonalData(t, n)
}

// TestSAMLLogoutPostWithoutCookie: a LogoutRequest in an HTTP-POST (a
// cross-site POST that carries no SameSite=Lax cookie) ends the session its
// SessionIndex names.
func TestSAMLLogoutPostWithoutCookie(t *testing.T) {
	n := startNode(t)
	a := newCrewSP(t, n, spOpts{noEncryption: true})
	probe := newCrewSP(t, n, spOpts{noEncryption: true})
	br := newBrowser(t)
	helloOf(t, br.postSAML(register(t, br, n, br.get(a.url+"/hello"), zhangSan, zhangSanSSN, goodPass)))
	as := a.last()

	s := &a.mw.ServiceProvider
	form, err := s.MakePostLogoutRequest(as.Subject.NameID.Value, "", saml.WithSessionIndexes(as.AuthnStatements[0].SessionIndex))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.url)
	cookieless := newBrowser(t, a.url)
	p := cookieless.postOnce(page{status: http.StatusOK, url: u, body: string(form)})
	if !strings.HasPrefix(p.location, a.url+"/saml/slo?") {
		t.Fatalf("LogoutRequest answered with %d %q; want a LogoutResponse to SP A", p.status, p.location)
	}
	if top, _ := statusOf(t, redirectMessageOf(t, p.location, "SAMLResponse")); top != saml.StatusSuccess {
		t.Errorf("LogoutResponse status %s; want Success", top)
	}
	if signedIn(t, br, probe) {
		t.Errorf("the session named by the SessionIndex lives on")
	}
	// The same LogoutRequest again: refused (replay).
	if again := newBrowser(t).postOnce(page{status: http.StatusOK, url: u, body: string(form)}); again.status != http.StatusBadRequest {
		t.Errorf("replayed LogoutRequest: %d; want 400", again.status)
	}
}

// TestRPInitiatedLogoutFansOut: RP-initiated OIDC logout ends the session,
// sends LogoutRequests to the session's SAML SPs through the browser and a
// logout token to the other OIDC client, then reaches the post-logout URI.
func TestRPInitiatedLogoutFansOut(t *testing.T) {
	n := startNode(t)
	a := newCrewSP(t, n, spOpts{noEncryption: true})
	bSP := newCrewSP(t, n, spOpts{})
	recB := newLogoutReceiver(t, n, "portal-b", 1) // fails once: retried
	br := newBrowser(t)
	login := func(p page) page { return register(t, br, n, p, zhangSan, zhangSanSSN, goodPass) }
	rpA, _, idToken := oidcClient(t, n, br, "portal-a", "http://127.0.0.1:9601/cb", nil, login)
	_, subB, _ := oidcClient(t, n, br, "portal-b", "http://127.0.0.1:9602/cb", recB, nil)
	helloOf(t, br.postSAML(br.get(a.url+"/hello")))
	helloOf(t, br.postSAML(br.get(bSP.url+"/hello")))

	started := time.Now()
	lo := br.get(rpA.eps.EndSession + "?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:9601/cb/bye"}, "state": {"s"},
	}.Encode())
	if !strings.HasPrefix(lo.location, "http://127.0.0.1:9601/cb/bye") {
		t.Fatalf("RP-initiated logout ended at %d %s (%q)", lo.status, lo.url, lo.location)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("logout took %s: the back-channel delivery blocked the page", d)
	}
	for name, sp := range map[string]*crewSP{"A": a, "B": bSP} {
		if p := br.get(sp.url + "/hello"); p.url.Path != "/login" {
			t.Errorf("SAML SP %s kept its session after RP-initiated logout: %d %s", name, p.status, p.url)
		}
	}
	lt := recB.wait()
	if lt.Subject != subB {
		t.Errorf("logout token sub %q; want %q", lt.Subject, subB)
	}
	recB.mu.Lock()
	calls := recB.calls
	recB.mu.Unlock()
	if calls != 2 {
		t.Errorf("backchannel deliveries: %d; want 2 (a 503, then success)", calls)
	}
}

// TestBackchannelTimeout: a back-channel receiver that does not answer is
// given up on after logout.backchannel_attempts tries of
// logout.backchannel_timeout each, while the citizen's logout page answers
// at once.
func TestBackchannelTimeout(t *testing.T) {
	n := startNode(t, func(c *idp.Config) {
		c.Logout = idp.LogoutConfig{BackchannelTimeout: time.Second, BackchannelAttempts: 2, BackchannelBackoff: 50 * time.Millisecond}
	})
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	br := newBrowser(t)
	login := func(p page) page { return register(t, br, n, p, zhangSan, zhangSanSSN, goodPass) }
	spec := admin.ClientSpec{ID: "slow", RedirectURIs: []string{"http://127.0.0.1:9701/cb"}, PostLogoutRedirectURIs: []string{"http://127.0.0.1:9701/cb/bye"},
		FirstParty: true, BackchannelLogoutURI: hang.URL + "/bc"}
	secret := registerClient(t, n, spec)
	r := newRP(t, n, "slow", secret, "http://127.0.0.1:9701/cb")
	br.stopAt = append(br.stopAt, "http://127.0.0.1:9701/cb")
	v := oauth2.GenerateVerifier()
	code := codeFrom(t, login(r.authorize(br, "s", "n", v)), "http://127.0.0.1:9701/cb", "s")
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	lo := br.get(r.eps.EndSession + "?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"http://127.0.0.1:9701/cb/bye"}}.Encode())
	if d := time.Since(started); d > 700*time.Millisecond || !strings.HasPrefix(lo.location, "http://127.0.0.1:9701/cb/bye") {
		t.Errorf("logout answered after %s at %q; want at once, at the post-logout URI", d, lo.location)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		c := calls
		mu.Unlock()
		if c >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond) // no third try
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("tries to a receiver that never answers: %d; want 2", calls)
	}
}
