package idp_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// authnRequest is a minimal AuthnRequest from issuer.
func authnRequest(n *node, issuer, acs, id string, extra string) string {
	acsAttr := ""
	if acs != "" {
		acsAttr = fmt.Sprintf(` AssertionConsumerServiceURL=%q`, acs)
	}
	return fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID=%q Version="2.0" IssueInstant=%q Destination=%q%s><saml:Issuer>%s</saml:Issuer>%s</samlp:AuthnRequest>`,
		id, time.Now().UTC().Format(time.RFC3339), n.issuer+"/saml/sso", acsAttr, issuer, extra)
}

// TestSAMLRefused: each bad request is refused with an error page (or the
// SAML status), never followed to an address the request names, and
// without a panic: the node keeps answering.
func TestSAMLRefused(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{noEncryption: true})
	signer := newCrewSP(t, n, spOpts{sign: true, noEncryption: true})
	sso := n.issuer + "/saml/sso"
	redirect := func(doc string, extra url.Values) string {
		v := url.Values{"SAMLRequest": {deflateB64(t, []byte(doc))}}
		for k, vs := range extra {
			v[k] = vs
		}
		return sso + "?" + v.Encode()
	}
	signedURL := func() string {
		u, err := signer.mw.ServiceProvider.MakeRedirectAuthenticationRequest("relay")
		if err != nil {
			t.Fatal(err)
		}
		return u.String()
	}
	tampered := func() string {
		u, _ := url.Parse(signedURL())
		q := u.Query()
		sig := []byte(q.Get("Signature"))
		sig[10] ^= 1
		q.Set("Signature", string(sig))
		u.RawQuery = q.Encode()
		return u.String()
	}
	unsigned := func() string {
		u, _ := url.Parse(signedURL())
		q := u.Query()
		q.Del("Signature")
		q.Del("SigAlg")
		u.RawQuery = q.Encode()
		return u.String()
	}
	big := strings.Repeat("<saml:Attribute/>", 200000)
	for _, tc := range []struct {
		name   string
		method string
		url    string
		form   url.Values
		status int
	}{
		{"unregistered SP", "GET", redirect(authnRequest(n, "https://evil.example/sp", "", "id-u1", ""), nil), nil, 400},
		{"ACS URL not in the metadata", "GET", redirect(authnRequest(n, sp.entityID(), "https://evil.example/acs", "id-u2", ""), nil), nil, 400},
		{"tampered signature", "GET", tampered(), nil, 400},
		{"unsigned request from an SP that signs", "GET", unsigned(), nil, 400},
		{"DOCTYPE with entities", "GET", redirect(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>`+authnRequest(n, sp.entityID(), "", "id-u3", ""), nil), nil, 400},
		{"external entity", "POST", "", url.Values{"SAMLRequest": {b64(`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>` + authnRequest(n, sp.entityID(), "", "id-u4", "<x>&x;</x>"))}}, 400},
		{"oversized POST", "POST", "", url.Values{"SAMLRequest": {b64(authnRequest(n, sp.entityID(), "", "id-u5", big))}}, 413},
		{"deflate bomb", "GET", redirect(authnRequest(n, sp.entityID(), "", "id-u6", big), nil), nil, 413},
		{"RelayState over 80 bytes", "GET", redirect(authnRequest(n, sp.entityID(), "", "id-u7", ""), url.Values{"RelayState": {strings.Repeat("r", 81)}}), nil, 400},
		{"not base64", "GET", sso + "?SAMLRequest=%%%%", nil, 400},
		{"not XML", "POST", "", url.Values{"SAMLRequest": {b64("<<<")}}, 400},
		{"no message", "GET", sso, nil, 400},
		{"a Response sent to the SSO service", "POST", "", url.Values{"SAMLResponse": {b64("<samlp:Response/>")}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, "https://evil.example")
			var p page
			if tc.method == "GET" {
				p = b.get(tc.url)
			} else {
				p = b.post(sso, tc.form)
			}
			if p.status != tc.status {
				t.Errorf("status %d at %s; want %d:\n%.400s", p.status, p.url, tc.status, p.body)
			}
			if p.url.Path == "/login" || strings.Contains(p.location, "evil.example") || strings.Contains(p.body, "evil.example") {
				t.Errorf("the refused request went on to %s (%q)", p.url, p.location)
			}
			if _, ok := samlForm(t, p); ok {
				t.Errorf("the refused request was answered with a SAML message")
			}
		})
	}
	// The node still answers, and a good signed request is accepted.
	if p := newBrowser(t).get(signedURL()); p.url.Path != "/login" {
		t.Errorf("a valid signed request after the refused ones: %d at %s", p.status, p.url)
	}
}

