package ecardapp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// ErrJWS means a JWS is not one the app API accepts: malformed, another
// algorithm, another key, or claims outside the rules of the package doc.
// Its text says which, for the platform's log; the app gets
// ErrBadSignature.
var ErrJWS = errors.New("ecardapp: JWS refused")

// MaxJWS bounds a compact JWS, in bytes.
const MaxJWS = 2048

// Sign signs claims (Confirmation or CounterCode) with key as binding kid:
// a compact JWS, ES256, with kid in its protected header.
func Sign(key *ecdsa.PrivateKey, kid string, claims any) (string, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return "", errors.New("ecardapp: the key must be P-256")
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// KeyID returns the kid of a compact JWS without verifying anything, so
// that the platform can find the binding whose key verifies it.
func KeyID(compact string) (string, error) {
	jws, err := parse(compact)
	if err != nil {
		return "", err
	}
	return jws.Signatures[0].Protected.KeyID, nil
}

func parse(compact string) (*jose.JSONWebSignature, error) {
	if len(compact) > MaxJWS {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrJWS, MaxJWS)
	}
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWS, err)
	}
	if len(jws.Signatures) != 1 || jws.Signatures[0].Protected.KeyID == "" {
		return nil, fmt.Errorf("%w: want one signature with a kid", ErrJWS)
	}
	return jws, nil
}

// timing is the time claims both JWS kinds carry.
type timing struct {
	JTI      string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// Verify checks compact against key at now and decodes its claims into
// claims (a *Confirmation or a *CounterCode): ES256 signed by key; iat not
// after now+Skew; exp after iat, at most MaxJWSLifetime after it, and not
// before now-Skew (else ErrJWSExpired); a jti of 16 to 128 characters. It returns the claims' jti and exp, for the caller's replay
// check. Single use (jti) and what the claims say (the ticket, the use)
// are the caller's to check.
func Verify(compact string, key *ecdsa.PublicKey, now time.Time, claims any) (jti string, exp time.Time, err error) {
	jws, err := parse(compact)
	if err != nil {
		return "", time.Time{}, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: signature: %v", ErrJWS, err)
	}
	var t timing
	if err := json.Unmarshal(payload, &t); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: claims: %v", ErrJWS, err)
	}
	iat, expiry := time.Unix(t.IssuedAt, 0), time.Unix(t.Expiry, 0)
	switch {
	case len(t.JTI) < 16 || len(t.JTI) > 128:
		return "", time.Time{}, fmt.Errorf("%w: jti of %d characters", ErrJWS, len(t.JTI))
	case t.IssuedAt == 0 || t.Expiry == 0:
		return "", time.Time{}, fmt.Errorf("%w: iat and exp are required", ErrJWS)
	case iat.After(now.Add(Skew)):
		return "", time.Time{}, fmt.Errorf("%w: issued in the future", ErrJWS)
	case !expiry.After(iat) || expiry.Sub(iat) > MaxJWSLifetime:
		return "", time.Time{}, fmt.Errorf("%w: lifetime %s (at most %s)", ErrJWS, expiry.Sub(iat), MaxJWSLifetime)
	case !now.Before(expiry.Add(Skew)):
		return "", time.Time{}, ErrJWSExpired
	}
	if err := json.Unmarshal(payload, claims); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: claims: %v", ErrJWS, err)
	}
	return t.JTI, expiry, nil
}

// ErrJWSExpired is the ErrJWS of a JWS whose exp has passed (a counter
// code: CounterExpired rather than CounterInvalid).
var ErrJWSExpired = fmt.Errorf("%w: expired", ErrJWS)

// PublicJWK returns key as the JWK a BindRequest carries.
func PublicJWK(key *ecdsa.PublicKey) (map[string]any, error) {
	b, err := json.Marshal(jose.JSONWebKey{Key: key, Algorithm: string(jose.ES256), Use: "sig"})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// ParsePublicJWK reads a BindRequest's public key: a P-256 public JWK.
func ParsePublicJWK(m map[string]any) (*ecdsa.PublicKey, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("ecardapp: public_key: %v", err)
	}
	pub, ok := k.Key.(*ecdsa.PublicKey)
	if !ok || !k.IsPublic() || pub.Curve != elliptic.P256() {
		return nil, errors.New("ecardapp: public_key: want a P-256 public key (kty EC, crv P-256, no d)")
	}
	return pub, nil
}
