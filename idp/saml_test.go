package idp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

const (
	loa1 = "urn:cardsso:loa:1"
	loa2 = "urn:cardsso:loa:2"
	loa3 = "urn:cardsso:loa:3"
)

// TestSAMLMetadata: both SP libraries read the metadata; it names the entity
// ID, the SSO and SLO endpoints for both bindings, both NameID formats, the
// active and next signing certificates of the stored SAML keys, and is
// valid for about a year. After a rotation the former next certificate is
// first.
func TestSAMLMetadata(t *testing.T) {
	n := startNode(t)
	raw := idpMetadata(t, n)
	ed, err := samlsp.ParseMetadata(raw)
	if err != nil {
		t.Fatalf("crewjam/saml: %v", err)
	}
	var ged types.EntityDescriptor
	if err := xml.Unmarshal(raw, &ged); err != nil || ged.IDPSSODescriptor == nil {
		t.Fatalf("gosaml2: %v", err)
	}
	if want := n.issuer + "/saml/metadata"; ed.EntityID != want || ged.EntityID != want {
		t.Errorf("entityID = %q (gosaml2 %q); want %q", ed.EntityID, ged.EntityID, want)
	}
	if d := time.Until(ed.ValidUntil); d < 360*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("validUntil %s is %s away; want about a year", ed.ValidUntil, d)
	}
	d := ed.IDPSSODescriptors[0]
	endpoints := func(es []saml.Endpoint) map[string]string {
		m := map[string]string{}
		for _, e := range es {
			m[e.Binding] = e.Location
		}
		return m
	}
	for name, got := range map[string]map[string]string{
		"SingleSignOnService": endpoints(d.SingleSignOnServices), "SingleLogoutService": endpoints(d.SingleLogoutServices),
	} {
		path := "/saml/sso"
		if name == "SingleLogoutService" {
			path = "/saml/slo"
		}
		for _, b := range []string{saml.HTTPRedirectBinding, saml.HTTPPostBinding} {
			if got[b] != n.issuer+path {
				t.Errorf("%s %s = %q; want %s", name, b, got[b], n.issuer+path)
			}
		}
	}
	if !slices.Contains(d.NameIDFormats, saml.PersistentNameIDFormat) || !slices.Contains(d.NameIDFormats, saml.TransientNameIDFormat) {
		t.Errorf("NameIDFormats = %v; want persistent and transient", d.NameIDFormats)
	}
	signing := func(ed *saml.EntityDescriptor) []string {
		var out []string
		for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
			if kd.Use == "signing" {
				out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
			}
		}
		return out
	}
	certs := signing(ed)
	if len(certs) != 2 || certs[0] == certs[1] {
		t.Fatalf("%d signing certificates; want 2 (active and next)", len(certs))
	}
	ks, err := n.admin(t).ListKeys(context.Background(), "saml")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 || ks[0].State != "active" || ks[0].Algorithm != "RS256" || ks[0].Use != "saml" {
		t.Fatalf("SAML keys = %+v; want an active and a next RS256 key", ks)
	}

	if _, err := n.admin(t).RotateKeys(context.Background(), "saml"); err != nil {
		t.Fatal(err)
	}
	// The node picks the rotation up within keys.refresh_interval; the
	// metadata of a fresh node on the same database shows it at once.
	n2 := startNodeOn(t, n)
	ed2, err := samlsp.ParseMetadata(idpMetadata(t, n2))
	if err != nil {
		t.Fatal(err)
	}
	after := signing(ed2)
	if len(after) != 3 || after[0] != certs[1] || after[2] != certs[0] {
		t.Errorf("after rotation the certificates are not [former next, new next, retired]")
	}
}

// startNodeOn starts another node on n's database and master key.
func startNodeOn(t *testing.T, n *node) *node {
	t.Helper()
	return startNodeWith(t, n.deps, func(c *idp.Config) {
		c.DataDir = n.cfg.DataDir
		c.MasterKey = n.cfg.MasterKey
	})
}

