package idp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

// Protocol details of issue 11, point 6 (and the release side of point 2),
// each tested as a portal or an attacker would see it: over HTTP, with
// coreos/go-oidc + x/oauth2 where they can say it, raw requests where they
// hide what is tested (headers, error descriptions).

// tokenAnswer is a raw answer of the token endpoint.
type tokenAnswer struct {
	status int
	header http.Header
	body   string
}

// postToken posts form to the token endpoint, with HTTP Basic client
// authentication when id is not empty.
func postToken(t *testing.T, tokenURL string, form url.Values, id, secret string) tokenAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return tokenAnswer{status: resp.StatusCode, header: resp.Header, body: readAll(resp.Body)}
}

// idClaims returns every claim of the ID token of tok, verified by go-oidc.
func idClaims(t *testing.T, r *rp, tok *oauth2.Token) map[string]any {
	t.Helper()
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var m map[string]any
	if err := idt.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// userinfoClaims returns every claim of the userinfo answer for tok.
func userinfoClaims(t *testing.T, r *rp, tok *oauth2.Token) map[string]any {
	t.Helper()
	ui, err := r.userinfo(tok)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var m map[string]any
	if err := ui.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// internalWords are what an error description must never contain: the
// store's, the SQL drivers' and Go's own words.
var internalWords = []string{"sqlstore", "sql:", "storage:", "pgx", "sqlite", "Parent=", "ErrorType=", "goroutine", ".go:"}

func assertNoInternals(t *testing.T, what, text string) {
	t.Helper()
	low := strings.ToLower(text)
	for _, w := range internalWords {
		if strings.Contains(low, strings.ToLower(w)) {
			t.Errorf("%s answers with internal text %q:\n%s", what, w, text)
		}
	}
}

// TestTokenResponsesAreNotCached: every answer of the token endpoint, for
// every grant and every error, says Cache-Control: no-store and Pragma:
// no-cache (RFC 6749 §5.1, §5.2). Before, only client credentials did.
func TestTokenResponsesAreNotCached(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9931/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "nc", RedirectURIs: []string{red}})
	r := newRP(t, n, "nc", secret, red)
	tokenURL := r.conf.Endpoint.TokenURL
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	code := codeFrom(t, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), red, "s")

	codeAnswer := postToken(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {red}, "code_verifier": {v}}, "nc", secret)
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if codeAnswer.status != http.StatusOK || json.Unmarshal([]byte(codeAnswer.body), &tok) != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %d %s", codeAnswer.status, codeAnswer.body)
	}
	answers := map[string]tokenAnswer{"authorization_code": codeAnswer}
	answers["refresh_token"] = postToken(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "nc", secret)
	answers["client_credentials"] = postToken(t, tokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {"ecard.verify"}}, "nc", secret)
	for _, ok := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if answers[ok].status != http.StatusOK {
			t.Fatalf("%s: %d %s", ok, answers[ok].status, answers[ok].body)
		}
	}
	answers["error: code used twice"] = postToken(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {red}, "code_verifier": {v}}, "nc", secret)
	answers["error: bad refresh token"] = postToken(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "nc", secret)
	answers["error: wrong secret"] = postToken(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "nc", "wrong")
	answers["error: unknown client"] = postToken(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "nobody", "x")
	answers["error: unsupported grant"] = postToken(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, "nc", secret)
	answers["error: short verifier"] = postToken(t, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {"x"},
		"redirect_uri": {red}, "code_verifier": {"a"}}, "nc", secret)
	for name, a := range answers {
		if strings.HasPrefix(name, "error") && a.status < 400 {
			t.Errorf("%s: status %d; want an error", name, a.status)
		}
		if got := a.header.Values("Cache-Control"); !slices.Contains(got, "no-store") {
			t.Errorf("%s: Cache-Control %q; want no-store", name, got)
		}
		if got := a.header.Get("Pragma"); got != "no-cache" {
			t.Errorf("%s: Pragma %q; want no-cache", name, got)
		}
	}
}

