package keys

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func newSAMLManager(t testing.TB, store Store, mk *MasterKey, c *clock) *Manager {
	t.Helper()
	m, err := NewManager(store, mk, ManagerConfig{
		Use:             storage.KeyUseSAML,
		Algorithm:       RS256,
		CertificateName: "CardSSO SAML test",
		RotationPeriod:  testPeriod,
		PublishFor:      testPublish,
		Now:             c.Now,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewManager(saml): %v", err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("Init(saml): %v", err)
	}
	return m
}

// ofUse returns the stored keys of one use (empty counts as oidc).
func ofUse(t testing.TB, store Store, use string) []storage.SigningKey {
	t.Helper()
	keys, err := store.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	return slices.DeleteFunc(keys, func(k storage.SigningKey) bool {
		u := k.Use
		if u == "" {
			u = storage.KeyUseOIDC
		}
		return u != use
	})
}

// TestUsesRotateIndependently: an OIDC rotation leaves the SAML keys exactly
// as they were, and the other way round, on one table.
func TestUsesRotateIndependently(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, dbPath(t))
	c := newClock()
	mk := testMasterKey(t)
	oidc := initManager(t, store, mk, c, ES256)
	saml := newSAMLManager(t, store, mk, c)

	oidcKeys, samlKeys := ofUse(t, store, storage.KeyUseOIDC), ofUse(t, store, storage.KeyUseSAML)
	if len(oidcKeys) != 2 || len(samlKeys) != 2 {
		t.Fatalf("after Init: %d oidc and %d saml keys; want 2 and 2 (active and next)", len(oidcKeys), len(samlKeys))
	}
	for _, k := range oidcKeys {
		if k.Use != storage.KeyUseOIDC || k.Algorithm != ES256 || k.Certificate != nil {
			t.Errorf("oidc key %s: use %q alg %s certificate %d bytes; want oidc, ES256, none", k.ID, k.Use, k.Algorithm, len(k.Certificate))
		}
	}
	for _, k := range samlKeys {
		if k.Use != storage.KeyUseSAML || k.Algorithm != RS256 || len(k.Certificate) == 0 {
			t.Errorf("saml key %s: use %q alg %s certificate %d bytes; want saml, RS256, a certificate", k.ID, k.Use, k.Algorithm, len(k.Certificate))
		}
	}

	c.Advance(time.Hour)
	if err := oidc.Rotate(ctx); err != nil {
		t.Fatalf("oidc Rotate: %v", err)
	}
	checkEqualKeys(t, "saml keys after an oidc rotation", ofUse(t, store, storage.KeyUseSAML), samlKeys)
	if got := ofUse(t, store, storage.KeyUseOIDC); len(got) != 3 {
		t.Errorf("oidc keys after rotation: %d; want 3 (retired, active, next)", len(got))
	}

	oidcKeys = ofUse(t, store, storage.KeyUseOIDC)
	c.Advance(time.Hour)
	if err := saml.Rotate(ctx); err != nil {
		t.Fatalf("saml Rotate: %v", err)
	}
	checkEqualKeys(t, "oidc keys after a saml rotation", ofUse(t, store, storage.KeyUseOIDC), oidcKeys)

	// Scheduled rotation and Init of one use do not touch the other either.
	c.Advance(testPeriod)
	if rotated, err := saml.RotateIfDue(ctx); err != nil || !rotated {
		t.Fatalf("saml RotateIfDue = %v, %v; want a rotation", rotated, err)
	}
	checkEqualKeys(t, "oidc keys after a scheduled saml rotation", ofUse(t, store, storage.KeyUseOIDC), oidcKeys)
	samlKeys = ofUse(t, store, storage.KeyUseSAML)
	if err := oidc.Init(ctx); err != nil {
		t.Fatal(err)
	}
	checkEqualKeys(t, "saml keys after oidc Init", ofUse(t, store, storage.KeyUseSAML), samlKeys)

	// Each manager lists and publishes its own keys only.
	list, err := saml.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.Use != storage.KeyUseSAML {
			t.Errorf("saml List has a key of use %q", k.Use)
		}
	}
	for _, jwk := range oidc.PublicJWKS() {
		for _, k := range samlKeys {
			if jwk.KeyID == k.ID {
				t.Errorf("the oidc JWKS publishes saml key %s", k.ID)
			}
		}
	}
}

// TestLegacyKeysAreOIDC: keys stored before uses existed (empty Use) belong
// to the OIDC manager and keep their empty use when rotated.
func TestLegacyKeysAreOIDC(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, dbPath(t))
	c := newClock()
	mk := testMasterKey(t)
	legacy, err := generateSigningKey(ES256, "", certTemplate{}, c.Now(), nil, mk)
	if err != nil {
		t.Fatal(err)
	}
	legacy.State, legacy.CreatedAt, legacy.ActivatedAt = storage.KeyActive, c.Now(), ptr(c.Now())
	if err := store.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{legacy}, nil
	}); err != nil {
		t.Fatal(err)
	}
	saml := newSAMLManager(t, store, mk, c)
	oidc := initManager(t, store, mk, c, ES256)
	if a, _ := oidc.active(); a.ID != legacy.ID {
		t.Errorf("oidc active key = %s; want the legacy key %s", a.ID, legacy.ID)
	}
	if a, _ := saml.active(); a.ID == legacy.ID {
		t.Errorf("the saml manager took the legacy (oidc) key")
	}
	if err := oidc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range ofUse(t, store, storage.KeyUseOIDC) {
		if k.ID == legacy.ID && (k.Use != "" || k.State != storage.KeyRetired) {
			t.Errorf("legacy key after rotation: use %q state %s; want \"\" retired", k.Use, k.State)
		}
	}
}