// TestSAMLCrewjamSP: SP-initiated SSO with crewjam/saml's samlsp over
// HTTP-Redirect (registered by metadata URL, with an encryption key: the
// assertion is encrypted) and then HTTP-POST at a second SP (no encryption
// key, signed requests): the second gets its assertion without a prompt.
// Responses and assertions are signed and verified by the SP; NameIDs are
// pairwise and stable; attributes follow each SP's allow-list.
func TestSAMLCrewjamSP(t *testing.T) {
	n := startNode(t)
	a := newCrewSP(t, n, spOpts{byURL: true, attributes: []string{"name", "ssn_masked", "card_region"}})
	bSP := newCrewSP(t, n, spOpts{binding: saml.HTTPPostBinding, sign: true, noEncryption: true, id: "legacy-b"})
	br := newBrowser(t)

	login := br.get(a.url + "/hello")
	if login.status != http.StatusOK || login.url.Path != "/login" {
		t.Fatalf("SP-initiated SSO did not reach the login page: %d %s\n%s", login.status, login.url, login.body)
	}
	if !strings.Contains(login.body, "localhost") && !strings.Contains(login.body, "127.0.0.1") {
		t.Logf("login page does not name the SP (%s)", a.url)
	}
	done := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	action, resp := samlResponseOf(t, done)
	if action != a.url+"/saml/acs" {
		t.Errorf("Response posted to %s; want the registered ACS %s/saml/acs", action, a.url)
	}
	if !bytes.Contains(resp, []byte("EncryptedAssertion")) || bytes.Contains(resp, []byte("<saml:Assertion")) {
		t.Errorf("the assertion to an SP with an encryption key is not encrypted:\n%s", resp)
	}
	if !bytes.Contains(resp, []byte("aes256-gcm")) {
		t.Errorf("the assertion is not encrypted with AES-256-GCM")
	}
	if !responseSigned(t, resp) {
		t.Errorf("the Response is not signed")
	}
	subA, attrs := helloOf(t, br.postSAML(done))
	if subA == "" || strings.Contains(subA, "0017") {
		t.Errorf("NameID %q", subA)
	}
	want := map[string]string{"name": zhangSan, "ssn_masked": "110***********0017", "card_region": "110105"}
	for k, v := range want {
		if got := attrs[k]; len(got) != 1 || got[0] != v {
			t.Errorf("attribute %s = %v; want %q", k, got, v)
		}
	}
	if _, ok := attrs["ssn"]; ok {
		t.Errorf("the full number was released without an allow-list entry")
	}
	last := a.last()
	if got := classRefOf(last); got != loa1 {
		t.Errorf("AuthnContextClassRef = %q; want %s", got, loa1)
	}
	if last.Subject.NameID.Format != string(saml.PersistentNameIDFormat) {
		t.Errorf("NameID format %q; want persistent", last.Subject.NameID.Format)
	}
	if got := attributeName(last, "name"); got != "urn:cardsso:attribute:name" {
		t.Errorf("attribute Name of name = %q; want urn:cardsso:attribute:name", got)
	}
	if last.Signature == nil {
		t.Errorf("the assertion is not signed")
	}

	// The second SP (HTTP-POST, signed requests, no encryption key): SSO.
	start := br.get(bSP.url + "/hello")
	if _, ok := samlForm(t, start); !ok {
		t.Fatalf("the POST-binding SP did not send an AuthnRequest form: %d %s", start.status, start.url)
	}
	p := br.postSAML(start)
	// postSAML went through the IdP's answer too; check what it posted.
	subB, attrsB := helloOf(t, p)
	if subB == "" || subB == subA {
		t.Errorf("NameIDs at two SPs: %q and %q; want pairwise (different)", subA, subB)
	}
	if len(attrsB["name"]) != 1 || len(attrsB["ssn_masked"]) != 0 {
		t.Errorf("default allow-list released %v; want name only", attrsB)
	}
	if bSP.last().Signature == nil {
		t.Errorf("the unencrypted assertion is not signed")
	}

	// Again at SP A, through a fresh SP session: the same NameID.
	br2 := newBrowser(t)
	l2 := br2.get(a.url + "/hello")
	again := br2.submit(n.issuer, formFor(t, l2, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	if sub, _ := helloOf(t, br2.postSAML(again)); sub != subA {
		t.Errorf("persistent NameID changed: %q then %q", subA, sub)
	}
	assertNoPersonalData(t, n)
}

func attributeName(a *saml.Assertion, friendly string) string {
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if at.FriendlyName == friendly {
				return at.Name
			}
		}
	}
	return ""
}

