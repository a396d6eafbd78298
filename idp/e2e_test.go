package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

const (
	zhangSan    = "张三"
	zhangSanSSN = "110105199003070017"
	goodPass    = "correct horse 42"
)

// rp is an independent relying party: coreos/go-oidc + x/oauth2.
type rp struct {
	t        *testing.T
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	eps      struct {
		Introspection string `json:"introspection_endpoint"`
		Revocation    string `json:"revocation_endpoint"`
		EndSession    string `json:"end_session_endpoint"`
	}
}

func newRP(t *testing.T, n *node, clientID, secret, redirect string) *rp {
	t.Helper()
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, n.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	r := &rp{t: t, provider: p}
	if err := p.Claims(&r.eps); err != nil {
		t.Fatal(err)
	}
	ep := p.Endpoint()
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	r.conf = oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess, "cardsso.card"},
	}
	r.verifier = p.Verifier(&oidc.Config{ClientID: clientID})
	return r
}

// registerClient goes through the same code path as `cardsso clients
// create`. Test clients are first party (no consent page) unless a test
// registers one itself with registerThirdParty.
func registerClient(t *testing.T, n *node, spec admin.ClientSpec) string {
	t.Helper()
	spec.FirstParty = true
	return registerThirdParty(t, n, spec)
}

// registerThirdParty registers a client as given: not first party, it asks
// the citizen for consent.
func registerThirdParty(t *testing.T, n *node, spec admin.ClientSpec) string {
	t.Helper()
	_, secret, err := n.admin(t).CreateClient(context.Background(), spec)
	if err != nil {
		t.Fatalf("CreateClient(%s): %v", spec.ID, err)
	}
	return secret
}

