package oidc

import (
	"context"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SigningKeys is the token signing keys as the provider uses them: the
// active key, which signs, and the published public keys. It is the key
// seam: nothing here needs the private key, so a KMS or HSM can stand
// behind it; idp/keys.Manager (sealed keys unsealed in memory) is one
// implementation.
//
// Active is called for every token signed and must answer from memory.
// Its key is a jose.OpaqueSigner, go-jose's interface for keys it does not
// hold: Public() is the key's public JWK, whose KeyID is the JWS kid (RFC
// 7515 §4.1.4) and Algorithm the JWS alg it signs with (RFC 7518 §3.1:
// ES256, RS256 or EdDSA); it is read per token, so keep it rather than
// make it per call. SignPayload(input, alg) returns the signature of the
// JWS signing input (RFC 7515 §5.1) in the form of RFC 7518 §3 (ES256:
// the 64-byte R‖S). PublicJWKS must include the active key.
type SigningKeys interface {
	Active() (jose.OpaqueSigner, error)
	PublicJWKS() []jose.JSONWebKey
	// JWKSJSON is the pre-serialised {"keys":[…]} and ETag its strong ETag.
	JWKSJSON() []byte
	ETag() string
}

var errUnnamedKey = errors.New("oidc: the active signing key has no kid or alg in its public JWK")

// activeKey returns the active key and its public JWK (kid and alg).
func (s *Storage) activeKey() (jose.OpaqueSigner, *jose.JSONWebKey, error) {
	a, err := s.cfg.Keys.Active()
	if err != nil {
		return nil, nil, err
	}
	pub := a.Public()
	if pub == nil || pub.KeyID == "" || pub.Algorithm == "" {
		return nil, nil, errUnnamedKey
	}
	return a, pub, nil
}

// signingKey adapts the active key to op.SigningKey. The library's signer
// (op.SignerFromKey, go-jose) takes a jose.OpaqueSigner as the key and
// calls its SignPayload.
type signingKey struct {
	s   jose.OpaqueSigner
	pub *jose.JSONWebKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.pub.Algorithm)
}

func (k signingKey) Key() any { return k.s }

func (k signingKey) ID() string { return k.pub.KeyID }

// SigningKey returns the active key from memory.
func (s *Storage) SigningKey(context.Context) (op.SigningKey, error) {
	a, pub, err := s.activeKey()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return signingKey{a, pub}, nil
}

// SignatureAlgorithms lists the algorithm of the active key.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	_, pub, err := s.activeKey()
	if err != nil {
		return nil, err
	}
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(pub.Algorithm)}, nil
}

// publicKey adapts a JWK to op.Key.
type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string { return k.k.KeyID }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }

func (k publicKey) Use() string { return k.k.Use }

func (k publicKey) Key() any { return k.k.Key }

// KeySet returns next, active and still-published retired public keys.
func (s *Storage) KeySet(context.Context) ([]op.Key, error) {
	jwks := s.cfg.Keys.PublicJWKS()
	out := make([]op.Key, len(jwks))
	for i, k := range jwks {
		out[i] = publicKey{k}
	}
	return out, nil
}
