package keys

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// A Signer is a jose.OpaqueSigner, the seam go-jose offers for keys it
// does not hold (a KMS or an HSM): the protocol packages sign through it
// and never see the private key (Manager.Active).
var _ jose.OpaqueSigner = (*Signer)(nil)

// Public returns the key's public JWK: kid, alg and use "sig", as the JWKS
// publishes it. It is shared: do not modify it.
func (s *Signer) Public() *jose.JSONWebKey { return s.jwk }

// Algs returns the one algorithm the key signs with. The slice is shared:
// do not modify it.
func (s *Signer) Algs() []jose.SignatureAlgorithm { return s.algs }

// SignPayload returns the JWS signature of payload (the JWS signing input,
// RFC 7515 §5.1) in the form RFC 7518 §3 gives it: ES256 is ECDSA P-256
// over SHA-256 as the 64-byte R‖S (through the key's crypto.Signer, i.e.
// crypto/ecdsa with crypto/rand: hedged nonces), RS256 RSASSA-PKCS1-v1_5
// with SHA-256, EdDSA Ed25519 over the payload itself. An algorithm other
// than the key's is jose.ErrUnsupportedAlgorithm.
func (s *Signer) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != s.Algorithm {
		return nil, jose.ErrUnsupportedAlgorithm
	}
	var (
		sig []byte
		err error
	)
	switch alg {
	case jose.EdDSA:
		sig, err = s.Key.Sign(rand.Reader, payload, crypto.Hash(0))
	case jose.ES256:
		digest := sha256.Sum256(payload)
		var der []byte
		der, err = s.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err == nil {
			sig, err = ecdsaRS(der, 32)
		}
	case jose.RS256:
		digest := sha256.Sum256(payload)
		sig, err = s.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	default:
		return nil, jose.ErrUnsupportedAlgorithm
	}
	if err != nil {
		return nil, fmt.Errorf("keys: sign with %s: %w", s.ID, err)
	}
	return sig, nil
}

// ecdsaRS turns an ASN.1 ECDSA signature into R‖S, each size bytes (RFC
// 7518 §3.4).
func ecdsaRS(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() ||
		len(r) > size || len(s) > size {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	copy(out[size-len(r):size], r)
	copy(out[2*size-len(s):], s)
	return out, nil
}
