package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/storage"
)

// Signing algorithms a Manager can generate keys for.
const (
	// ES256 is ECDSA on P-256 with SHA-256 (RFC 7518 §3.4), the default:
	// about 17,000 signatures per second per core.
	ES256 = string(jose.ES256)
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3), for relying
	// parties that know nothing else. Keys are 2048-bit (NIST SP 800-57:
	// acceptable until 2030; keys live for weeks here), since 3072-bit keys
	// sign about three times slower than the ~1,000 per second per core of
	// 2048-bit ones.
	RS256 = string(jose.RS256)
	// EdDSA is Ed25519 (RFC 8037). Fast, but not every relying party library
	// accepts it.
	EdDSA = string(jose.EdDSA)
)

// rsaBits is the RS256 modulus size; see RS256.
const rsaBits = 2048

// ErrUnsupportedAlgorithm: an algorithm other than ES256, RS256 or EdDSA.
var ErrUnsupportedAlgorithm = errors.New("keys: unsupported signing algorithm")

func checkAlgorithm(alg string) error {
	switch alg {
	case ES256, RS256, EdDSA:
		return nil
	}
	return fmt.Errorf("%w %q (want ES256, RS256 or EdDSA)", ErrUnsupportedAlgorithm, alg)
}

// Signer is the active signing key of a Manager, ready to sign: the local
// implementation of the key seam of the protocol packages. Manager.Active
// hands it out as a jose.OpaqueSigner (jws.go), Manager.Signer its Key as a
// crypto.Signer, so idp/internal/oidc and idp/internal/saml never need the
// key material and a KMS or HSM can take its place. Key holds the unsealed private key (*ecdsa.PrivateKey,
// *rsa.PrivateKey or ed25519.PrivateKey). The JWS header must carry kid =
// ID. A Signer is shared by every caller: read it, do not modify it.
type Signer struct {
	ID        string
	Algorithm jose.SignatureAlgorithm
	Key       crypto.Signer
	// Certificate is the key's self-signed certificate, for keys made with
	// one (ManagerConfig.CertificateName); nil otherwise.
	Certificate *x509.Certificate

	jwk  *jose.JSONWebKey          // the public JWK (Public)
	algs []jose.SignatureAlgorithm // {Algorithm} (Algs)
}

// certTemplate says which certificate a new key gets; the zero value: none.
type certTemplate struct {
	name     string
	validity time.Duration
}

// generateSigningKey makes a new key pair for alg and returns it as a stored
// key of use, without state or times: PKCS#8 DER of the private key sealed
// under mk with the kid as associated data, the public JWK (kid, alg, use
// "sig") and, when cert names one, a self-signed certificate valid from an
// hour before now (clock skew) for cert.validity.
//
// The kid is the RFC 7638 JWK thumbprint (SHA-256, base64url without
// padding): derived from the public key, so it cannot collide between nodes
// and any party can recompute it.
//
// Key generation reads rnd, but Go 1.26's crypto packages ignore a custom
// reader and use the system's CSPRNG unless GODEBUG=cryptocustomrand=1.
func generateSigningKey(alg, use string, cert certTemplate, now time.Time, rnd io.Reader, mk *MasterKey) (storage.SigningKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rnd)
	case RS256:
		priv, err = rsa.GenerateKey(rnd, rsaBits)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rnd)
	default:
		return storage.SigningKey{}, checkAlgorithm(alg)
	}
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: %s key thumbprint: %w", alg, err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: %s public key: %w", alg, err)
	}
	var certDER []byte
	if cert.name != "" {
		if certDER, err = selfSigned(priv, pub.KeyID, cert, now, rnd); err != nil {
			return storage.SigningKey{}, fmt.Errorf("keys: %s certificate: %w", alg, err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encode %s private key: %w", alg, err)
	}
	sealed, err := mk.Seal(der, []byte(pub.KeyID))
	clear(der)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: seal %s private key: %w", alg, err)
	}
	return storage.SigningKey{
		ID:            pub.KeyID,
		Algorithm:     alg,
		PrivateSealed: sealed,
		PublicJWK:     pubJSON,
		Use:           use,
		Certificate:   certDER,
	}, nil
}