// responseSigned reports whether a Response has an enveloped signature as
// its direct child.
func responseSigned(t *testing.T, doc []byte) bool {
	t.Helper()
	var r struct {
		Signature *struct{} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
	}
	if err := xml.Unmarshal(doc, &r); err != nil {
		t.Fatal(err)
	}
	return r.Signature != nil
}

// TestSAMLGosaml2SP: SP-initiated SSO with gosaml2 over HTTP-Redirect and
// HTTP-POST, with and without encryption: the SP validates the Response
// and assertion signatures against the IdP metadata's certificates, decrypts
// the assertion, reads the attributes and the AuthnContextClassRef.
func TestSAMLGosaml2SP(t *testing.T) {
	n := startNode(t)
	enc := newGoSP(t, n, goOpts{attributes: []string{"name", "card_region"}})
	plain := newGoSP(t, n, goOpts{noEncryption: true, sign: true, nameID: "transient"})
	br := newBrowser(t)

	login := br.get(enc.loginURL("relay-1"))
	done := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	_, resp := samlResponseOf(t, done)
	if !bytes.Contains(resp, []byte("EncryptedAssertion")) {
		t.Errorf("assertion to gosaml2 with an encryption key is not encrypted")
	}
	f, _ := samlForm(t, done)
	if f.fields.Get("RelayState") != "relay-1" {
		t.Errorf("RelayState = %q; want relay-1", f.fields.Get("RelayState"))
	}
	if p := br.postSAML(done); p.status != http.StatusOK {
		t.Fatalf("gosaml2 ACS: %d %s", p.status, p.body)
	}
	// gosaml2 verifies the Response signature and, inside a signed
	// Response, every assertion signature present (failing otherwise).
	info := enc.last()
	if !info.ResponseSignatureValidated {
		t.Errorf("gosaml2 did not validate a Response signature")
	}
	if got := info.Values.Get("urn:cardsso:attribute:name"); got != zhangSan {
		t.Errorf("name = %q; want %s", got, zhangSan)
	}
	if got := info.Values.Get("urn:cardsso:attribute:card_region"); got != "110105" {
		t.Errorf("card_region = %q", got)
	}
	if got := goClassRef(info); got != loa1 {
		t.Errorf("AuthnContextClassRef = %q; want %s", got, loa1)
	}
	if info.NameIDFormat != saml2.NameIdFormatPersistent {
		t.Errorf("NameID format %q; want persistent", info.NameIDFormat)
	}

	// HTTP-POST binding, signed request, transient NameID, no encryption: SSO.
	answer := br.postOnce(plain.loginPost("relay-2"))
	if _, resp := samlResponseOf(t, answer); !assertionSigned(t, resp) {
		t.Errorf("the unencrypted assertion is not signed")
	}
	p := br.postSAML(answer)
	if p.status != http.StatusOK {
		t.Fatalf("gosaml2 (POST) ACS: %d at %s\n%s", p.status, p.url, p.body)
	}
	i1 := plain.last()
	if i1.NameIDFormat != saml2.NameIdFormatTransient || !i1.ResponseSignatureValidated {
		t.Errorf("transient SP: format %q, response signature validated %v", i1.NameIDFormat, i1.ResponseSignatureValidated)
	}
	br.postSAML(plain.loginPost("relay-3"))
	if i2 := plain.last(); i2.NameID == i1.NameID {
		t.Errorf("transient NameID repeated: %q", i1.NameID)
	}
	assertNoPersonalData(t, n)
}

// TestSAMLIdPInitiated: an unsolicited Response to a registered SP's default
// ACS after the login; an unknown SP is refused before any login.
func TestSAMLIdPInitiated(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{id: "legacy-a", noEncryption: true})
	optInIdPInitiated(t, n, "legacy-a", "/hello") // off by default: saml_idpinit_test.go
	br := newBrowser(t)
	login := br.get(n.issuer + "/saml/idp-initiated?sp=legacy-a&RelayState=%2Fhello")
	if login.url.Path != "/login" {
		t.Fatalf("IdP-initiated SSO did not ask to log in: %d %s", login.status, login.url)
	}
	done := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	_, resp := samlResponseOf(t, done)
	if bytes.Contains(resp, []byte("InResponseTo")) {
		t.Errorf("an unsolicited Response carries InResponseTo")
	}
	br.postSAML(done)
	if got := classRefOf(sp.last()); got != loa1 {
		t.Errorf("IdP-initiated assertion class %q", got)
	}
	// By entity ID too, now with the session: no prompt.
	p := br.get(n.issuer + "/saml/idp-initiated?sp=" + url.QueryEscape(sp.entityID()))
	if _, ok := samlForm(t, p); !ok {
		t.Errorf("second IdP-initiated SSO did not answer at once: %d %s", p.status, p.url)
	}
	if p := br.get(n.issuer + "/saml/idp-initiated?sp=nobody"); p.status != http.StatusNotFound {
		t.Errorf("IdP-initiated SSO to an unknown SP: %d; want 404", p.status)
	}
}

