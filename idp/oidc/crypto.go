package oidc

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

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
