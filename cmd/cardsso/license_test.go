package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// testIssuer serves a discovery document and the JWKS of key (kid "k1").
func testIssuer(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	return srv.URL
}

// signLicence writes a licence JWS of typ signed by key (kid "k1") for issuer to a file.
func signLicence(t *testing.T, key *ecdsa.PrivateKey, typ, issuer string, change bool) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), "k1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "s", "aud": "portal", "iat": 1, "jti": "L1",
		"name": "张三", "ssn_masked": "110***********0017", "card_status": "normal"})
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	if change {
		b := []byte(out)
		i := strings.IndexByte(out, '.') + 5
		b[i] ^= 1
		out = string(b)
	}
	path := filepath.Join(t.TempDir(), "licence.jws")
	if err := os.WriteFile(path, []byte(out+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLicenseVerify: `cardsso license verify --issuer URL FILE` exits 0 and
// prints the claims of a licence signed by a key of that issuer's JWKS, and
// exits 1 naming the reason for one byte changed, another typ, another
// issuer; without --issuer the database's published keys are used (none
// before a node has run on it: exit 1). The database path with a node's
// licence is TestECardLicence's (idp), through the same functions.
func TestLicenseVerify(t *testing.T) {
	clearEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss := testIssuer(t, key)
	code, out, errOut := runCLI(t, "license", "verify", "--issuer", iss, signLicence(t, key, "licence+jwt", iss, false))
	if code != exitOK || !strings.Contains(out, `"name": "张三"`) || !strings.Contains(out, `"jti": "L1"`) {
		t.Errorf("verify a good licence: exit %d, stdout %q, stderr %q; want 0 and its claims", code, out, errOut)
	}
	for _, tc := range []struct{ name, file, reason string }{
		{"one byte changed", signLicence(t, key, "licence+jwt", iss, true), "signature"},
		{"an ID token's typ", signLicence(t, key, "JWT", iss, false), "not a licence"},
		{"another issuer", signLicence(t, key, "licence+jwt", "https://elsewhere.example", false), "another issuer"},
	} {
		code, out, errOut := runCLI(t, "license", "verify", "--issuer", iss, tc.file)
		if code != exitFailure || !strings.Contains(errOut, tc.reason) || out != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 naming %q", tc.name, code, out, errOut, tc.reason)
		}
	}
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, "--data-dir", dir, "migrate"); code != exitOK {
		t.Fatalf("migrate: %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "--data-dir", dir, "license", "verify", signLicence(t, key, "licence+jwt", iss, false))
	if code != exitFailure || !strings.Contains(errOut, "published keys") {
		t.Errorf("verify a foreign licence against the database: exit %d, stderr %q; want 1", code, errOut)
	}
}