// TestSAMLStepUp: an SP registered with min level 2 sends the citizen
// through the card check; a RequestedAuthnContext asks for more (exact,
// minimum, eIDAS aliases) and is answered in its own vocabulary.
func TestSAMLStepUp(t *testing.T) {
	n := startNode(t)
	l2 := newCrewSP(t, n, spOpts{minACR: loa2, noEncryption: true})
	br := newBrowser(t)
	login := br.get(l2.url + "/hello")
	cardPage := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	if cardPage.url.Path != "/login/card" {
		t.Fatalf("an SP with min level 2: after registration %d at %s; want the card step", cardPage.status, cardPage.url)
	}
	done := br.submit(n.issuer, formFor(t, cardPage, "/login/card"), map[string]string{"card_number": "A00000001"})
	helloOf(t, br.postSAML(done))
	if got := classRefOf(l2.last()); got != loa2 {
		t.Errorf("level-2 SP got %q; want %s", got, loa2)
	}

	for _, tc := range []struct {
		name string
		rac  *saml.RequestedAuthnContext
		want string
	}{
		{"exact level 1 at a level-2 session", &saml.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: []string{loa1}}, loa1},
		{"minimum level 1", &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRefs: []string{loa1}}, loa2},
		{"minimum eIDAS low", &saml.RequestedAuthnContext{Comparison: "minimum", AuthnContextClassRefs: []string{"http://eidas.europa.eu/LoA/low"}}, "http://eidas.europa.eu/LoA/low"},
		{"PasswordProtectedTransport", &saml.RequestedAuthnContext{AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}, "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp := newCrewSP(t, n, spOpts{rac: tc.rac, noEncryption: true})
			helloOf(t, br.postSAML(br.get(sp.url+"/hello")))
			if got := classRefOf(sp.last()); got != tc.want {
				t.Errorf("AuthnContextClassRef = %q; want %q", got, tc.want)
			}
		})
	}

	// Exact level 3 steps the level-2 session up through the face check.
	sp3 := newCrewSP(t, n, spOpts{rac: &saml.RequestedAuthnContext{Comparison: "exact", AuthnContextClassRefs: []string{loa3}}, noEncryption: true})
	consent := br.get(sp3.url + "/hello")
	if consent.url.Path != "/login/face" {
		t.Fatalf("exact level 3: %d at %s; want the face consent", consent.status, consent.url)
	}
	photoPage := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "allow"})
	face := br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
	helloOf(t, br.postSAML(face))
	if got := classRefOf(sp3.last()); got != loa3 {
		t.Errorf("after the face check: %q; want %s", got, loa3)
	}

	// Only classes CardSSO does not know: NoAuthnContext, without a login.
	unknown := newCrewSP(t, n, spOpts{rac: &saml.RequestedAuthnContext{AuthnContextClassRefs: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos"}}, noEncryption: true})
	p := newBrowser(t).get(unknown.url + "/hello")
	_, resp := samlResponseOf(t, p)
	if top, second := statusOf(t, resp); top != saml.StatusResponder || second != saml.StatusNoAuthnContext {
		t.Errorf("unknown class: status %s / %s; want Responder / NoAuthnContext", top, second)
	}
}

// TestSAMLForceAuthnAndPassive: ForceAuthn asks for the password again
// although a session exists; IsPassive without a session answers
// NoPassive, with one it answers at once.
func TestSAMLForceAuthnAndPassive(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{noEncryption: true})
	forced := newCrewSP(t, n, spOpts{forceAuthn: true, noEncryption: true})

	// IsPassive without a session.
	br := newBrowser(t)
	p := br.get(passiveURL(t, sp))
	_, resp := samlResponseOf(t, p)
	if top, second := statusOf(t, resp); top != saml.StatusResponder || second != saml.StatusNoPassive {
		t.Fatalf("IsPassive without a session: %s / %s; want Responder / NoPassive", top, second)
	}

	login := br.get(sp.url + "/hello")
	helloOf(t, br.postSAML(register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)))
	first := sp.last().AuthnStatements[0].AuthnInstant

	// IsPassive with a session: success at once.
	p = br.get(passiveURL(t, sp))
	_, resp = samlResponseOf(t, p)
	if top, _ := statusOf(t, resp); top != saml.StatusSuccess {
		t.Errorf("IsPassive with a session: %s; want Success", top)
	}

	time.Sleep(1100 * time.Millisecond) // AuthnInstant has second precision
	again := br.get(forced.url + "/hello")
	f := formFor(t, again, "/login/password")
	done := br.submit(n.issuer, f, map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	helloOf(t, br.postSAML(done))
	if inst := forced.last().AuthnStatements[0].AuthnInstant; !inst.After(first) {
		t.Errorf("ForceAuthn AuthnInstant %s is not after the first login's %s", inst, first)
	}
}

// passiveURL is an HTTP-Redirect AuthnRequest with IsPassive="true" from sp.
func passiveURL(t *testing.T, sp *crewSP) string {
	t.Helper()
	s := &sp.mw.ServiceProvider
	req, err := s.MakeAuthenticationRequest(s.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	req.IsPassive = &yes
	u, err := req.Redirect("", s)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// TestSAMLAcrossProtocols: an OIDC login then a SAML SP without a prompt,
// and a SAML login then an OIDC portal without a prompt; the session
// records both.
func TestSAMLAcrossProtocols(t *testing.T) {
	n := startNode(t)
	const redirect = "http://127.0.0.1:9401/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "portal", Name: "Portal", RedirectURIs: []string{redirect}, FirstParty: true})
	rp := newRP(t, n, "portal", secret, redirect)
	sp := newCrewSP(t, n, spOpts{noEncryption: true})

	// OIDC first.
	br := newBrowser(t, redirect)
	v := oauth2.GenerateVerifier()
	done := register(t, br, n, rp.authorize(br, "st", "nonce", v), zhangSan, zhangSanSSN, goodPass)
	codeFrom(t, done, redirect, "st")
	p := br.get(sp.url + "/hello")
	if _, ok := samlForm(t, p); !ok {
		t.Fatalf("SAML after an OIDC login asked again: %d at %s", p.status, p.url)
	}
	helloOf(t, br.postSAML(p))

	// SAML first.
	br2 := newBrowser(t, redirect)
	login := br2.get(sp.url + "/hello")
	f := formFor(t, login, "/login/password")
	helloOf(t, br2.postSAML(br2.submit(n.issuer, f, map[string]string{"ssn": zhangSanSSN, "password": goodPass})))
	v2 := oauth2.GenerateVerifier()
	code := codeFrom(t, rp.authorize(br2, "st2", "n2", v2), redirect, "st2")
	tok, err := rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v2))
	if err != nil {
		t.Fatal(err)
	}
	if _, c := rp.verify(tok); c.ACR != loa1 {
		t.Errorf("OIDC after SAML: acr %q", c.ACR)
	}
}

// TestSAMLReleaseFullNumber: the full number only with an explicit "ssn"
// allow-list entry, and never in the logs.
func TestSAMLReleaseFullNumber(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{attributes: []string{"ssn", "card_status"}})
	br := newBrowser(t)
	_, attrs := helloOf(t, br.postSAML(register(t, br, n, br.get(sp.url+"/hello"), zhangSan, zhangSanSSN, goodPass)))
	if got := attrs["ssn"]; len(got) != 1 || got[0] != zhangSanSSN {
		t.Errorf("ssn = %v; want the full number", got)
	}
	if _, ok := attrs["name"]; ok {
		t.Errorf("name released though the allow-list does not name it")
	}
	assertNoPersonalData(t, n)
}

// assertionSigned reports whether the (unencrypted) assertion of a
// Response has an enveloped signature.
func assertionSigned(t *testing.T, doc []byte) bool {
	t.Helper()
	var r struct {
		Assertion *struct {
			Signature *struct{} `xml:"http://www.w3.org/2000/09/xmldsig# Signature"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Assertion"`
	}
	if err := xml.Unmarshal(doc, &r); err != nil {
		t.Fatal(err)
	}
	return r.Assertion != nil && r.Assertion.Signature != nil
}

// b64 is the standard base64 of s.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
