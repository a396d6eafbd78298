package ecardapp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestVerify: a confirmation signed by the binding's key verifies and gives
// its claims; every rule of the package doc has the JWS that breaks it.
func TestVerify(t *testing.T) {
	key, other := newKey(t), newKey(t)
	now := time.Unix(1_800_000_000, 0)
	jti := "0123456789abcdef0123"
	good := Confirmation{Ticket: "T1", JTI: jti, IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix()}
	sign := func(k *ecdsa.PrivateKey, c any) string {
		s, err := Sign(k, "binding-1", c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	jws := sign(key, good)
	if kid, err := KeyID(jws); err != nil || kid != "binding-1" {
		t.Fatalf("KeyID = %q, %v", kid, err)
	}
	var got Confirmation
	gotJTI, exp, err := Verify(jws, &key.PublicKey, now, &got)
	if err != nil || got != good || gotJTI != jti || !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("Verify = %+v, %q, %s, %v; want the claims", got, gotJTI, exp, err)
	}

	with := func(f func(*Confirmation)) Confirmation { c := good; f(&c); return c }
	for name, tc := range map[string]struct {
		jws     string
		expired bool
	}{
		"another key": {jws: sign(other, good)},
		"short jti":   {jws: sign(key, with(func(c *Confirmation) { c.JTI = "short" }))},
		"no iat":      {jws: sign(key, with(func(c *Confirmation) { c.IssuedAt = 0 }))},
		"issued in future": {jws: sign(key, with(func(c *Confirmation) {
			c.IssuedAt = now.Add(time.Minute).Unix()
			c.Expiry = now.Add(2 * time.Minute).Unix()
		}))},
		"too long a life": {jws: sign(key, with(func(c *Confirmation) { c.Expiry = now.Add(MaxJWSLifetime + time.Second).Unix() }))},
		"exp before iat":  {jws: sign(key, with(func(c *Confirmation) { c.Expiry = now.Add(-time.Second).Unix() }))},
		"expired": {jws: sign(key, with(func(c *Confirmation) {
			c.IssuedAt = now.Add(-2 * time.Minute).Unix()
			c.Expiry = now.Add(-Skew - time.Second).Unix()
		})), expired: true},
		"tampered payload": {jws: tamper(jws)},
		"not a JWS":        {jws: "not.a.jws"},
		"too large":        {jws: strings.Repeat("a", MaxJWS+1)},
		"alg none":         {jws: "eyJhbGciOiJub25lIiwia2lkIjoiYmluZGluZy0xIn0." + strings.Split(jws, ".")[1] + "."},
	} {
		var c Confirmation
		_, _, err := Verify(tc.jws, &key.PublicKey, now, &c)
		if !errors.Is(err, ErrJWS) || errors.Is(err, ErrJWSExpired) != tc.expired {
			t.Errorf("%s: Verify = %v; want ErrJWS (expired: %v)", name, err, tc.expired)
		}
	}
}

func tamper(jws string) string {
	p := strings.Split(jws, ".")
	b := []byte(p[1])
	if b[3] == 'A' {
		b[3] = 'B'
	} else {
		b[3] = 'A'
	}
	return p[0] + "." + string(b) + "." + p[2]
}

// TestPublicJWK: the bind request's key round-trips; a private or non-P-256
// key is refused.
func TestPublicJWK(t *testing.T) {
	key := newKey(t)
	m, err := PublicJWK(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["d"]; ok {
		t.Fatal("the JWK carries the private part")
	}
	pub, err := ParsePublicJWK(m)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Fatalf("ParsePublicJWK = %v, %v", pub, err)
	}
	m["d"] = "AAAA"
	if _, err := ParsePublicJWK(m); err == nil {
		t.Error("a JWK with a private part was accepted")
	}
	if _, err := ParsePublicJWK(map[string]any{"kty": "oct", "k": "AAAA"}); err == nil {
		t.Error("a symmetric JWK was accepted")
	}
}