// TestSAMLCertificates: every node publishes the stored certificate; it
// certifies the key, is self-signed and valid long enough; the active one
// comes first, the next one after it.
func TestSAMLCertificates(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	c := newClock()
	mk := testMasterKey(t)
	a := newSAMLManager(t, openStore(t, path), mk, c)
	b := newSAMLManager(t, openStore(t, path), mk, c) // another node

	ca, cb := a.Certificates(), b.Certificates()
	if len(ca) != 2 {
		t.Fatalf("Certificates() = %d; want 2 (active, next)", len(ca))
	}
	for i := range ca {
		if !ca[i].Equal(cb[i]) {
			t.Errorf("node a and node b publish different certificate #%d", i)
		}
	}
	active, err := a.active()
	if err != nil {
		t.Fatal(err)
	}
	if active.Certificate == nil || !active.Certificate.Equal(ca[0]) {
		t.Fatalf("the active signer's certificate is not the first published")
	}
	if _, ok := active.Key.(*rsa.PrivateKey); !ok {
		t.Fatalf("saml key is %T; want *rsa.PrivateKey", active.Key)
	}
	for i, cert := range ca {
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			t.Errorf("certificate #%d is not self-signed: %v", i, err)
		}
		if cert.NotAfter.Before(c.Now().Add(3 * testPeriod)) {
			t.Errorf("certificate #%d expires %s; want at least three rotation periods", i, cert.NotAfter)
		}
		if !cert.NotBefore.Before(c.Now()) {
			t.Errorf("certificate #%d not valid before %s", i, cert.NotBefore)
		}
		if cert.Subject.CommonName != "CardSSO SAML test" {
			t.Errorf("certificate #%d CN = %q", i, cert.Subject.CommonName)
		}
	}
	// The active certificate verifies what the active key signs.
	digest := sha256.Sum256([]byte("assertion"))
	sig, err := active.Key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca[0].CheckSignature(x509.SHA256WithRSA, []byte("assertion"), sig); err != nil {
		t.Errorf("active certificate does not verify the active key's signature: %v", err)
	}

	// After a rotation the former next certificate signs and comes first.
	next := ca[1]
	c.Advance(time.Hour)
	if err := a.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := b.Certificates()
	if len(got) != 3 || !got[0].Equal(next) || !got[2].Equal(ca[0]) {
		t.Errorf("after rotation the certificates are not [former next, new next, retired]")
	}
}

func TestSAMLCertificateTampered(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, dbPath(t))
	c := newClock()
	mk := testMasterKey(t)
	newSAMLManager(t, store, mk, c)
	// Replace the active key's certificate with the next key's.
	err := store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		var next []byte
		for _, k := range keys {
			if k.State == storage.KeyNext {
				next = k.Certificate
			}
		}
		for i := range keys {
			if keys[i].State == storage.KeyActive {
				keys[i].Certificate = next
			}
		}
		return keys, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := NewManager(store, mk, ManagerConfig{Use: storage.KeyUseSAML, Algorithm: RS256, CertificateName: "x", Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Refresh(ctx); err == nil {
		t.Errorf("Refresh accepted an active key whose certificate is another key's")
	}
}

func TestNewManagerUse(t *testing.T) {
	store := openStore(t, dbPath(t))
	mk := testMasterKey(t)
	if _, err := NewManager(store, mk, ManagerConfig{Use: "tls"}); err == nil {
		t.Errorf("NewManager accepted use %q", "tls")
	}
	m, err := NewManager(store, mk, ManagerConfig{})
	if err != nil || m.Use() != storage.KeyUseOIDC {
		t.Errorf("default use = %q, %v; want oidc", m.Use(), err)
	}
}

func checkEqualKeys(t *testing.T, what string, got, want []storage.SigningKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys; want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		same := g.ID == w.ID && g.State == w.State && g.Use == w.Use && g.Algorithm == w.Algorithm &&
			string(g.PrivateSealed) == string(w.PrivateSealed) && string(g.Certificate) == string(w.Certificate) &&
			g.CreatedAt.Equal(w.CreatedAt) && timeEq(g.ActivatedAt, w.ActivatedAt) && timeEq(g.RetiredAt, w.RetiredAt) && timeEq(g.ExpiresAt, w.ExpiresAt)
		if !same {
			t.Errorf("%s: key #%d = %s %s; want %s %s, unchanged", what, i, g.ID, g.State, w.ID, w.State)
		}
	}
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