// TestSAMLReplayedAuthnRequest: the same AuthnRequest (signed or not) is
// answered once; a completed request cannot be continued twice.
func TestSAMLReplayedAuthnRequest(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{noEncryption: true})
	signer := newCrewSP(t, n, spOpts{sign: true, noEncryption: true})
	for name, s := range map[string]*crewSP{"unsigned": sp, "signed": signer} {
		t.Run(name, func(t *testing.T) {
			u, err := s.mw.ServiceProvider.MakeRedirectAuthenticationRequest("")
			if err != nil {
				t.Fatal(err)
			}
			if p := newBrowser(t).get(u.String()); p.url.Path != "/login" {
				t.Fatalf("first use: %d at %s", p.status, p.url)
			}
			if p := newBrowser(t).get(u.String()); p.status != http.StatusBadRequest || !strings.Contains(p.body, "used before") {
				t.Errorf("replayed AuthnRequest: %d at %s; want 400 'used before'", p.status, p.url)
			}
		})
	}

	// A completed request's continuation URL is single use, and only for
	// the browser that holds the session.
	br := newBrowser(t, n.issuer+"/saml/sso/continue")
	login := br.get(sp.url + "/hello")
	f := formFor(t, login, "/login/register")
	setup := br.submit(n.issuer, f, map[string]string{"name": zhangSan, "ssn": zhangSanSSN})
	cont := br.submit(n.issuer, formFor(t, setup, "/login/password-setup"), map[string]string{"password": goodPass, "password_confirm": goodPass})
	if !strings.Contains(cont.location, "/saml/sso/continue") {
		t.Fatalf("after the login: %d %q; want the continuation", cont.status, cont.location)
	}
	if p := newBrowser(t).get(n.issuer + cont.location); p.status != http.StatusForbidden || !strings.Contains(p.body, "another browser") {
		t.Errorf("continuation from another browser: %d; want 403 saying it was started in another browser", p.status)
	}
	if p := br.get(n.issuer + cont.location); p.status != http.StatusOK {
		t.Fatalf("continuation: %d", p.status)
	}
	if p := br.get(n.issuer + cont.location); p.status != http.StatusBadRequest {
		t.Errorf("continuation used twice: %d; want 400", p.status)
	}
}