// s256 is the S256 code_challenge of verifier.
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TestShortCodeVerifierRefused: a code_verifier is 43 to 128 unreserved
// characters (RFC 7636 §4.1). An attacker who chose code_challenge =
// S256("a") could otherwise redeem with "a"; a code_challenge that is not
// 43 base64url characters is refused at /authorize.
func TestShortCodeVerifierRefused(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9932/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "pk", RedirectURIs: []string{red}})
	registerClient(t, n, admin.ClientSpec{ID: "pk-pub", Public: true, RedirectURIs: []string{red}})
	r := newRP(t, n, "pk", secret, red)
	br := newBrowser(t, red)
	code := codeFrom(t, register(t, br, n, r.authorize(br, "s", "n", "a"), zhangSan, zhangSanSSN, goodPass), red, "s")
	for _, bad := range []string{"a", strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 42) + "!", strings.Repeat("é", 22)} {
		a := postToken(t, r.conf.Endpoint.TokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {red}, "code_verifier": {bad}}, "pk", secret)
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(a.body), &e)
		if a.status != http.StatusBadRequest || (e.Error != "invalid_grant" && e.Error != "invalid_request") {
			t.Errorf("code_verifier %q (%d chars): %d %s; want 400 invalid_grant", bad, len(bad), a.status, a.body)
		}
	}
	// A syntactically valid verifier of the right challenge works (the
	// code was not spent by the refusals above): the check is syntax only.
	v := oauth2.GenerateVerifier()
	code2 := codeFrom(t, r.authorize(br, "s2", "n", v), red, "s2")
	if _, err := r.conf.Exchange(context.Background(), code2, oauth2.VerifierOption(v)); err != nil {
		t.Errorf("a valid verifier: %v", err)
	}

	// Malformed S256 challenges at /authorize: invalid_request to the portal.
	for _, chal := range []string{"short", s256("x") + "A", strings.Repeat("*", 43), s256("x")[:42] + "="} {
		u := r.conf.AuthCodeURL("s3", oauth2.SetAuthURLParam("code_challenge", chal),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"), oidc.Nonce("n"))
		p := br.get(u)
		loc, _ := url.Parse(p.location)
		if loc == nil || loc.Query().Get("error") != "invalid_request" {
			t.Errorf("code_challenge %q: %d %s -> %q; want error=invalid_request", chal, p.status, p.url, p.location)
		}
	}
}

