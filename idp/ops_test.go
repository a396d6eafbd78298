package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/idp"
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
	registerClient(t, n, idp.ClientSpec{ID: "spa", Public: true, RedirectURIs: []string{"https://portal.example.gov.cn/cb"}})
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
