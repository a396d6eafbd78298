package idp_test

import (
	"context"
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

// loginAs logs 张三 (registered if needed) in to r with a fresh browser
// and returns the browser and the ID token's claims.
func exchange(t *testing.T, r *rp, p page, verifier, state string) (*oauth2.Token, claims) {
	t.Helper()
	code := codeFrom(t, p, r.conf.RedirectURL, state)
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	_, c := r.verify(tok)
	return tok, c
}

// TestStepUpToLevel3: a level-1 session at a level-3 portal is taken through
// the card and face checks (not refused) and then gets loa:3.
func TestStepUpToLevel3(t *testing.T) {
	n := startNode(t)
	const r1, r3 = "http://127.0.0.1:9701/cb", "http://127.0.0.1:9702/cb"
	s1 := registerClient(t, n, admin.ClientSpec{ID: "news", RedirectURIs: []string{r1}})
	s3 := registerClient(t, n, admin.ClientSpec{ID: "pension", RedirectURIs: []string{r3}, MinACR: "urn:cardsso:loa:3"})
	low, high := newRP(t, n, "news", s1, r1), newRP(t, n, "pension", s3, r3)
	br := newBrowser(t, r1, r3)
	v := oauth2.GenerateVerifier()
	_, c1 := exchange(t, low, register(t, br, n, low.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
	if c1.ACR != "urn:cardsso:loa:1" {
		t.Fatalf("first login acr %q", c1.ACR)
	}
	// prompt=none at the level-3 portal: the session is below it.
	p := high.authorize(br, "s0", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none"))
	if u, _ := url.Parse(p.location); u == nil || u.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none below the level: %q; want error=login_required", p.location)
	}
	time.Sleep(1100 * time.Millisecond) // so the step-up's auth_time is visibly later
	v3 := oauth2.GenerateVerifier()
	card := high.authorize(br, "s3", "n", v3)
	if card.url.Path != "/login/card" {
		t.Fatalf("level-1 session at a level-3 portal: %d at %s; want the card step", card.status, card.url)
	}
	consent := br.submit(n.issuer, formFor(t, card, "/login/card"), map[string]string{"card_number": "A00000001"})
	photoPage := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "allow"})
	done := br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
	_, c3 := exchange(t, high, done, v3, "s3")
	if c3.ACR != "urn:cardsso:loa:3" || !slices.Contains(c3.AMR, "face") {
		t.Errorf("after step-up: acr %q amr %v; want loa:3 with face", c3.ACR, c3.AMR)
	}
	if c3.AuthTime <= c1.AuthTime {
		t.Errorf("auth_time after the face check (%d) is not later than the first login's (%d)", c3.AuthTime, c1.AuthTime)
	}
	// The level-1 portal, within the same session, now also sees the session's level.
	v1 := oauth2.GenerateVerifier()
	_, again := exchange(t, low, low.authorize(br, "s4", "n", v1), v1, "s4")
	if again.AuthTime != c3.AuthTime {
		t.Errorf("SSO auth_time %d; want the session's %d", again.AuthTime, c3.AuthTime)
	}
}

// TestACRValuesAndEssentialACR: a request may ask for more than the
// client's minimum.
func TestACRValuesAndEssentialACR(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9703/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
	for name, opt := range map[string]oauth2.AuthCodeOption{
		"acr_values":             oauth2.SetAuthURLParam("acr_values", "urn:cardsso:loa:2"),
		"acr_values eIDAS alias": oauth2.SetAuthURLParam("acr_values", "http://eidas.europa.eu/LoA/substantial"),
		"claims":                 oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["urn:cardsso:loa:2","urn:cardsso:loa:3"]}}}`),
	} {
		p := r.authorize(br, "s", "n", oauth2.GenerateVerifier(), opt)
		if p.url.Path != "/login/card" {
			t.Errorf("%s asking for level 2: %d at %s; want the card step", name, p.status, p.url)
		}
	}
	// An essential acr nobody offers is refused.
	p := r.authorize(br, "s", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"value":"urn:other:loa:9"}}}`))
	if u, _ := url.Parse(p.location); u == nil || u.Query().Get("error") != "invalid_request" {
		t.Errorf("unknown essential acr: %q; want invalid_request", p.location)
	}
}