// TestDiscoveryMatchesBehaviour: what the discovery document advertises is
// what is served, and what is not served is not advertised.
func TestDiscoveryMatchesBehaviour(t *testing.T) {
	n := startNode(t)
	const red, redPub = "http://127.0.0.1:9933/cb", "http://127.0.0.1:9934/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "disc", RedirectURIs: []string{red}})
	pubSecret := registerClient(t, n, admin.ClientSpec{ID: "disc-pub", RedirectURIs: []string{redPub}, PublicSubject: true})
	r := newRP(t, n, "disc", secret, red)
	pub := newRP(t, n, "disc-pub", pubSecret, redPub)
	var d struct {
		SubjectTypes    []string `json:"subject_types_supported"`
		ResponseModes   []string `json:"response_modes_supported"`
		ResponseTypes   []string `json:"response_types_supported"`
		PKCE            []string `json:"code_challenge_methods_supported"`
		Backchannel     bool     `json:"backchannel_logout_supported"`
		BackchannelSID  bool     `json:"backchannel_logout_session_supported"`
		FrontchannelSID bool     `json:"frontchannel_logout_session_supported"`
		Frontchannel    bool     `json:"frontchannel_logout_supported"`
		ClaimsSupported []string `json:"claims_supported"`
		RequestParam    bool     `json:"request_parameter_supported"`
	}
	if err := r.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.SubjectTypes, []string{"pairwise", "public"}) {
		t.Errorf("subject_types_supported %v; want [pairwise public]", d.SubjectTypes)
	}
	if !d.Backchannel || !d.BackchannelSID {
		t.Errorf("backchannel_logout_supported %v, backchannel_logout_session_supported %v; want both (sid is sent)", d.Backchannel, d.BackchannelSID)
	}
	if d.Frontchannel || d.FrontchannelSID || d.RequestParam {
		t.Errorf("front-channel logout or request objects advertised: %+v", d)
	}
	if !slices.Contains(d.ClaimsSupported, "sid") {
		t.Errorf("claims_supported %v lacks sid, which ID tokens carry", d.ClaimsSupported)
	}
	for _, m := range []string{"query", "fragment", "form_post"} {
		if !slices.Contains(d.ResponseModes, m) {
			t.Errorf("response_modes_supported %v lacks %s, which is served", d.ResponseModes, m)
		}
	}

	callback := n.issuer + "/authorize/callback"
	br := newBrowser(t, red, redPub, callback)
	v := oauth2.GenerateVerifier()
	// response_mode=form_post through the login pages (/authorize/callback).
	done := register(t, br, n, r.authorize(br, "s1", "n", v, oauth2.SetAuthURLParam("response_mode", "form_post")), zhangSan, zhangSanSSN, goodPass)
	next, err := url.Parse(done.location)
	if err != nil || !strings.HasPrefix(done.url.ResolveReference(next).String(), callback) {
		t.Fatalf("login did not end at the callback: %d at %s -> %q", done.status, done.url, done.location)
	}
	fp, h := br.getWithHeader(done.url.ResolveReference(next).String())
	checkFormPost(t, r, fp, h, red, "s1", v)
	// ... and answered from the session at /authorize.
	v = oauth2.GenerateVerifier()
	fp, h = br.getWithHeader(r.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(v), oidc.Nonce("n"), oauth2.SetAuthURLParam("response_mode", "form_post")))
	if fp.url.Path != "/authorize" {
		t.Errorf("form_post with a live session answered at %s; want /authorize", fp.url.Path)
	}
	checkFormPost(t, r, fp, h, red, "s2", v)

	// response_mode=fragment: the code in the fragment.
	v = oauth2.GenerateVerifier()
	p := r.authorize(br, "s3", "n", v, oauth2.SetAuthURLParam("response_mode", "fragment"))
	loc, err := url.Parse(p.location)
	if err != nil || !strings.HasPrefix(p.location, red) {
		t.Fatalf("fragment: %d -> %q", p.status, p.location)
	}
	frag, _ := url.ParseQuery(loc.Fragment)
	if loc.Query().Get("code") != "" || frag.Get("code") == "" || frag.Get("state") != "s3" {
		t.Errorf("response_mode=fragment answered %q; want code and state in the fragment only", p.location)
	}
	if _, err := r.conf.Exchange(context.Background(), frag.Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Errorf("fragment code: %v", err)
	}
	// response_mode=query (the default) is the redirect every other test uses.
	v = oauth2.GenerateVerifier()
	tokA, _ := exchange(t, r, r.authorize(br, "s4", "n", v, oauth2.SetAuthURLParam("response_mode", "query")), v, "s4")

	// Pairwise by default, public when registered so.
	v = oauth2.GenerateVerifier()
	tokP, _ := exchange(t, pub, pub.authorize(br, "s5", "n", v), v, "s5")
	subA, subP := idClaims(t, r, tokA)["sub"], idClaims(t, pub, tokP)["sub"]
	if subA == subP || subA == "" || subP == "" {
		t.Errorf("sub at a default client %v, at a public-subject client %v; want different (pairwise vs public)", subA, subP)
	}

	// What is not advertised is refused: other response types, plain PKCE.
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"response_type=token":       {oauth2.SetAuthURLParam("response_type", "token")},
		"response_type=id_token":    {oauth2.SetAuthURLParam("response_type", "id_token")},
		"response_mode=web_message": {oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("response_mode", "web_message")},
		"response_mode=query.jwt":   {oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("response_mode", "query.jwt")},
		"code_challenge_method=plain": {oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		if slices.Contains(d.ResponseTypes, strings.TrimPrefix(name, "response_type=")) || slices.Contains(d.PKCE, "plain") ||
			slices.Contains(d.ResponseModes, strings.TrimPrefix(name, "response_mode=")) {
			t.Errorf("discovery advertises %s", name)
		}
		p := br.get(r.conf.AuthCodeURL("s6", append(opts, oidc.Nonce("n"))...))
		if strings.Contains(p.location, "code=") || strings.Contains(p.location, "access_token=") || strings.Contains(p.location, "id_token=") {
			t.Errorf("%s (not advertised) was answered: %d -> %q", name, p.status, p.location)
		}
	}
}

