package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/policies/assurance"
)

func TestValidPKCE(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"a", false},
		{strings.Repeat("a", 42), false},
		{strings.Repeat("a", 43), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("Az09-._~", 6), true},
		{strings.Repeat("a", 42) + "+", false},
		{strings.Repeat("a", 42) + "=", false},
		{strings.Repeat("a", 42) + " ", false},
		{strings.Repeat("é", 22), false}, // 44 bytes, none unreserved
	} {
		if got := validPKCE(c.v); got != c.want {
			t.Errorf("validPKCE(%q) = %v; want %v", c.v, got, c.want)
		}
	}
}

func TestValidChallenge(t *testing.T) {
	sum := sha256.Sum256([]byte("verifier"))
	good := base64.RawURLEncoding.EncodeToString(sum[:])
	for _, c := range []struct {
		c    string
		want bool
	}{
		{good, true},
		{good[:42], false},
		{good + "A", false},
		{good[:42] + "=", false},
		{strings.Repeat("*", 43), false},
		{base64.URLEncoding.EncodeToString(sum[:]), false}, // padded
		{"", false},
	} {
		if got := validChallenge(c.c); got != c.want {
			t.Errorf("validChallenge(%q) = %v; want %v", c.c, got, c.want)
		}
	}
}

// TestRequestedACR: an acr claim request, essential or voluntary, asks for
// the lowest level it names (OIDC Core §5.5.1.1); a voluntary one naming
// nothing known is ignored as acr_values is, an essential one is refused.
func TestRequestedACR(t *testing.T) {
	aliases := assurance.EIDAS()
	for _, c := range []struct {
		claims  string
		want    assurance.Level
		found   bool
		wantErr bool
	}{
		{``, 0, false, false},
		{`{"id_token":{"acr":null}}`, 0, false, false},
		{`{"id_token":{"acr":{"essential":true,"value":"urn:cardsso:loa:3"}}}`, assurance.LoA3, true, false},
		{`{"id_token":{"acr":{"values":["urn:cardsso:loa:3"]}}}`, assurance.LoA3, true, false},
		{`{"userinfo":{"acr":{"value":"urn:cardsso:loa:2"}}}`, assurance.LoA2, true, false},
		{`{"id_token":{"acr":{"essential":true,"values":["urn:cardsso:loa:3","urn:cardsso:loa:2"]}}}`, assurance.LoA2, true, false},
		{`{"id_token":{"acr":{"values":["urn:other:9"]}}}`, 0, false, false},
		{`{"id_token":{"acr":{"essential":true,"values":["urn:other:9"]}}}`, 0, false, true},
		{`{"id_token":{"acr":{"essential":true}}}`, 0, false, false},
		{`{"id_token":{"acr":"urn:cardsso:loa:3"}}`, 0, false, true},
	} {
		cr, err := parseClaims(c.claims)
		if err != nil {
			t.Fatalf("parseClaims(%s): %v", c.claims, err)
		}
		got, found, err := cr.requestedACR(aliases)
		if (err != nil) != c.wantErr || got != c.want || found != c.found {
			t.Errorf("requestedACR(%s) = %v, %v, %v; want %v, %v, error %v", c.claims, got, found, err, c.want, c.found, c.wantErr)
		}
	}
}
