package oidc

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestRefreshKey(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	v1, k1 := newRefreshValue(t0)
	v2, k2 := newRefreshValue(t0.Add(time.Millisecond))
	if len(v1) != refreshValueLen || len(v1) != 51 {
		t.Fatalf("len(newRefreshValue) = %d; want 51", len(v1))
	}
	if v1 == v2 {
		t.Fatalf("newRefreshValue gave %q twice", v1)
	}
	if !bytes.Equal(k1, refreshKey(v1)) {
		t.Errorf("newRefreshValue key = %x; want refreshKey(value) %x", k1, refreshKey(v1))
	}
	sum := sha256.Sum256([]byte(v1))
	if len(k1) != timePrefixLen+sha256.Size || !bytes.Equal(k1[timePrefixLen:], sum[:]) {
		t.Errorf("refreshKey(%q) = %x; want the time prefix, then SHA-256 %x", v1, k1, sum)
	}
	if bytes.Compare(k1, k2) >= 0 {
		t.Errorf("key issued at %v (%x) sorts after the one a millisecond later (%x)", t0, k1, k2)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v1)
	if err != nil || len(raw) != timePrefixLen+refreshRandomLen {
		t.Fatalf("value %q decodes to %d bytes (%v); want %d", v1, len(raw), err, timePrefixLen+refreshRandomLen)
	}
	if !bytes.Equal(raw[:timePrefixLen], k1[:timePrefixLen]) {
		t.Errorf("value prefix %x; key prefix %x", raw[:timePrefixLen], k1[:timePrefixLen])
	}

	// Values without a prefix (issued before it, or not ours) are keyed
	// by their hash alone.
	legacy := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	for _, v := range []string{legacy, "", "short", strings.Repeat("!", refreshValueLen)} {
		sum := sha256.Sum256([]byte(v))
		if got := refreshKey(v); !bytes.Equal(got, sum[:]) {
			t.Errorf("refreshKey(%q) = %x; want SHA-256 %x", v, got, sum)
		}
	}
}

func TestAccessTokenID(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, b := newAccessTokenID(t0), newAccessTokenID(t0.Add(time.Millisecond))
	if len(a) != 36 || len(b) != 36 {
		t.Fatalf("newAccessTokenID = %q, %q; want 36 characters", a, b)
	}
	if a >= b {
		t.Errorf("id issued at %v (%q) sorts after the one a millisecond later (%q)", t0, a, b)
	}
	if a == newAccessTokenID(t0) {
		t.Errorf("newAccessTokenID(%v) gave %q twice", t0, a)
	}
	if strings.HasPrefix(a, "cc:") {
		t.Errorf("newAccessTokenID = %q; a user token id must not look like a client credentials one", a)
	}
}