// selfSigned makes the DER of a self-signed certificate for priv: subject
// and issuer CN = cert.name, serial number random, key usage digital
// signature, valid from now-1h for cert.validity. The kid is its subject key
// identifier's source, so operators can match certificate and key.
func selfSigned(priv crypto.Signer, kid string, cert certTemplate, now time.Time, rnd io.Reader) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	ski := sha256.Sum256([]byte(kid))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cert.name},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(cert.validity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:20],
	}
	return x509.CreateCertificate(rnd, tmpl, tmpl, priv.Public(), priv)
}

// parseCertificate decodes a stored key's certificate and checks that it
// certifies the key's public JWK.
func parseCertificate(k storage.SigningKey, pub jose.JSONWebKey) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(k.Certificate)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: certificate: %w", k.ID, err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if eq, ok := cert.PublicKey.(equaler); !ok || !eq.Equal(pub.Key) {
		return nil, fmt.Errorf("keys: signing key %s: certificate is not for the published public key", k.ID)
	}
	return cert, nil
}

// parsePublicJWK decodes a stored key's public JWK and checks it matches the
// row: public only, usable, same kid and algorithm.
func parsePublicJWK(k storage.SigningKey) (jose.JSONWebKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: public JWK: %w", k.ID, err)
	}
	switch {
	case !jwk.IsPublic():
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: stored JWK is not a public key", k.ID)
	case !jwk.Valid():
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: stored JWK is not valid", k.ID)
	case jwk.KeyID != k.ID:
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: JWK kid %q does not match", k.ID, jwk.KeyID)
	case jwk.Algorithm != k.Algorithm:
		return jose.JSONWebKey{}, fmt.Errorf("keys: signing key %s: JWK alg %q does not match %q", k.ID, jwk.Algorithm, k.Algorithm)
	}
	jwk.Use = "sig"
	return jwk, nil
}

// openSigner unseals a stored key's private part and checks that it belongs
// to its public JWK and algorithm.
func openSigner(k storage.SigningKey, pub jose.JSONWebKey, mk *MasterKey) (*Signer, error) {
	if err := checkAlgorithm(k.Algorithm); err != nil {
		return nil, fmt.Errorf("keys: signing key %s: %w", k.ID, err)
	}
	der, err := mk.Open(k.PrivateSealed, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: cannot unseal the private key (another master key?): %w", k.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: private key: %w", k.ID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: signing key %s: private key type %T cannot sign", k.ID, parsed)
	}
	var typeOK bool
	switch priv.(type) {
	case *ecdsa.PrivateKey:
		typeOK = k.Algorithm == ES256 && priv.Public().(*ecdsa.PublicKey).Curve == elliptic.P256()
	case *rsa.PrivateKey:
		typeOK = k.Algorithm == RS256 && priv.Public().(*rsa.PublicKey).N.BitLen() >= 2048
	case ed25519.PrivateKey:
		typeOK = k.Algorithm == EdDSA
	}
	if !typeOK {
		return nil, fmt.Errorf("keys: signing key %s: private key type %T does not fit %s", k.ID, priv, k.Algorithm)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if eq, ok := priv.Public().(equaler); !ok || !eq.Equal(pub.Key) {
		return nil, fmt.Errorf("keys: signing key %s: private key does not match the published public key", k.ID)
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	signer := &Signer{ID: k.ID, Algorithm: alg, Key: priv, jwk: &pub, algs: []jose.SignatureAlgorithm{alg}}
	if len(k.Certificate) > 0 {
		if signer.Certificate, err = parseCertificate(k, pub); err != nil {
			return nil, err
		}
	}
	return signer, nil
}