// authorize starts a code flow with PKCE and returns the final response
// (the redirect to the RP, or the page the browser stopped at).
func (r *rp) authorize(b *browser, state, nonce, verifier string, opts ...oauth2.AuthCodeOption) page {
	r.t.Helper()
	opts = append(opts, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	return b.get(r.conf.AuthCodeURL(state, opts...))
}

// codeFrom extracts the code from the redirect to the RP, checking state.
func codeFrom(t *testing.T, p page, redirect, state string) string {
	t.Helper()
	if p.status != http.StatusFound && p.status != http.StatusSeeOther {
		t.Fatalf("want a redirect to the RP, got status %d at %s:\n%s", p.status, p.url, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil || !strings.HasPrefix(p.location, redirect) {
		t.Fatalf("redirect to %q; want %q", p.location, redirect)
	}
	if got := u.Query().Get("state"); got != state {
		t.Fatalf("state = %q; want %q", got, state)
	}
	if e := u.Query().Get("error"); e != "" {
		t.Fatalf("authorization error %s: %s", e, u.Query().Get("error_description"))
	}
	return u.Query().Get("code")
}

// register walks a first-time citizen through registration from the login page.
func register(t *testing.T, b *browser, n *node, loginPage page, name, ssn, pass string) page {
	t.Helper()
	f := formFor(t, loginPage, "/login/register")
	setup := b.submit(n.issuer, f, map[string]string{"name": name, "ssn": ssn})
	if setup.status != http.StatusOK {
		t.Fatalf("registration: status %d:\n%s", setup.status, setup.body)
	}
	sf := formFor(t, setup, "/login/password-setup")
	return b.submit(n.issuer, sf, map[string]string{"password": pass, "password_confirm": pass})
}

type claims struct {
	Sub        string   `json:"sub"`
	Name       string   `json:"name"`
	ACR        string   `json:"acr"`
	AMR        []string `json:"amr"`
	AuthTime   int64    `json:"auth_time"`
	SSNMasked  string   `json:"ssn_masked"`
	CardRegion string   `json:"card_region"`
	Nonce      string   `json:"nonce"`
}

func (r *rp) verify(tok *oauth2.Token) (*oidc.IDToken, claims) {
	r.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(context.Background(), raw)
	if err != nil {
		r.t.Fatalf("ID token does not verify: %v", err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		r.t.Fatal(err)
	}
	return idt, c
}

// introspect calls RFC 7662 introspection as this (confidential) client.
func (r *rp) introspect(token string) map[string]any {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.eps.Introspection, strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(r.conf.ClientID, r.conf.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		r.t.Fatalf("introspection answer (status %d): %v", resp.StatusCode, err)
	}
	return out
}

func (r *rp) revoke(token, hint string) int {
	r.t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, _ := http.NewRequest(http.MethodPost, r.eps.Revocation, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(r.conf.ClientID, r.conf.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (r *rp) refresh(rt string) (*oauth2.Token, error) {
	return r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
}

func (r *rp) userinfo(tok *oauth2.Token) (*oidc.UserInfo, error) {
	return r.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
}

// oauthError returns the RFC 6749 error code of a failed token request.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestEndToEnd follows a portal and a citizen through the whole path: one-time
// registration as 张三, tokens, userinfo, refresh, introspection, revocation,
// SSO at a second portal, key rotation and logout.
func TestEndToEnd(t *testing.T) {
	n := startNode(t, func(c *idp.Config) { c.Keys.RefreshInterval = 50 * time.Millisecond })
	ctx := context.Background()
	const redirectA, redirectB = "http://127.0.0.1:9001/callback", "http://127.0.0.1:9002/cb"
	secretA := registerClient(t, n, admin.ClientSpec{ID: "portal-a", Name: "Portal A",
		RedirectURIs: []string{redirectA}, PostLogoutRedirectURIs: []string{"http://127.0.0.1:9001/bye"}})
	if len(secretA) < 43 {
		t.Fatalf("generated secret has %d characters; want 256 bits (43 base64url characters)", len(secretA))
	}
	registerClient(t, n, admin.ClientSpec{ID: "portal-b", Name: "Portal B", Public: true, RedirectURIs: []string{redirectB}})
	a := newRP(t, n, "portal-a", secretA, redirectA)
	b := newRP(t, n, "portal-b", "", redirectB)
	br := newBrowser(t, redirectA, redirectB, "http://127.0.0.1:9001/bye")

	// 1. Register once and log in to portal A.
	verifier := oauth2.GenerateVerifier()
	loginPage := a.authorize(br, "st-a", "nonce-a", verifier)
	if loginPage.status != http.StatusOK || !strings.Contains(loginPage.url.Path, "/login") {
		t.Fatalf("authorize did not reach the login page: %d %s", loginPage.status, loginPage.url)
	}
	formFor(t, loginPage, "/login/password")
	done := register(t, br, n, loginPage, zhangSan, zhangSanSSN, goodPass)
	code := codeFrom(t, done, redirectA, "st-a")
	tok, err := a.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idt, c := a.verify(tok)
	if c.Nonce != "nonce-a" {
		t.Errorf("nonce = %q; want nonce-a", c.Nonce)
	}
	if c.Sub == "" || strings.Contains(c.Sub, zhangSanSSN) || strings.Contains(c.Sub, "0017") {
		t.Errorf("sub = %q; want a stable id that is not the number", c.Sub)
	}
	if c.Name != zhangSan || c.ACR != "urn:cardsso:loa:1" || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("ID token name/acr/amr = %q %q %v; want %q urn:cardsso:loa:1 [pwd]", c.Name, c.ACR, c.AMR, zhangSan)
	}
	if c.SSNMasked != "110***********0017" || c.CardRegion != "110105" {
		t.Errorf("ssn_masked, card_region = %q, %q; want 110***********0017, 110105", c.SSNMasked, c.CardRegion)
	}
	if d := time.Since(time.Unix(c.AuthTime, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("auth_time %v is not now", time.Unix(c.AuthTime, 0))
	}
	oldKid := kidOf(t, tok)

	// 2. Userinfo.
	ui, err := a.userinfo(tok)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc claims
	_ = ui.Claims(&uc)
	if uc.Sub != c.Sub || uc.Name != zhangSan || uc.SSNMasked != "110***********0017" || uc.ACR != "urn:cardsso:loa:1" {
		t.Errorf("userinfo = %+v; want sub %s, name, ssn_masked, acr", uc, c.Sub)
	}

	// 3. Refresh rotates the refresh token; the ID token keeps acr and auth_time.
	tok2, err := a.refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	_, c2 := a.verify(tok2)
	if c2.Sub != c.Sub || c2.ACR != c.ACR || c2.AuthTime != c.AuthTime {
		t.Errorf("refreshed ID token sub/acr/auth_time = %s %s %d; want %s %s %d", c2.Sub, c2.ACR, c2.AuthTime, c.Sub, c.ACR, c.AuthTime)
	}

	// 4. Introspection (confidential client) and revocation.
	in := a.introspect(tok2.AccessToken)
	if in["active"] != true || in["sub"] != c.Sub || in["client_id"] != "portal-a" || in["acr"] != "urn:cardsso:loa:1" {
		t.Errorf("introspection = %v; want active, sub, client_id portal-a, acr", in)
	}
	if got := a.revoke(tok2.AccessToken, "access_token"); got != http.StatusOK {
		t.Errorf("revocation status %d; want 200", got)
	}
	if in := a.introspect(tok2.AccessToken); in["active"] != false {
		t.Errorf("introspection after revocation = %v; want active false", in)
	}
	if _, err := a.userinfo(tok2); err == nil {
		t.Errorf("userinfo with a revoked access token succeeded")
	}

	// 5. A second portal gets its code without any prompt (SSO).
	vb := oauth2.GenerateVerifier()
	p := b.authorize(br, "st-b", "nonce-b", vb)
	codeB := codeFrom(t, p, redirectB, "st-b")
	tokB, err := b.conf.Exchange(ctx, codeB, oauth2.VerifierOption(vb))
	if err != nil {
		t.Fatalf("portal B exchange: %v", err)
	}
	_, cb := b.verify(tokB)
	if cb.AuthTime != c.AuthTime || cb.Name != zhangSan {
		t.Errorf("SSO ID token auth_time %d, name %q; want the session's %d, %q", cb.AuthTime, cb.Name, c.AuthTime, zhangSan)
	}

	// 6. Key rotation: old tokens still verify, new ones use the new key.
	keysAfter, err := n.admin(t).RotateKeys(ctx)
	if err != nil {
		t.Fatalf("RotateKeys: %v", err)
	}
	var newKid string
	for _, k := range keysAfter {
		if k.State == "active" && k.Use == "oidc" {
			newKid = k.ID
		}
	}
	if newKid == "" || newKid == oldKid {
		t.Fatalf("after rotation active kid %q; old %q", newKid, oldKid)
	}
	deadline := time.Now().Add(5 * time.Second)
	var tok3 *oauth2.Token
	for {
		v3 := oauth2.GenerateVerifier()
		tok3, err = b.conf.Exchange(ctx, codeFrom(t, b.authorize(br, "st-r", "n-r", v3), redirectB, "st-r"), oauth2.VerifierOption(v3))
		if err != nil {
			t.Fatalf("exchange after rotation: %v", err)
		}
		if kidOf(t, tok3) == newKid || time.Now().After(deadline) {
			break
		}
		time.Sleep(60 * time.Millisecond)
	}
	if got := kidOf(t, tok3); got != newKid {
		t.Fatalf("new ID token signed by %q; want the new key %q", got, newKid)
	}
	fresh := newRP(t, n, "portal-a", secretA, redirectA) // a relying party that fetches the JWKS now
	if _, err := fresh.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Errorf("ID token signed by the retired key no longer verifies: %v", err)
	}
	b.verify(tok3)
	_ = idt

	// 7. RP-initiated logout with id_token_hint ends the SSO session.
	lo := br.get(a.eps.EndSession + "?" + url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"http://127.0.0.1:9001/bye"},
		"state":                    {"bye-state"},
	}.Encode())
	if !strings.HasPrefix(lo.location, "http://127.0.0.1:9001/bye") || !strings.Contains(lo.location, "state=bye-state") {
		t.Fatalf("logout ended at %d %q; want the registered post-logout URI with state", lo.status, lo.location)
	}
	if _, err := b.userinfo(tokB); err == nil {
		t.Errorf("portal B's access token still works after logout")
	}
	again := a.authorize(br, "st-x", "n-x", oauth2.GenerateVerifier())
	if again.status != http.StatusOK || !strings.Contains(again.body, `action="/login/password"`) {
		t.Errorf("after logout, authorize did not ask to log in: %d %s", again.status, again.url)
	}

	// 8. A returning citizen logs in with number + password (lowercase-insensitive page flow).
	f := formFor(t, again, "/login/password")
	back := br.submit(n.issuer, f, map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	codeFrom(t, back, redirectA, "st-x")

	assertNoPersonalData(t, n)
}

func kidOf(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64URLDecode(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h.Alg != "ES256" {
		t.Errorf("ID token alg = %s; want ES256 (the default)", h.Alg)
	}
	return h.Kid
}

// assertNoPersonalData checks the node's logs for full numbers and passwords.
func assertNoPersonalData(t *testing.T, n *node) {
	t.Helper()
	logs := n.logs.String()
	for _, secret := range []string{zhangSanSSN, goodPass, "110105199003070017"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, "110***********0017") {
		t.Errorf("logs never show the masked number; the login events are not logged")
	}
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
