package ecard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// The reasons VerifyLicence gives (errors.Is).
var (
	ErrNotLicence   = errors.New("not a licence JWS")
	ErrUnknownKey   = errors.New("signed by a key this issuer does not publish")
	ErrBadSignature = errors.New("the signature does not verify")
	ErrOtherIssuer  = errors.New("issued by another issuer")
)

// algs are the algorithms the node's signing keys use (idp/keys).
var algs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// VerifyLicence verifies a licence document: a compact JWS of typ
// LicenceType whose kid names one of keys (the issuer's published JWKS),
// whose signature verifies with it under that key's algorithm, and whose iss
// is issuer (when issuer is not empty). It returns the claims. It does not
// judge freshness (iat) or the card's status: the claims say them.
func VerifyLicence(compact string, keys []jose.JSONWebKey, issuer string) (LicenceClaims, error) {
	var c LicenceClaims
	jws, err := jose.ParseSignedCompact(compact, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return c, fmt.Errorf("%w: %v", ErrNotLicence, err)
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != LicenceType {
		return c, fmt.Errorf("%w: typ %q", ErrNotLicence, typ)
	}
	var key *jose.JSONWebKey
	for i := range keys {
		if keys[i].KeyID == hdr.KeyID && hdr.KeyID != "" {
			key = &keys[i]
			break
		}
	}
	if key == nil {
		return c, fmt.Errorf("%w (kid %q)", ErrUnknownKey, hdr.KeyID)
	}
	if key.Algorithm != "" && key.Algorithm != hdr.Algorithm {
		return c, fmt.Errorf("%w: alg %s, the key's is %s", ErrBadSignature, hdr.Algorithm, key.Algorithm)
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return c, ErrBadSignature
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil || c.ID == "" {
		return LicenceClaims{}, fmt.Errorf("%w: claims", ErrNotLicence)
	}
	if issuer != "" && c.Issuer != issuer {
		return LicenceClaims{}, fmt.Errorf("%w (%q)", ErrOtherIssuer, c.Issuer)
	}
	return c, nil
}
