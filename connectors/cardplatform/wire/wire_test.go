package wire_test

import (
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
)

// The example of docs/cardplatform-api.md §4, computed there with Python's
// hmac and hashlib, independently of this package.
const (
	exampleSecret         = "cardsso-demo-secret-not-for-production-0123"
	exampleBody           = `{"name":"张三","number":"110105199003070017"}`
	exampleDigest         = "e3c6e689bf3c0c9e8f540ae6eb4e718aff8db170ea6e991b9ea8e2a52df55427"
	exampleNonce          = "00112233445566778899aabbccddeeff"
	exampleSignature      = "WdXxiPYDFJpMfqUWE0SZqb39o6+PMKvOy1tMfFMhJxc="
	exampleResponseBody   = `{"matched":true,"card_region":"110105"}`
	exampleResponseDigest = "05775adb6fa52f674c7804680d1e3e8e1772e9bccfe49deee0d1ae4b6f791ada"
	exampleResponseSig    = "VRNs+zhckU5xV0LwLvU2D9nji8/CgNboNk8EknPjXMI="
)

func TestDocumentedExample(t *testing.T) {
	if got := wire.Digest([]byte(exampleBody)); got != exampleDigest {
		t.Errorf("Digest(body) = %s; want %s", got, exampleDigest)
	}
	if got := wire.RequestSignature([]byte(exampleSecret), "POST", "/v1/realname", "1795780800", exampleNonce, exampleDigest); got != exampleSignature {
		t.Errorf("RequestSignature = %s; want %s", got, exampleSignature)
	}
	if got := wire.Digest([]byte(exampleResponseBody)); got != exampleResponseDigest {
		t.Errorf("Digest(response) = %s; want %s", got, exampleResponseDigest)
	}
	if got := wire.ResponseSignature([]byte(exampleSecret), 200, "1795780801", exampleNonce, exampleResponseDigest); got != exampleResponseSig {
		t.Errorf("ResponseSignature = %s; want %s", got, exampleResponseSig)
	}
}

func TestSignatureEqual(t *testing.T) {
	tests := []struct {
		got  string
		want bool
	}{
		{exampleSignature, true},
		{"XdXxiPYDFJpMfqUWE0SZqb39o6+PMKvOy1tMfFMhJxc=", false},
		{"WdXxiPYDFJpMfqUWE0SZqb39o6+PMKvOy1tMfFMhJxc", false}, // no padding
		{"", false},
		{"not base64!", false},
	}
	for _, tt := range tests {
		if got := wire.SignatureEqual(tt.got, exampleSignature); got != tt.want {
			t.Errorf("SignatureEqual(%q, example) = %v; want %v", tt.got, got, tt.want)
		}
	}
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1795780800", 1795780800, true},
		{"0", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999", 0, false},
		{"١٢", 0, false}, // Arabic-Indic digits
	}
	for _, tt := range tests {
		got, ok := wire.ParseTimestamp(tt.in)
		if ok != tt.ok || (ok && got.Unix() != tt.want) {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %d, %v", tt.in, got.Unix(), ok, tt.want, tt.ok)
		}
	}
}

func TestWithinSkew(t *testing.T) {
	now := time.Unix(1795780800, 0)
	for _, tt := range []struct {
		d    time.Duration
		want bool
	}{
		{0, true}, {5 * time.Minute, true}, {-5 * time.Minute, true},
		{5*time.Minute + time.Second, false}, {-5*time.Minute - time.Second, false},
	} {
		if got := wire.WithinSkew(now.Add(tt.d), now, wire.DefaultSkew); got != tt.want {
			t.Errorf("WithinSkew(now%+v) = %v; want %v", tt.d, got, tt.want)
		}
	}
}

func TestValidNonceAndDigest(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{exampleNonce, true},
		{"00112233445566778899AABBCCDDEEFF", false},
		{exampleNonce[:31], false},
		{exampleNonce + "0", false},
		{"0011223344556677889 aabbccddeeff", false},
	} {
		if got := wire.ValidNonce(tt.s); got != tt.want {
			t.Errorf("ValidNonce(%q) = %v; want %v", tt.s, got, tt.want)
		}
	}
	if !wire.ValidDigest(exampleDigest) || wire.ValidDigest(exampleDigest[:63]) || wire.ValidDigest(exampleNonce) {
		t.Errorf("ValidDigest does not accept exactly 64 lowercase hex characters")
	}
}
