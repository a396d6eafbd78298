package oidc

import (
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/chacha20poly1305"
)

// tokenCrypto seals the values zitadel/oidc hands out opaque and reads back
// later: authorization codes (the auth request id) and bearer access tokens
// (token id and subject). The library's default wraps each in a JWE
// (A256GCMKW key wrap + A256GCM, JSON header, four base64 parts): parsing
// and building those took a tenth of an introspection's CPU. Here a value is
//
//	"c1." ‖ base64url(nonce (24 bytes) ‖ XChaCha20-Poly1305(value))
//
// under a subkey of Config.CryptoKey, with the prefix as associated data.
// XChaCha20's 192-bit random nonces may be drawn without a counter for any
// number of tokens (AES-GCM's 96-bit random nonces, as in the JWE key wrap,
// call for a new key well before 2^32 values). Values without the prefix are
// read with the library's JWE decrypter, so codes and tokens issued before
// this format (by an older node during a rolling upgrade) still work.
type tokenCrypto struct {
	aead   cipher.AEAD
	legacy op.Crypto
}

var _ op.Crypto = (*tokenCrypto)(nil)

const sealPrefix = "c1."

func newTokenCrypto(key [32]byte) (*tokenCrypto, error) {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("cardsso oidc opaque values v1"))
	aead, err := chacha20poly1305.NewX(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return &tokenCrypto{aead: aead, legacy: op.NewAES256GCMCrypto(key, "")}, nil
}

// Encrypt seals s.
func (c *tokenCrypto) Encrypt(s string) (string, error) {
	ns := c.aead.NonceSize()
	buf := make([]byte, ns, ns+len(s)+c.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	sealed := c.aead.Seal(buf, buf, []byte(s), []byte(sealPrefix))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

var errNotSealed = errors.New("oidc: value does not open")

// Decrypt opens a value Encrypt made (or the library's JWE of one).
func (c *tokenCrypto) Decrypt(s string) (string, error) {
	b64, ok := strings.CutPrefix(s, sealPrefix)
	if !ok {
		return c.legacy.Decrypt(s)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(b64)
	ns := c.aead.NonceSize()
	if err != nil || len(sealed) < ns+c.aead.Overhead() {
		return "", errNotSealed
	}
	plain, err := c.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(sealPrefix))
	if err != nil {
		return "", errNotSealed
	}
	return string(plain), nil
}

// jwsSigner makes compact JWS (RFC 7515 §7.1) with one signing key, for the
// client credentials access token. The library's op.CreateJWT builds a
// go-jose signer for every token and marshals the protected header, a map,
// for every signature; here the header is encoded once per key (kid and
// alg). The signature is the key's SignPayload (SigningKeys), as go-jose
// would ask for it: a jwsSigner holds no key, only the header it made.
type jwsSigner struct {
	kid    string
	alg    jose.SignatureAlgorithm
	header string // base64url(protected header) + "."
}

// newJWSSigner checks that the public key of pub fits its algorithm and
// that k signs with it, and encodes the header.
func newJWSSigner(k jose.OpaqueSigner, pub *jose.JSONWebKey) (*jwsSigner, error) {
	alg := jose.SignatureAlgorithm(pub.Algorithm)
	switch alg {
	case jose.ES256:
		if p, ok := pub.Key.(*ecdsa.PublicKey); !ok || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oidc: key %s is not a P-256 key for ES256", pub.KeyID)
		}
	case jose.RS256:
		if _, ok := pub.Key.(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("oidc: key %s is not an RSA key for RS256", pub.KeyID)
		}
	case jose.EdDSA:
		if _, ok := pub.Key.(ed25519.PublicKey); !ok {
			return nil, fmt.Errorf("oidc: key %s is not an Ed25519 key for EdDSA", pub.KeyID)
		}
	default:
		return nil, fmt.Errorf("oidc: cannot sign with %s", alg)
	}
	if !slices.Contains(k.Algs(), alg) {
		return nil, fmt.Errorf("oidc: key %s does not sign with %s", pub.KeyID, alg)
	}
	// The header go-jose writes for op.SignerFromKey (its keys sorted).
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{string(alg), pub.KeyID, "JWT"})
	if err != nil {
		return nil, err
	}
	return &jwsSigner{kid: pub.KeyID, alg: alg, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

// sign returns the compact JWS of payload, signed by k (the key the
// header names).
func (s *jwsSigner) sign(k jose.OpaqueSigner, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(s.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	out = append(out, s.header...)
	out = enc.AppendEncode(out, payload)
	sig, err := k.SignPayload(out, s.alg)
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
}

// jwsSigners keeps the signer of the active key, made again when the
// active key's kid or alg changes.
type jwsSigners struct {
	cur atomic.Pointer[jwsSigner]
}

// get returns the signer for the key whose public JWK is pub.
func (c *jwsSigners) get(k jose.OpaqueSigner, pub *jose.JSONWebKey) (*jwsSigner, error) {
	if s := c.cur.Load(); s != nil && s.kid == pub.KeyID && string(s.alg) == pub.Algorithm {
		return s, nil
	}
	s, err := newJWSSigner(k, pub)
	if err != nil {
		return nil, err
	}
	c.cur.Store(s)
	return s, nil
}