// TestSAMLRegistry: `cardsso sps add` validates metadata; a bad file gets a
// clear error and nothing is stored.
func TestSAMLRegistry(t *testing.T) {
	n := startNode(t)
	a := n.admin(t)
	ctx := context.Background()
	good := func(acs string) []byte {
		return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://legacy.example.gov.cn/sp">` +
			`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
			`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acs + `" index="1"/>` +
			`</md:SPSSODescriptor></md:EntityDescriptor>`)
	}
	for _, tc := range []struct {
		name  string
		spec  admin.SPSpec
		field string
		want  string
	}{
		{"javascript ACS", admin.SPSpec{Metadata: good("javascript:alert(1)")}, "metadata", "AssertionConsumerService[1] Location"},
		{"data ACS", admin.SPSpec{Metadata: good("data:text/html,x")}, "metadata", "AssertionConsumerService[1]"},
		{"plain http ACS", admin.SPSpec{Metadata: good("http://legacy.example.gov.cn/acs")}, "metadata", "use https"},
		{"relative ACS", admin.SPSpec{Metadata: good("/acs")}, "metadata", "absolute"},
		{"not XML", admin.SPSpec{Metadata: []byte("hello")}, "metadata", "XML"},
		{"DOCTYPE", admin.SPSpec{Metadata: append([]byte(`<!DOCTYPE x [<!ENTITY e "e">]>`), good("https://a.example/acs")...)}, "metadata", "DOCTYPE"},
		{"IdP metadata", admin.SPSpec{Metadata: idpMetadata(t, n)}, "metadata", "identity provider metadata"},
		{"no entityID", admin.SPSpec{Metadata: []byte(strings.Replace(string(good("https://a.example/acs")), `entityID="https://legacy.example.gov.cn/sp"`, "", 1))}, "metadata", "entityID"},
		{"bad certificate", admin.SPSpec{Metadata: []byte(strings.Replace(string(good("https://a.example/acs")), `<md:AssertionConsumerService`,
			`<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:AssertionConsumerService`, 1))}, "metadata", "X509Certificate"},
		{"unknown attribute", admin.SPSpec{Metadata: good("https://a.example/acs"), Attributes: []string{"passport"}}, "attributes", "unknown attribute"},
		{"bad nameid", admin.SPSpec{Metadata: good("https://a.example/acs"), NameIDFormat: "email"}, "nameid", "persistent or transient"},
		{"bad level", admin.SPSpec{Metadata: good("https://a.example/acs"), MinACR: "urn:cardsso:loa:9"}, "min-acr", "unknown acr"},
		{"bad id", admin.SPSpec{Metadata: good("https://a.example/acs"), ID: "no spaces"}, "id", "characters"},
		{"metadata from http elsewhere", admin.SPSpec{MetadataURL: "http://legacy.example.gov.cn/md"}, "metadata", "https"},
		{"neither", admin.SPSpec{}, "metadata", "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.AddServiceProvider(ctx, tc.spec)
			var ie *idp.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field || !strings.Contains(ie.Error(), tc.want) {
				t.Fatalf("AddServiceProvider = %v; want an invalid %s mentioning %q", err, tc.field, tc.want)
			}
		})
	}
	if sps, err := a.ListServiceProviders(ctx); err != nil || len(sps) != 0 {
		t.Fatalf("after refused registrations: %d SPs, %v; want none stored", len(sps), err)
	}

	info, err := a.AddServiceProvider(ctx, admin.SPSpec{Metadata: good("https://legacy.example.gov.cn/acs"), MinACR: loa2, Attributes: []string{"name", "name", "card_region"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "legacy.example.gov.cn" || info.NameIDFormat != "persistent" || info.MinACR != loa2 ||
		strings.Join(info.Attributes, ",") != "name,card_region" || len(info.ACS) != 1 || info.Encrypted {
		t.Errorf("registered %+v", info)
	}
	if _, err := a.AddServiceProvider(ctx, admin.SPSpec{ID: "other", Metadata: good("https://legacy.example.gov.cn/acs")}); !errors.Is(err, admin.ErrAlreadyExists) {
		t.Errorf("same entity ID twice: %v; want ErrAlreadyExists", err)
	}
	if got, err := a.GetServiceProvider(ctx, "https://legacy.example.gov.cn/sp"); err != nil || got.ID != info.ID {
		t.Errorf("GetServiceProvider by entity ID = %+v, %v", got, err)
	}
	if err := a.DeleteServiceProvider(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetServiceProvider(ctx, info.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("after delete: %v; want ErrNotFound", err)
	}

	// By URL: a 404 is a clear error.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := a.AddServiceProvider(ctx, admin.SPSpec{MetadataURL: srv.URL + "/md"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("metadata URL answering 404: %v", err)
	}
}

// TestSAMLUnsignedLogoutRefused: a LogoutRequest must be signed.
func TestSAMLUnsignedLogoutRefused(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{noEncryption: true})
	br := newBrowser(t)
	helloOf(t, br.postSAML(register(t, br, n, br.get(sp.url+"/hello"), zhangSan, zhangSanSSN, goodPass)))
	a := sp.last()
	req, err := sp.mw.ServiceProvider.MakeLogoutRequest(n.issuer+"/saml/slo", a.Subject.NameID.Value)
	if err != nil {
		t.Fatal(err)
	}
	req.Signature = nil
	doc, _ := xml.Marshal(req)
	p := br.get(n.issuer + "/saml/slo?" + url.Values{"SAMLRequest": {deflateB64(t, doc)}}.Encode())
	if p.status != http.StatusBadRequest {
		t.Errorf("unsigned LogoutRequest: %d; want 400", p.status)
	}
	if !signedIn(t, br, sp) {
		t.Errorf("an unsigned LogoutRequest ended the session")
	}
	_ = saml.HTTPPostBinding
}