// checkFormPost checks a response_mode=form_post answer: a page that posts
// the code and state to the redirect URI, which no site may frame, and
// whose code works.
func checkFormPost(t *testing.T, r *rp, p page, h http.Header, redirect, state, verifier string) {
	t.Helper()
	if p.status != http.StatusOK {
		t.Fatalf("form_post: status %d at %s -> %q; want the form post page", p.status, p.url, p.location)
	}
	var f *form
	for _, x := range forms(t, p.body) {
		if x.action == redirect {
			f = &x
		}
	}
	if f == nil || f.fields.Get("state") != state || f.fields.Get("code") == "" {
		t.Fatalf("form_post page at %s does not post code and state to %s:\n%s", p.url, redirect, p.body)
	}
	if _, err := r.conf.Exchange(context.Background(), f.fields.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Errorf("form_post code: %v", err)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("form_post page at %s: Content-Security-Policy %q; want frame-ancestors 'none'", p.url.Path, csp)
	}
	if xfo := h.Get("X-Frame-Options"); xfo != "DENY" {
		t.Errorf("form_post page at %s: X-Frame-Options %q; want DENY", p.url.Path, xfo)
	}
}

// getWithHeader is browser.get that also returns the final answer's header.
func (b *browser) getWithHeader(u string) (page, http.Header) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept-Language", "en")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), url: resp.Request.URL, body: readAll(resp.Body)}, resp.Header
}

// TestLogoutTokenSIDMatchesIDToken: the logout token a portal receives when
// the session ends names the session by the same sid as the portal's ID
// tokens (Back-Channel Logout 1.0 §2.4, §2.6 "sid"), so a portal that keeps
// several sessions per citizen ends the right one; two portals see
// different sids for one session, and neither is the session cookie.
func TestLogoutTokenSIDMatchesIDToken(t *testing.T) {
	n := startNode(t)
	br := newBrowser(t)
	recA := newLogoutReceiver(t, n, "sid-a", 0)
	recB := newLogoutReceiver(t, n, "sid-b", 0)
	login := func(p page) page { return register(t, br, n, p, zhangSan, zhangSanSSN, goodPass) }
	rpA, _, idA := oidcClient(t, n, br, "sid-a", "http://127.0.0.1:9941/cb", recA, login)
	rpB, _, idB := oidcClient(t, n, br, "sid-b", "http://127.0.0.1:9942/cb", recB, nil)
	sidOf := func(r *rp, raw string) string {
		idt, err := r.verifier.Verify(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			SID string `json:"sid"`
		}
		_ = idt.Claims(&c)
		return c.SID
	}
	sidA, sidB := sidOf(rpA, idA), sidOf(rpB, idB)
	if sidA == "" || sidB == "" || sidA == sidB {
		t.Fatalf("ID token sids %q and %q; want a sid per portal", sidA, sidB)
	}
	u, _ := url.Parse(n.issuer)
	for _, c := range br.c.Jar.Cookies(u) {
		if strings.Contains(c.Value, sidA) || strings.Contains(c.Value, sidB) || (c.Value != "" && (strings.Contains(sidA, c.Value) || strings.Contains(sidB, c.Value))) {
			t.Errorf("a sid shares text with cookie %s", c.Name)
		}
	}
	// A refreshed ID token keeps the sid.
	v := oauth2.GenerateVerifier()
	tok, _ := exchange(t, rpA, rpA.authorize(br, "again", "n", v), v, "again")
	if got := idClaims(t, rpA, tok)["sid"]; got != sidA {
		t.Errorf("a second ID token in the same session has sid %v; want %q", got, sidA)
	}
	tok2, err := rpA.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := idClaims(t, rpA, tok2)["sid"]; got != sidA {
		t.Errorf("refreshed ID token sid %v; want %q", got, sidA)
	}

	lo := br.get(rpA.eps.EndSession + "?" + url.Values{
		"id_token_hint": {idA}, "post_logout_redirect_uri": {"http://127.0.0.1:9941/cb/bye"}, "state": {"s"},
	}.Encode())
	if !strings.HasPrefix(lo.location, "http://127.0.0.1:9941/cb/bye") {
		t.Fatalf("logout ended at %d %s (%q)", lo.status, lo.url, lo.location)
	}
	if lt := recA.wait(); lt.SID != sidA {
		t.Errorf("portal A's logout token sid %q; want its ID token's %q", lt.SID, sidA)
	}
	if lt := recB.wait(); lt.SID != sidB {
		t.Errorf("portal B's logout token sid %q; want its ID token's %q", lt.SID, sidB)
	}
}

