package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// sealedBox is an RSA key as a KMS or HSM holds it: it performs the
// private operation and tells the public key, and nothing else; it counts
// its signatures.
type sealedBox struct {
	key   *rsa.PrivateKey
	signs *atomic.Int64
}

func (b sealedBox) Public() crypto.PublicKey { return b.key.Public() }

func (b sealedBox) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	b.signs.Add(1)
	return b.key.Sign(r, digest, opts)
}

// remoteKeys is a SigningKeys that is not idp/keys': a sealedBox and its
// self-signed certificate.
type remoteKeys struct {
	box  sealedBox
	cert *x509.Certificate
}

func (k remoteKeys) Signer() (crypto.Signer, *x509.Certificate, error) { return k.box, k.cert, nil }

func (k remoteKeys) Certificates() []*x509.Certificate { return []*x509.Certificate{k.cert} }

func newRemoteKeys(t *testing.T) remoteKeys {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	box := sealedBox{key: priv, signs: new(atomic.Int64)}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kms"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, box.Public(), box)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	box.signs.Store(0)
	return remoteKeys{box: box, cert: cert}
}

func newKeysProvider(t *testing.T, k SigningKeys) *Provider {
	t.Helper()
	p, err := New(Config{
		Issuer: "https://sso.example.gov.cn", Store: struct{ storage.Store }{}, Keys: k,
		Sessions: session.New(nil, session.Config{}), Sealer: testMK(), Links: testMK().MAC("saml-links"),
		LoginURL: func(id string) string { return "/login?id=" + id }, NameIDKey: make([]byte, 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSigningKeysSeam: with a signing key that is not idp/keys' (a
// crypto.Signer that never hands out its private key), what the identity
// provider signs goes through that key and verifies with the certificate it
// publishes; no private key is given to crewjam/saml, which therefore
// cannot decrypt (a KMS key only signs).
func TestSigningKeysSeam(t *testing.T) {
	k := newRemoteKeys(t)
	idp, err := newKeysProvider(t, k).identityProvider()
	if err != nil {
		t.Fatalf("identityProvider: %v", err)
	}
	if idp.Key != nil || idp.Signer != crypto.Signer(k.box) || !idp.Certificate.Equal(k.cert) {
		t.Errorf("IdentityProvider Key %T, Signer %T, Certificate %v; want no key, the remote signer and its certificate",
			idp.Key, idp.Signer, idp.Certificate.Subject)
	}
	el, err := idp.SignedMetadata()
	if err != nil {
		t.Fatalf("SignedMetadata: %v", err)
	}
	if n := k.box.signs.Load(); n != 1 {
		t.Errorf("the remote key signed %d times; want 1", n)
	}
	v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: k.Certificates()})
	if _, err := v.Validate(el); err != nil {
		t.Errorf("signed metadata does not verify with the published certificate: %v", err)
	}
}

// TestSigningKeysLocal: with idp/keys' Manager the identity provider signs
// through the key's crypto.Signer and keeps the RSA private key as
// crewjam/saml's Key, with which it decrypts what service providers
// encrypt to its certificate (EncryptedID in a LogoutRequest).
func TestSigningKeysLocal(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{DSN: t.TempDir() + "/cardsso.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := keys.NewManager(db, testMK(), keys.ManagerConfig{Use: storage.KeyUseSAML, Algorithm: keys.RS256, CertificateName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	idp, err := newKeysProvider(t, m).identityProvider()
	if err != nil {
		t.Fatalf("identityProvider: %v", err)
	}
	if _, ok := idp.Key.(*rsa.PrivateKey); !ok || idp.Signer == nil {
		t.Errorf("IdentityProvider Key %T, Signer %T; want the RSA private key and its signer", idp.Key, idp.Signer)
	}
	el, err := idp.SignedMetadata()
	if err != nil {
		t.Fatalf("SignedMetadata: %v", err)
	}
	v := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: m.Certificates()})
	if _, err := v.Validate(el); err != nil {
		t.Errorf("signed metadata does not verify with the published certificates: %v", err)
	}
}
