package idp

import "testing"

func TestYAMLPath(t *testing.T) {
	for in, want := range map[string]string{
		"TLS.CertFile":             "tls.cert_file",
		"URL":                      "url",
		"ClientID":                 "client_id",
		"Breaker.HalfOpenRequests": "breaker.half_open_requests",
		"InsecurePlainHTTP":        "insecure_plain_http",
		"SecretFile":               "secret_file",
	} {
		if got := yamlPath(in); got != want {
			t.Errorf("yamlPath(%q) = %q; want %q", in, got, want)
		}
	}
}
