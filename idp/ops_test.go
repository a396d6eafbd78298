package idp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

func TestOperabilityEndpoints(t *testing.T) {
	n := startNode(t)
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/healthz", "ok"},
		{"/readyz", "ok"},
		{"/.well-known/openid-configuration", `"code_challenge_methods_supported":["S256"]`},
	} {
		resp, err := http.Get(n.issuer + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %q; want 200 containing %q", tc.path, resp.StatusCode, body, tc.want)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", tc.path)
		}
	}
	resp, err := http.Get(n.issuer + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`cardsso_http_requests_total{code="200",method="GET",route="/healthz"} 1`,
		`cardsso_http_requests_total{code="200",method="GET",route="/.well-known/openid-configuration"} 1`,
		"cardsso_http_request_duration_seconds_bucket",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(n.logs.String(), `"request_id"`) {
		t.Errorf("access log lines carry no request_id")
	}
}

func TestCORSAllowsOnlyRegisteredOrigins(t *testing.T) {
	n := startNode(t)
	registerClient(t, n, admin.ClientSpec{ID: "spa", Public: true, RedirectURIs: []string{"https://portal.example.gov.cn/cb"}})
	for origin, want := range map[string]string{
		"https://portal.example.gov.cn": "https://portal.example.gov.cn",
		"https://evil.example.com":      "",
	} {
		req, _ := http.NewRequest(http.MethodOptions, n.issuer+"/oauth/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q; want %q", origin, got, want)
		}
	}
}

func TestDiscoverySaysOnlyWhatIsOffered(t *testing.T) {
	n := startNode(t)
	resp, err := http.Get(n.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Issuer        string   `json:"issuer"`
		JWKS          string   `json:"jwks_uri"`
		Grants        []string `json:"grant_types_supported"`
		ResponseTypes []string `json:"response_types_supported"`
		Device        string   `json:"device_authorization_endpoint"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
	}
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if d.Issuer != n.issuer || d.Device != "" || !slices.Equal(d.Grants, []string{"authorization_code", "refresh_token", "client_credentials"}) ||
		!slices.Equal(d.ResponseTypes, []string{"code"}) || !slices.Equal(d.Algs, []string{"ES256"}) || !slices.Equal(d.PKCE, []string{"S256"}) {
		t.Errorf("discovery = %+v", d)
	}
	// JWKS with a strong ETag: a client that has it gets 304.
	resp, err = http.Get(d.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if !strings.Contains(body, `"kty":"EC"`) || etag == "" {
		t.Fatalf("JWKS = %s (ETag %q)", body, etag)
	}
	req, _ := http.NewRequest(http.MethodGet, d.JWKS, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("JWKS with If-None-Match: %d; want 304", resp.StatusCode)
	}
}

func TestRS256IsConfigurable(t *testing.T) {
	n := startNode(t, func(c *idp.Config) { c.Keys.Algorithm = "RS256" })
	p, err := oidc.NewProvider(context.Background(), n.issuer)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = p.Claims(&d)
	if !slices.Equal(d.Algs, []string{"RS256"}) {
		t.Errorf("algorithms %v; want [RS256]", d.Algs)
	}
}

func TestDiscoveryAdvertisesClaimsAndBackchannel(t *testing.T) {
	n := startNode(t)
	resp, err := http.Get(n.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"claims_parameter_supported":true`, `"backchannel_logout_supported":true`, `"urn:cardsso:loa:3"`} {
		if !strings.Contains(body, want) {
			t.Errorf("discovery lacks %s:\n%s", want, body)
		}
	}
}