// TestPairwiseSubjects: the same citizen has the same sub at one portal
// every time, and unlinkable subs at unrelated portals; a public-subject
// client sees the account id.
func TestPairwiseSubjects(t *testing.T) {
	n := startNode(t)
	const ra, ra2, rb, rpub = "https://tax.example.gov.cn/cb", "https://tax.example.gov.cn/other", "https://health.example.gov.cn/cb", "https://pub.example.gov.cn/cb"
	a := newRP(t, n, "tax", registerClient(t, n, admin.ClientSpec{ID: "tax", RedirectURIs: []string{ra}}), ra)
	a2 := newRP(t, n, "tax2", registerClient(t, n, admin.ClientSpec{ID: "tax2", RedirectURIs: []string{ra2}}), ra2)
	b := newRP(t, n, "health", registerClient(t, n, admin.ClientSpec{ID: "health", RedirectURIs: []string{rb}}), rb)
	pub := newRP(t, n, "pub", registerClient(t, n, admin.ClientSpec{ID: "pub", RedirectURIs: []string{rpub}, PublicSubject: true}), rpub)
	br := newBrowser(t, ra, ra2, rb, rpub)
	subOf := func(r *rp, first bool) string {
		v := oauth2.GenerateVerifier()
		p := r.authorize(br, "s", "n", v)
		if first {
			p = register(t, br, n, p, zhangSan, zhangSanSSN, goodPass)
		}
		_, c := exchange(t, r, p, v, "s")
		return c.Sub
	}
	sa := subOf(a, true)
	if again := subOf(a, false); again != sa {
		t.Errorf("same portal, second login: sub %q; want %q", again, sa)
	}
	if s2 := subOf(a2, false); s2 != sa {
		t.Errorf("another client of the same sector (host): sub %q; want %q", s2, sa)
	}
	sb := subOf(b, false)
	sp := subOf(pub, false)
	if sb == sa || sp == sa || sp == sb {
		t.Errorf("subs are linkable: tax %q health %q public %q", sa, sb, sp)
	}
	for _, s := range []string{sa, sb, sp} {
		if strings.Contains(s, "0017") || strings.Contains(s, zhangSanSSN) {
			t.Errorf("sub %q derives visibly from the number", s)
		}
	}
	// Userinfo agrees with the ID token.
	v := oauth2.GenerateVerifier()
	tok, c := exchange(t, b, b.authorize(br, "s", "n", v), v, "s")
	ui, err := b.userinfo(tok)
	if err != nil || ui.Subject != c.Sub {
		t.Errorf("userinfo sub %v (%v); want %q", ui, err, c.Sub)
	}
	// Redirect URIs on two hosts without a sector identifier are refused.
	if _, _, err := n.admin(t).CreateClient(context.Background(), admin.ClientSpec{ID: "mixed", RedirectURIs: []string{ra, rb}}); err == nil {
		t.Errorf("a client on two hosts without sector_identifier_uri was registered")
	}
}

