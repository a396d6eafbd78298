package oidc

import (
	"crypto"
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
	"strings"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cardsso/cardsso/idp/keys"
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
// for every signature; here the header is encoded once per key. The
// signature is the one go-jose makes (RFC 7518 §3): ES256 is ECDSA P-256
// with SHA-256 through the key's crypto.Signer (crypto/ecdsa with
// crypto/rand, hedged nonces) as the 64-byte R‖S, RS256 RSASSA-PKCS1-v1_5
// with SHA-256, EdDSA Ed25519.
type jwsSigner struct {
	key    *keys.Signer
	header string // base64url(protected header) + "."
	size   int    // ES256: bytes of R and of S
}

func newJWSSigner(k *keys.Signer) (*jwsSigner, error) {
	s := &jwsSigner{key: k}
	switch k.Algorithm {
	case jose.ES256:
		pub, ok := k.Key.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("oidc: key %s is not a P-256 key for ES256", k.ID)
		}
		s.size = 32
	case jose.RS256:
		if _, ok := k.Key.Public().(*rsa.PublicKey); !ok {
			return nil, fmt.Errorf("oidc: key %s is not an RSA key for RS256", k.ID)
		}
	case jose.EdDSA:
		if _, ok := k.Key.Public().(ed25519.PublicKey); !ok {
			return nil, fmt.Errorf("oidc: key %s is not an Ed25519 key for EdDSA", k.ID)
		}
	default:
		return nil, fmt.Errorf("oidc: cannot sign with %s", k.Algorithm)
	}
	// The header go-jose writes for op.SignerFromKey (its keys sorted).
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{string(k.Algorithm), k.ID, "JWT"})
	if err != nil {
		return nil, err
	}
	s.header = base64.RawURLEncoding.EncodeToString(h) + "."
	return s, nil
}

// sign returns the compact JWS of payload.
func (s *jwsSigner) sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(s.header)+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	out = append(out, s.header...)
	out = enc.AppendEncode(out, payload)
	var sig []byte
	var err error
	switch s.key.Algorithm {
	case jose.EdDSA:
		sig, err = s.key.Key.Sign(rand.Reader, out, crypto.Hash(0))
	case jose.ES256:
		digest := sha256.Sum256(out)
		var der []byte
		der, err = s.key.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err == nil {
			sig, err = ecdsaRS(der, s.size)
		}
	default: // RS256
		digest := sha256.Sum256(out)
		sig, err = s.key.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("oidc: sign: %w", err)
	}
	out = append(out, '.')
	out = enc.AppendEncode(out, sig)
	return string(out), nil
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

// jwsSigners keeps the signer of the active key, made again when the key
// manager hands out another *keys.Signer (it keeps one per active key).
type jwsSigners struct {
	cur atomic.Pointer[jwsSigner]
}

func (c *jwsSigners) get(k *keys.Signer) (*jwsSigner, error) {
	if s := c.cur.Load(); s != nil && s.key == k {
		return s, nil
	}
	s, err := newJWSSigner(k)
	if err != nil {
		return nil, err
	}
	c.cur.Store(s)
	return s, nil
}