// verifiedName returns verified_claims.claims.name of claims m, and whether
// verified_claims is there at all.
func verifiedName(m map[string]any) (any, bool) {
	vc, ok := m["verified_claims"].(map[string]any)
	if !ok {
		return nil, false
	}
	inner, _ := vc["claims"].(map[string]any)
	return inner["name"], true
}

// TestVerifiedClaimsAtUserinfo: verified_claims asked for in the userinfo
// member of the claims parameter is answered at userinfo, also with the
// access token of a refresh, and not in the ID token; asked for in the
// id_token member only, it is not answered at userinfo (OIDC Core §5.5,
// OIDC4IA §6).
func TestVerifiedClaimsAtUserinfo(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9943/cb"
	r := newRP(t, n, "vc", registerClient(t, n, admin.ClientSpec{ID: "vc", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")

	askUI := oauth2.SetAuthURLParam("claims", `{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}`)
	v = oauth2.GenerateVerifier()
	tok, _ := exchange(t, r, r.authorize(br, "u", "n", v, askUI), v, "u")
	if _, in := verifiedName(idClaims(t, r, tok)); in {
		t.Errorf("verified_claims asked for at userinfo appeared in the ID token")
	}
	if name, in := verifiedName(userinfoClaims(t, r, tok)); !in || name != zhangSan {
		t.Errorf("userinfo verified_claims name %v (present %v); want %q", name, in, zhangSan)
	}
	tok2, err := r.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if name, in := verifiedName(userinfoClaims(t, r, tok2)); !in || name != zhangSan {
		t.Errorf("after refresh, userinfo verified_claims name %v (present %v); want the grant's claims request kept", name, in)
	}

	askID := oauth2.SetAuthURLParam("claims", `{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}`)
	v = oauth2.GenerateVerifier()
	tok3, _ := exchange(t, r, r.authorize(br, "i", "n", v, askID), v, "i")
	if name, in := verifiedName(idClaims(t, r, tok3)); !in || name != zhangSan {
		t.Errorf("ID token verified_claims name %v (present %v); want %q", name, in, zhangSan)
	}
	if _, in := verifiedName(userinfoClaims(t, r, tok3)); in {
		t.Errorf("verified_claims asked for in the ID token only appeared at userinfo")
	}
	tok4, err := r.refresh(tok3.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if name, in := verifiedName(idClaims(t, r, tok4)); !in || name != zhangSan {
		t.Errorf("refreshed ID token verified_claims name %v (present %v); want %q", name, in, zhangSan)
	}
}

// TestClaimsOnlyAsGranted: a portal that asks only for openid learns no
// name, whatever its claims parameter asks for (verified_claims, plain
// claims), in the ID token or at userinfo; inside verified_claims only the
// claims asked for are released (OIDC Core §5.5, OIDC4IA §6).
func TestClaimsOnlyAsGranted(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9944/cb"
	r := newRP(t, n, "leak", registerClient(t, n, admin.ClientSpec{ID: "leak", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")

	r.conf.Scopes = []string{oidc.ScopeOpenID}
	for name, claims := range map[string]string{
		"verified_claims name": `{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}},` +
			`"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}`,
		"verified_claims without claims": `{"id_token":{"verified_claims":{"verification":{"trust_framework":null}}},` +
			`"userinfo":{"verified_claims":{"verification":{"trust_framework":null}}}}`,
		"verified_claims of other claims": `{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"birthdate":null}}}}`,
		"plain name":                      `{"id_token":{"name":{"essential":true},"ssn_masked":null},"userinfo":{"name":null,"ssn":null}}`,
	} {
		v := oauth2.GenerateVerifier()
		tok, _ := exchange(t, r, r.authorize(br, "c", "n", v, oauth2.SetAuthURLParam("claims", claims)), v, "c")
		for where, m := range map[string]map[string]any{"ID token": idClaims(t, r, tok), "userinfo": userinfoClaims(t, r, tok)} {
			for _, c := range []string{"name", "verified_claims", "ssn_masked", "ssn", "card_region"} {
				if val, ok := m[c]; ok {
					t.Errorf("%s, scope openid: %s has %s = %v", name, where, c, val)
				}
			}
			if b, _ := json.Marshal(m); strings.Contains(string(b), zhangSan) {
				t.Errorf("%s, scope openid: %s names the citizen: %s", name, where, b)
			}
		}
	}
	// With profile granted, verified_claims holds what was asked for only.
	r.conf.Scopes = []string{oidc.ScopeOpenID, "profile", "cardsso.card"}
	v = oauth2.GenerateVerifier()
	tok, _ := exchange(t, r, r.authorize(br, "p", "n", v, oauth2.SetAuthURLParam("claims",
		`{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"ssn_masked":null}}}}`)), v, "p")
	vc, _ := idClaims(t, r, tok)["verified_claims"].(map[string]any)
	inner, _ := vc["claims"].(map[string]any)
	if len(inner) != 1 || inner["ssn_masked"] != "110***********0017" {
		t.Errorf("verified_claims.claims = %v; want ssn_masked only, as asked", inner)
	}
}

// TestAuthTimeAfterClaimsStepUp: a step-up asked for through the claims
// parameter's acr gives the same acr and auth_time as one asked for with
// acr_values (OIDC Core §5.5.1.1: acr_values is a voluntary acr claim
// request): at level 3, the face check's time, later than the password
// login, and loa:3; at level 2 (the real-card check is a check of the
// record, not an authentication) the password login's time, and loa:2.
// Before, a voluntary acr claim request was ignored: no step-up, the
// session's acr and the password login's auth_time.
func TestAuthTimeAfterClaimsStepUp(t *testing.T) {
	type result struct {
		acr   string
		later bool // auth_time later than the password login's
	}
	got := map[string]result{}
	for name, ask := range map[string]oauth2.AuthCodeOption{
		"acr_values 3":         oauth2.SetAuthURLParam("acr_values", "urn:cardsso:loa:3"),
		"essential claim 3":    oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"value":"urn:cardsso:loa:3"}}}`),
		"userinfo claim 3":     oauth2.SetAuthURLParam("claims", `{"userinfo":{"acr":{"essential":true,"values":["urn:cardsso:loa:3"]}}}`),
		"voluntary claim 3":    oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"values":["urn:cardsso:loa:3"]}}}`),
		"acr_values 2":         oauth2.SetAuthURLParam("acr_values", "urn:cardsso:loa:2"),
		"essential claim 2":    oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["urn:cardsso:loa:2","urn:cardsso:loa:3"]}}}`),
		"voluntary claim 2":    oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"value":"urn:cardsso:loa:2"}}}`),
		"voluntary unknown, 1": oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"values":["urn:other:9"]}}}`),
	} {
		t.Run(name, func(t *testing.T) {
			n := startNode(t)
			const red = "http://127.0.0.1:9945/cb"
			r := newRP(t, n, "up", registerClient(t, n, admin.ClientSpec{ID: "up", RedirectURIs: []string{red}}), red)
			br := newBrowser(t, red)
			v := oauth2.GenerateVerifier()
			_, c1 := exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
			time.Sleep(1100 * time.Millisecond) // so a step-up's auth_time is visibly later
			v = oauth2.GenerateVerifier()
			p := r.authorize(br, "up", "n", v, ask)
			if p.url.Path == "/login/card" {
				p = br.submit(n.issuer, formFor(t, p, "/login/card"), map[string]string{"card_number": "A00000001"})
			}
			if p.url.Path == "/login/face" {
				photoPage := br.submit(n.issuer, formFor(t, p, "/login/face/consent"), map[string]string{"consent": "allow"})
				p = br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
			}
			tok, c := exchange(t, r, p, v, "up")
			ui := userinfoClaims(t, r, tok)
			if at, _ := ui["auth_time"].(float64); int64(at) != c.AuthTime || ui["acr"] != c.ACR {
				t.Errorf("userinfo auth_time %v acr %v; want the ID token's %d %s", ui["auth_time"], ui["acr"], c.AuthTime, c.ACR)
			}
			got[name] = result{acr: c.ACR, later: c.AuthTime > c1.AuthTime}
		})
	}
	want := map[string]result{
		"acr_values 3": {"urn:cardsso:loa:3", true}, "essential claim 3": {"urn:cardsso:loa:3", true},
		"userinfo claim 3": {"urn:cardsso:loa:3", true}, "voluntary claim 3": {"urn:cardsso:loa:3", true},
		"acr_values 2": {"urn:cardsso:loa:2", false}, "essential claim 2": {"urn:cardsso:loa:2", false},
		"voluntary claim 2": {"urn:cardsso:loa:2", false}, "voluntary unknown, 1": {"urn:cardsso:loa:1", false},
	}
	for name, w := range want {
		if g, ok := got[name]; ok && g != w {
			t.Errorf("%s: acr %s, auth_time later than the password login %v; want %s, %v (as acr_values)", name, g.acr, g.later, w.acr, w.later)
		}
	}
}

// TestErrorDescriptionsWithoutInternals: the answers to bad requests tell
// a portal (or whoever sends them) what was wrong in fixed words, never the
// store's or the library's internals (one said "sqlstore: auth request not
// found, …").
func TestErrorDescriptionsWithoutInternals(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9946/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "err", RedirectURIs: []string{red}})
	r := newRP(t, n, "err", secret, red)
	tokenURL := r.conf.Endpoint.TokenURL
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	tok, _ := exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")

	raw := func(method, u string, form url.Values, header map[string]string) (int, string) {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		// A redirect to the portal carries the error in its query.
		return resp.StatusCode, resp.Header.Get("Location") + "\n" + readAll(resp.Body)
	}
	basic := func(id, secret string) map[string]string {
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(id, secret)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	cases := []struct {
		name         string
		method, url  string
		form         url.Values
		header       map[string]string
		wantErrorish bool // a 4xx or an error redirect (the callback's page may be the login's own)
	}{
		{"bad code", http.MethodPost, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {"not-a-code"},
			"redirect_uri": {red}, "code_verifier": {v}}, basic("err", secret), true},
		{"well-formed unknown code", http.MethodPost, tokenURL, url.Values{"grant_type": {"authorization_code"},
			"code":         {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
			"redirect_uri": {red}, "code_verifier": {v}}, basic("err", secret), true},
		{"bad refresh token", http.MethodPost, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"bad-refresh"}}, basic("err", secret), true},
		{"refresh token of another client", http.MethodPost, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, basic("nobody", "x"), true},
		{"unknown client", http.MethodPost, tokenURL, url.Values{"grant_type": {"client_credentials"}}, basic("nobody", "x"), true},
		{"wrong secret", http.MethodPost, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, basic("err", "wrong"), true},
		{"client in the form, no secret", http.MethodPost, tokenURL, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"err"}}, nil, true},
		{"unknown auth request at the callback", http.MethodGet, n.issuer + "/authorize/callback?id=06H55NOSUCHREQUEST000000000000000000", nil, nil, false},
		{"malformed auth request id at the callback", http.MethodGet, n.issuer + "/authorize/callback?id=%27%3B--", nil, nil, false},
		{"callback without id", http.MethodGet, n.issuer + "/authorize/callback", nil, nil, false},
		{"unknown client at /authorize", http.MethodGet, n.issuer + "/authorize?" + url.Values{"client_id": {"nobody"}, "response_type": {"code"},
			"scope": {"openid"}, "redirect_uri": {red}, "state": {"s"}}.Encode(), nil, nil, true},
		{"unregistered redirect at /authorize", http.MethodGet, n.issuer + "/authorize?" + url.Values{"client_id": {"err"}, "response_type": {"code"},
			"scope": {"openid"}, "redirect_uri": {"http://127.0.0.1:1/evil"}, "state": {"s"}}.Encode(), nil, nil, true},
		{"bad claims at /authorize", http.MethodGet, n.issuer + "/authorize?" + url.Values{"client_id": {"err"}, "response_type": {"code"},
			"scope": {"openid"}, "redirect_uri": {red}, "state": {"s"}, "claims": {"{bad"}}.Encode(), nil, nil, true},
		{"bad access token at userinfo", http.MethodGet, n.issuer + "/userinfo", nil, map[string]string{"Authorization": "Bearer not-a-token"}, true},
		{"bad token at introspection", http.MethodPost, r.eps.Introspection, url.Values{"token": {"x"}}, basic("nobody", "x"), true},
		{"bad token at revocation", http.MethodPost, r.eps.Revocation, url.Values{"token": {"x"}}, basic("nobody", "x"), true},
		{"bad id_token_hint at end_session", http.MethodGet, r.eps.EndSession + "?id_token_hint=eyJhbGciOiJFUzI1NiJ9.e30.x", nil, nil, false},
	}
	// A completed request's callback, a second time: the code was given
	// (this answer once said "sqlstore: auth request not found, …").
	callback := n.issuer + "/authorize/callback"
	fresh := newBrowser(t, red, callback)
	done := fresh.submit(n.issuer, formFor(t, r.authorize(fresh, "cb", "n", oauth2.GenerateVerifier()), "/login/password"),
		map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	next, err := url.Parse(done.location)
	if err != nil || !strings.HasPrefix(done.url.ResolveReference(next).String(), callback) {
		t.Fatalf("login did not end at the callback: %d at %s -> %q", done.status, done.url, done.location)
	}
	cbURL := done.url.ResolveReference(next).String()
	if first := fresh.get(cbURL); !strings.Contains(first.location, "code=") {
		t.Fatalf("first callback: %d -> %q; want the code", first.status, first.location)
	}
	again := fresh.get(cbURL)
	if strings.Contains(again.location, "code=") {
		t.Errorf("second callback gave another code: %q", again.location)
	}
	dec, _ := url.QueryUnescape(again.location + "\n" + again.body)
	assertNoInternals(t, "second callback of a completed request", dec)

	for _, c := range cases {
		status, body := raw(c.method, c.url, c.form, c.header)
		if loc, _, _ := strings.Cut(body, "\n"); strings.Contains(loc, "code=") {
			t.Errorf("%s: answered with a code: %q", c.name, loc)
		}
		if c.wantErrorish && status < 300 {
			t.Errorf("%s: status %d; want an error:\n%s", c.name, status, body)
		}
		if status >= 500 {
			t.Errorf("%s: status %d; a bad request is the caller's fault:\n%s", c.name, status, body)
		}
		dec, _ := url.QueryUnescape(body)
		assertNoInternals(t, c.name, dec)
	}
}
