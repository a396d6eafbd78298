package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestActiveIsOpaque: Active hands out the key as a jose.OpaqueSigner
// whose public JWK is the published one (kid, alg, use, key), that signs
// only with its algorithm, and whose signatures verify with the public key
// (TestAlgorithms verifies whole tokens against the JWKS).
func TestActiveIsOpaque(t *testing.T) {
	for _, alg := range []string{ES256, RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			m := initManager(t, openStore(t, dbPath(t)), testMasterKey(t), newClock(), alg)
			a, err := m.Active()
			if err != nil {
				t.Fatalf("Active: %v", err)
			}
			pub := a.Public()
			published := m.PublicJWKS()[0] // the active key comes first
			if pub.KeyID != published.KeyID || pub.Algorithm != alg || pub.Use != "sig" || !pub.IsPublic() {
				t.Errorf("Public() = kid %q alg %q use %q public %v; want kid %q alg %s use sig, a public key",
					pub.KeyID, pub.Algorithm, pub.Use, pub.IsPublic(), published.KeyID, alg)
			}
			if got := a.Algs(); len(got) != 1 || string(got[0]) != alg {
				t.Errorf("Algs() = %v; want [%s]", got, alg)
			}
			other := jose.HS256
			if _, err := a.SignPayload([]byte("x"), other); !errors.Is(err, jose.ErrUnsupportedAlgorithm) {
				t.Errorf("SignPayload(%s) error %v; want ErrUnsupportedAlgorithm", other, err)
			}
			signer, cert, err := m.Signer()
			if err != nil || signer == nil || cert != nil {
				t.Fatalf("Signer() = %v, %v, %v; want a signer and no certificate (an OIDC manager)", signer, cert, err)
			}
			tok := sign(t, m, `{"n":1}`)
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(signer.Public()); err != nil {
				t.Errorf("a token signed through Active does not verify with Signer().Public(): %v", err)
			}
		})
	}
}

// TestActiveBeforeInit: no key yet is ErrNoActiveKey and a nil interface,
// not a nil *Signer in one.
func TestActiveBeforeInit(t *testing.T) {
	m := newManager(t, openStore(t, dbPath(t)), testMasterKey(t), newClock(), ES256)
	a, err := m.Active()
	if !errors.Is(err, ErrNoActiveKey) || a != nil {
		t.Errorf("Active() = %v, %v; want nil, ErrNoActiveKey", a, err)
	}
	s, c, err := m.Signer()
	if !errors.Is(err, ErrNoActiveKey) || s != nil || c != nil {
		t.Errorf("Signer() = %v, %v, %v; want nil, nil, ErrNoActiveKey", s, c, err)
	}
}

// TestECDSARS: R and S are left-padded to the curve size, whatever their
// length in the ASN.1 signature.
func TestECDSARS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("payload"))
	for _, rs := range [][2]*big.Int{{big.NewInt(1), big.NewInt(2)}, {new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(0x80)}} {
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{rs[0], rs[1]})
		out, err := ecdsaRS(der, 32)
		if err != nil || len(out) != 64 || new(big.Int).SetBytes(out[:32]).Cmp(rs[0]) != 0 || new(big.Int).SetBytes(out[32:]).Cmp(rs[1]) != 0 {
			t.Errorf("ecdsaRS(%v) = %x, %v", rs, out, err)
		}
	}
	for i := 0; i < 300; i++ { // about one in 128 has a short R or S
		der, err := key.Sign(rand.Reader, digest[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := ecdsaRS(der, 32)
		if err != nil || !ecdsa.Verify(&key.PublicKey, digest[:], new(big.Int).SetBytes(out[:32]), new(big.Int).SetBytes(out[32:])) {
			t.Fatalf("ecdsaRS of a real signature: %x, %v", out, err)
		}
	}
	if _, err := ecdsaRS([]byte{0x30, 0x03, 0x02, 0x01}, 32); err == nil {
		t.Errorf("ecdsaRS took a malformed signature")
	}
}