// TestSSNClaimNeedsAllowList: cardsso.ssn is refused to a client not allowed
// it, whatever it asks, and released to one that is.
func TestSSNClaimNeedsAllowList(t *testing.T) {
	n := startNode(t)
	const r1, r2 = "http://127.0.0.1:9704/cb", "http://127.0.0.1:9705/cb"
	plain := newRP(t, n, "plain", registerClient(t, n, admin.ClientSpec{ID: "plain", RedirectURIs: []string{r1}}), r1)
	allowed := newRP(t, n, "social", registerClient(t, n, admin.ClientSpec{ID: "social", RedirectURIs: []string{r2}, AllowedClaims: []string{"cardsso.ssn"}}), r2)
	plain.conf.Scopes = append(plain.conf.Scopes, "cardsso.ssn")
	allowed.conf.Scopes = append(allowed.conf.Scopes, "cardsso.ssn")
	br := newBrowser(t, r1, r2)
	v := oauth2.GenerateVerifier()
	tok, _ := exchange(t, plain, register(t, br, n, plain.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
	var raw map[string]any
	idt, _ := plain.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	_ = idt.Claims(&raw)
	if _, ok := raw["ssn"]; ok {
		t.Errorf("a client not allowed cardsso.ssn got the number")
	}
	if scope, _ := tok.Extra("scope").(string); strings.Contains(scope, "cardsso.ssn") {
		t.Errorf("token response grants %q to a client not allowed cardsso.ssn", scope)
	}
	if ui, err := plain.userinfo(tok); err == nil {
		var m map[string]any
		_ = ui.Claims(&m)
		if _, ok := m["ssn"]; ok {
			t.Errorf("userinfo released the number to a client not allowed it")
		}
	}
	v2 := oauth2.GenerateVerifier()
	tok2, _ := exchange(t, allowed, allowed.authorize(br, "s", "n", v2), v2, "s")
	idt2, _ := allowed.verifier.Verify(context.Background(), tok2.Extra("id_token").(string))
	raw = nil
	_ = idt2.Claims(&raw)
	if raw["ssn"] != zhangSanSSN {
		t.Errorf("an allowed client got ssn %v; want the number", raw["ssn"])
	}
	assertNoPersonalData(t, n)
}

// TestVerifiedClaims: OIDC for Identity Assurance 1.0 structure.
func TestVerifiedClaims(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9706/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}, MinACR: "urn:cardsso:loa:2"}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	ask := oauth2.SetAuthURLParam("claims", `{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}`)
	card := register(t, br, n, r.authorize(br, "s", "n", v, ask), zhangSan, zhangSanSSN, goodPass)
	done := br.submit(n.issuer, formFor(t, card, "/login/card"), map[string]string{"card_number": "A00000001"})
	tok, _ := exchange(t, r, done, v, "s")
	idt, _ := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	var got struct {
		VerifiedClaims struct {
			Verification struct {
				TrustFramework string `json:"trust_framework"`
				AssuranceLevel string `json:"assurance_level"`
				Time           string `json:"time"`
				Evidence       []struct {
					Type         string `json:"type"`
					CheckDetails []struct {
						CheckMethod string `json:"check_method"`
						Time        string `json:"time"`
					} `json:"check_details"`
					Time   string `json:"time"`
					Record struct {
						Type   string `json:"type"`
						Source struct {
							Name string `json:"name"`
						} `json:"source"`
					} `json:"record"`
				} `json:"evidence"`
			} `json:"verification"`
			Claims map[string]any `json:"claims"`
		} `json:"verified_claims"`
	}
	if err := idt.Claims(&got); err != nil {
		t.Fatal(err)
	}
	vc := got.VerifiedClaims
	if vc.Verification.TrustFramework != "cn_sscard" || vc.Verification.AssuranceLevel != "urn:cardsso:loa:2" {
		t.Errorf("verification = %+v", vc.Verification)
	}
	if _, err := time.Parse(time.RFC3339, vc.Verification.Time); err != nil {
		t.Errorf("verification.time %q is not RFC 3339", vc.Verification.Time)
	}
	if len(vc.Verification.Evidence) != 2 {
		t.Fatalf("evidence = %+v; want the real-name and real-card checks", vc.Verification.Evidence)
	}
	for _, e := range vc.Verification.Evidence {
		if e.Type != "electronic_record" || e.Record.Type == "" || e.Record.Source.Name == "" || len(e.CheckDetails) == 0 {
			t.Errorf("evidence %+v lacks a required OIDC4IA member", e)
		}
		for _, d := range e.CheckDetails {
			if d.CheckMethod == "" {
				t.Errorf("check_details without check_method: %+v", e)
			}
			if _, err := time.Parse(time.RFC3339, d.Time); err != nil {
				t.Errorf("check time %q is not RFC 3339", d.Time)
			}
		}
	}
	if vc.Claims["name"] != zhangSan || len(vc.Claims) != 1 {
		t.Errorf("verified claims = %v; want the name only", vc.Claims)
	}
}

