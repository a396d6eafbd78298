package oidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
	"github.com/zitadel/schema"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// FuzzClaimsRequest feeds the claims parameter (OIDC Core §5.5) and
// acr_values, which portals and attackers control, through everything
// CardSSO reads of them: nothing panics, an over-long parameter is
// refused, a level is one of the three, and verified_claims asked by a
// portal granted only openid never passes the release checks (the claims
// leak of docs/security.md §3).
func FuzzClaimsRequest(f *testing.F) {
	f.Add(`{"id_token":{"acr":{"essential":true,"values":["urn:cardsso:loa:2"]}}}`, "urn:cardsso:loa:3")
	f.Add(`{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null,"ssn":null}}}}`, "")
	f.Add(`{"id_token":{"acr":{"value":"http://eidas.europa.eu/LoA/high"}},"userinfo":{"acr":null}}`, "x y")
	f.Add(`{"id_token":{"verified_claims":[1,2]}}`, "")
	f.Add(`null`, "")
	aliases := assurance.EIDAS()
	f.Fuzz(func(t *testing.T, raw, acrValues string) {
		c, err := parseClaims(raw)
		if len(raw) > maxClaimsParam && err == nil {
			t.Fatalf("a claims parameter of %d bytes was accepted", len(raw))
		}
		if err != nil {
			return
		}
		if l, ok, err := c.requestedACR(aliases); err == nil && ok && (l < assurance.LoA1 || l > assurance.LoA3) {
			t.Fatalf("requested level %d", l)
		}
		for _, min := range []string{"", "urn:cardsso:loa:2", "garbage"} {
			l, err := requiredLevel(storage.Client{MinACR: min}, strings.Fields(acrValues), c, aliases)
			if err == nil && (l < assurance.LoA1 || l > assurance.LoA3) {
				t.Fatalf("required level %d", l)
			}
		}
		for _, target := range []string{inIDToken, inUserinfo} {
			asked, _ := verifiedClaimsAsked([]byte(raw), target)
			for name := range asked {
				if release.ClaimAllowed(name, nil) && scopeReleases([]string{"openid"}, nil, name) {
					t.Fatalf("verified_claims %q would be released on the openid scope alone", name)
				}
			}
		}
	})
}

// FuzzAuthorizeRequest feeds an authorization request's query string
// through the library's parsing and CardSSO's own checks of what it
// parsed: nothing panics.
func FuzzAuthorizeRequest(f *testing.F) {
	f.Add("client_id=c&redirect_uri=https%3A%2F%2Fp%2Fcb&response_type=code&scope=openid&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
	f.Add("max_age=abc&prompt=none+login&ui_locales=zh-CN+en&claims=%7B%7D")
	f.Add("response_mode=form_post&acr_values=urn%3Acardsso%3Aloa%3A3&id_token_hint=a.b.c")
	dec := schema.NewDecoder()
	dec.IgnoreUnknownKeys(true)
	f.Fuzz(func(t *testing.T, query string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/authorize", RawQuery: query}, Header: http.Header{}}
		authReq, err := op.ParseAuthorizeRequest(r, dec)
		if err != nil {
			return
		}
		_ = validChallenge(authReq.CodeChallenge)
		_ = validPKCE(authReq.CodeChallenge)
		if _, err := op.ValidateAuthReqPrompt(authReq.Prompt, authReq.MaxAge); err != nil {
			return
		}
		c, err := parseClaims(r.Form.Get("claims"))
		if err != nil {
			return
		}
		_, _ = requiredLevel(storage.Client{}, authReq.ACRValues, c, assurance.EIDAS())
	})
}

// FuzzTokenRequest posts token endpoint forms (RFC 6749 §4.1.3, §6, §4.4),
// which any client controls, with and without the portal's credentials,
// through the whole endpoint: nothing panics, no answer is a 5xx, every
// answer carries Cache-Control: no-store, and no error description shows
// the store's text.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fportal.example%2Fcb&code_verifier=a", true)
	f.Add("grant_type=refresh_token&refresh_token=xyz&scope=openid", true)
	f.Add("grant_type=client_credentials&scope=openid+cardsso.ssn", true)
	f.Add("grant_type=password&username=a&password=b", false)
	f.Add("client_id=portal&client_secret=x&grant_type=client_credentials", false)
	tp := newTestProvider(f)
	h := tp.p.Handler()
	f.Fuzz(func(t *testing.T, form string, auth bool) {
		req := httptest.NewRequest(http.MethodPost, testIssuer+"/oauth/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth {
			req.SetBasicAuth("portal", portalSecret)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", form, rec.Code, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%q: answer without Cache-Control: no-store", form)
		}
		for _, leak := range []string{"sqlstore", "sql:", "storage:", "pgx", "sqlite"} {
			if strings.Contains(rec.Body.String(), leak) {
				t.Fatalf("%q: answer shows %q: %s", form, leak, rec.Body)
			}
		}
	})
}