// TestConsent: a third-party portal shows what it will receive; the answer
// is remembered; a new scope asks again; first-party portals skip it.
func TestConsent(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9707/cb"
	r := newRP(t, n, "third", registerThirdParty(t, n, admin.ClientSpec{ID: "third", Name: "Third portal", RedirectURIs: []string{red}}), red)
	r.conf.Scopes = []string{oidc.ScopeOpenID, "profile"}
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	ask := register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass)
	if ask.url.Path != "/login/consent" || !strings.Contains(ask.body, "your name") || !strings.Contains(ask.body, "Third portal") {
		t.Fatalf("no consent page listing the name: %d at %s:\n%s", ask.status, ask.url, ask.body)
	}
	exchange(t, r, br.submit(n.issuer, formFor(t, ask, "/login/consent"), map[string]string{"consent": "allow"}), v, "s")
	// Remembered: the next login goes straight through.
	v2 := oauth2.GenerateVerifier()
	exchange(t, r, r.authorize(br, "s2", "n", v2), v2, "s2")
	// A new scope asks again, and lists it.
	r.conf.Scopes = append(r.conf.Scopes, "cardsso.card")
	more := r.authorize(br, "s3", "n", oauth2.GenerateVerifier())
	if more.url.Path != "/login/consent" || !strings.Contains(more.body, "masked social security number") {
		t.Fatalf("a new scope did not ask again: %d at %s", more.status, more.url)
	}
	// prompt=none with consent missing: consent_required.
	p := r.authorize(br, "s4", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("prompt", "none"))
	if u, _ := url.Parse(p.location); u == nil || u.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none without consent: %q; want consent_required", p.location)
	}
	// Denying returns access_denied.
	deny := br.submit(n.issuer, formFor(t, more, "/login/consent"), map[string]string{"consent": "deny"})
	if !strings.Contains(deny.location, "error=access_denied") {
		t.Errorf("denying consent: %q; want access_denied", deny.location)
	}
}

// TestPasswordLockout: N wrong passwords lock the number for the configured
// time, also against the right password, and the lock holds across a
// restart; an unknown number is locked the same way.
func TestPasswordLockout(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now()}
	cfg := func(c *idp.Config) {
		c.DataDir, c.Now = dir, clk.Now
		c.Lockout = idp.LockoutConfig{PasswordFailures: 3, PasswordWindow: 10 * time.Minute, PasswordDelay: time.Millisecond, PasswordMaxDelay: 2 * time.Millisecond}
	}
	n := startNode(t, cfg)
	const red = "http://127.0.0.1:9708/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}})
	r := newRP(t, n, "c", secret, red)
	br := newBrowser(t, red)
	register(t, br, n, r.authorize(br, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, goodPass)

	try := func(n *node, r *rp, ssn, pw string) page {
		b := newBrowser(t, red)
		p := r.authorize(b, "s", "n", oauth2.GenerateVerifier())
		return b.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": ssn, "password": pw})
	}
	for _, ssn := range []string{zhangSanSSN, "510104200002290046"} { // registered, and not
		for i := range 3 {
			if got := try(n, r, ssn, "wrong password 1"); got.status != http.StatusUnauthorized {
				t.Fatalf("%s failure %d: %d", ssn[:3], i+1, got.status)
			}
		}
		if got := try(n, r, ssn, goodPass); got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "paused") {
			t.Errorf("%s after 3 failures: %d; want 429 locked", ssn[:3], got.status)
		}
	}
	// A restarted node (same database) keeps the lock.
	n2 := startNode(t, cfg)
	r2 := newRP(t, n2, "c", secret, red)
	if got := try(n2, r2, zhangSanSSN, goodPass); got.status != http.StatusTooManyRequests {
		t.Errorf("after a restart: %d; want the lock to hold", got.status)
	}
	// When the window is over the right password works again.
	clk.Add(11 * time.Minute)
	if got := try(n2, r2, zhangSanSSN, goodPass); got.status != http.StatusSeeOther && got.status != http.StatusFound {
		t.Errorf("after the lock: %d; want a redirect to the portal", got.status)
	}
}

// TestRealNameAnswersIdentical: an unknown number and a wrong name give the
// same answer, byte for byte.
func TestRealNameAnswersIdentical(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9709/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	p := r.authorize(br, "s", "n", oauth2.GenerateVerifier())
	f := formFor(t, p, "/login/register")
	wrongName := br.submit(n.issuer, f, map[string]string{"name": "李四", "ssn": "510104200002290046"})
	unknown := br.submit(n.issuer, f, map[string]string{"name": "李四", "ssn": "110101198001010010"})
	if wrongName.status != unknown.status || wrongName.body != unknown.body {
		t.Errorf("answers differ:\nwrong name (%d):\n%s\nunknown number (%d):\n%s", wrongName.status, wrongName.body, unknown.status, unknown.body)
	}
}
