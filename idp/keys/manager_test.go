package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// clock is a settable clock shared by the managers of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore opens (and migrates) the SQLite database at path; every call is
// another connection pool, like another node.
func openStore(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: path})
	if err != nil {
		t.Fatalf("sqlstore.Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "cardsso.db") }

const (
	testPeriod  = 30 * 24 * time.Hour
	testPublish = 2 * time.Hour
)

func newManager(t testing.TB, store Store, mk *MasterKey, c *clock, alg string) *Manager {
	t.Helper()
	m, err := NewManager(store, mk, ManagerConfig{
		Algorithm:      alg,
		RotationPeriod: testPeriod,
		PublishFor:     testPublish,
		Now:            c.Now,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	return m
}

func initManager(t testing.TB, store Store, mk *MasterKey, c *clock, alg string) *Manager {
	t.Helper()
	m := newManager(t, store, mk, c, alg)
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	return m
}

// byState lists the stored keys by state.
func byState(t testing.TB, store Store) map[storage.KeyState][]storage.SigningKey {
	t.Helper()
	keys, err := store.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatalf("ListSigningKeys: %v", err)
	}
	out := map[storage.KeyState][]storage.SigningKey{}
	for _, k := range keys {
		out[k.State] = append(out[k.State], k)
	}
	return out
}

func kids(jwks []jose.JSONWebKey) []string {
	var out []string
	for _, k := range jwks {
		out = append(out, k.KeyID)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sign makes a compact JWS with the manager's active key as
// idp/internal/oidc does: go-jose signs through the jose.OpaqueSigner that
// Active hands out, with the kid and alg of its public JWK.
func sign(t testing.TB, m *Manager, payload string) string {
	t.Helper()
	a, err := m.Active()
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	pub := a.Public()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(pub.Algorithm), Key: a},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), pub.KeyID))
	if err != nil {
		t.Fatalf("jose.NewSigner: %v", err)
	}
	jws, err := signer.Sign([]byte(payload))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("CompactSerialize: %v", err)
	}
	return tok
}

// verify checks a compact JWS against a JWKS document as a relying party
// does: pick the key by kid, check alg, verify.
func verify(doc []byte, token string) (string, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		return "", err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return "", err
	}
	kid := jws.Signatures[0].Header.KeyID
	found := set.Key(kid)
	if len(found) != 1 {
		return "", errors.New("kid " + kid + " not in the JWKS")
	}
	if found[0].Algorithm != jws.Signatures[0].Header.Algorithm {
		return "", errors.New("alg mismatch")
	}
	out, err := jws.Verify(found[0])
	return string(out), err
}

func TestNewManagerConfig(t *testing.T) {
	store := openStore(t, dbPath(t))
	mk := testMasterKey(t)
	for _, alg := range []string{"HS256", "none", "es256", "PS256", "ES384"} {
		_, err := NewManager(store, mk, ManagerConfig{Algorithm: alg})
		if !errors.Is(err, ErrUnsupportedAlgorithm) || !strings.Contains(err.Error(), `"`+alg+`"`) {
			t.Errorf("NewManager(alg %q) = %v; want ErrUnsupportedAlgorithm naming it", alg, err)
		}
	}
	if _, err := NewManager(store, mk, ManagerConfig{RotationPeriod: -time.Hour}); err == nil {
		t.Errorf("NewManager(negative period): no error")
	}
	if _, err := NewManager(store, mk, ManagerConfig{PublishFor: -time.Hour}); err == nil {
		t.Errorf("NewManager(negative PublishFor): no error")
	}
	if _, err := NewManager(nil, mk, ManagerConfig{}); err == nil {
		t.Errorf("NewManager(nil store): no error")
	}
	if _, err := NewManager(store, &MasterKey{}, ManagerConfig{}); err == nil {
		t.Errorf("NewManager(zero master key): no error")
	}
	m, err := NewManager(store, mk, ManagerConfig{})
	if err != nil {
		t.Fatalf("NewManager(defaults): %v", err)
	}
	if m.alg != ES256 || m.period != DefaultRotationPeriod || m.keep != DefaultPublishFor {
		t.Errorf("defaults = %s, %s, %s; want ES256, %s, %s", m.alg, m.period, m.keep, DefaultRotationPeriod, DefaultPublishFor)
	}
	if _, err := m.active(); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("Active before Init = %v; want ErrNoActiveKey", err)
	}
	if got := string(m.JWKSJSON()); got != `{"keys":[]}` {
		t.Errorf("JWKSJSON before Init = %s; want {\"keys\":[]}", got)
	}
}

func TestInit(t *testing.T) {
	ctx := context.Background()
	path := dbPath(t)
	c := newClock()
	mk := testMasterKey(t)
	store := openStore(t, path)
	m := initManager(t, store, mk, c, ES256)

	set := byState(t, store)
	if len(set[storage.KeyActive]) != 1 || len(set[storage.KeyNext]) != 1 || len(set[storage.KeyRetired]) != 0 {
		t.Fatalf("after Init: %d active, %d next, %d retired; want 1, 1, 0",
			len(set[storage.KeyActive]), len(set[storage.KeyNext]), len(set[storage.KeyRetired]))
	}
	active, next := set[storage.KeyActive][0], set[storage.KeyNext][0]
	if active.ActivatedAt == nil || !active.ActivatedAt.Equal(c.Now()) {
		t.Errorf("active ActivatedAt = %v; want %v", active.ActivatedAt, c.Now())
	}
	if next.ActivatedAt != nil {
		t.Errorf("next ActivatedAt = %v; want nil", next.ActivatedAt)
	}
	for _, k := range []storage.SigningKey{active, next} {
		if k.Algorithm != ES256 || len(k.ID) != 43 {
			t.Errorf("key %q alg %q; want ES256 and a 43-character thumbprint kid", k.ID, k.Algorithm)
		}
		if bytes.Contains(k.PublicJWK, []byte(`"d"`)) {
			t.Errorf("stored public JWK of %s has a private part", k.ID)
		}
	}
	s, err := m.active()
	if err != nil || s.ID != active.ID || s.Algorithm != jose.ES256 {
		t.Fatalf("Active() = %+v, %v; want kid %s ES256", s, err, active.ID)
	}
	if got := kids(m.PublicJWKS()); len(got) != 2 || got[0] != active.ID || got[1] != next.ID {
		t.Errorf("PublicJWKS kids = %v; want [%s %s]", got, active.ID, next.ID)
	}
	for _, k := range m.PublicJWKS() {
		if k.Use != "sig" || k.Algorithm != ES256 || !k.IsPublic() {
			t.Errorf("JWK %s: use %q alg %q public %v; want sig, ES256, true", k.KeyID, k.Use, k.Algorithm, k.IsPublic())
		}
	}

	// Init again, and another node on the same database: nothing changes.
	if err := m.Init(ctx); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	other := initManager(t, openStore(t, path), mk, c, ES256)
	s2, err := other.active()
	if err != nil || s2.ID != active.ID {
		t.Errorf("other node's Active() = %v, %v; want kid %s", s2, err, active.ID)
	}
	if !bytes.Equal(other.JWKSJSON(), m.JWKSJSON()) || other.ETag() != m.ETag() {
		t.Errorf("other node's JWKS differs:\n%s\n%s", other.JWKSJSON(), m.JWKSJSON())
	}
	if after := byState(t, store); len(after[storage.KeyActive])+len(after[storage.KeyNext])+len(after[storage.KeyRetired]) != 2 {
		t.Errorf("second Init changed the set: %v", after)
	}

	infos, err := m.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(infos) != 2 || infos[0].ID != active.ID || infos[0].State != storage.KeyActive ||
		infos[1].ID != next.ID || infos[1].State != storage.KeyNext || infos[0].ActivatedAt.IsZero() || !infos[1].ActivatedAt.IsZero() {
		t.Errorf("List = %+v; want the active key then the next key", infos)
	}
}

// TestInitConcurrent: nodes starting together on an empty database end with
// one active key.
func TestInitConcurrent(t *testing.T) {
	path := dbPath(t)
	c := newClock()
	mk := testMasterKey(t)
	const n = 8
	managers := make([]*Manager, n)
	for i := range managers {
		managers[i] = newManager(t, openStore(t, path), mk, c, ES256)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range managers {
		wg.Go(func() { errs[i] = m.Init(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Init #%d: %v", i, err)
		}
	}
	set := byState(t, managers[0].store)
	if len(set[storage.KeyActive]) != 1 || len(set[storage.KeyNext]) != 1 || len(set[storage.KeyRetired]) != 0 {
		t.Fatalf("after concurrent Init: %d active, %d next, %d retired; want 1, 1, 0",
			len(set[storage.KeyActive]), len(set[storage.KeyNext]), len(set[storage.KeyRetired]))
	}
	for i, m := range managers {
		if s, _ := m.active(); s == nil || s.ID != set[storage.KeyActive][0].ID {
			t.Errorf("manager %d signs with %v; want %s", i, s, set[storage.KeyActive][0].ID)
		}
	}
}

// TestRotate follows one set of keys through two rotations: states, times,
// JWKS, ETag and the tokens of each key. It is longer than most functions
// because the steps depend on one another and read best in order.
func TestRotate(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	first := byState(t, store)
	a0, n0 := first[storage.KeyActive][0], first[storage.KeyNext][0]
	etag0 := m.ETag()
	tok0 := sign(t, m, `{"sub":"a"}`)

	c.Advance(time.Hour)
	t1 := c.Now()
	if err := m.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	set := byState(t, store)
	if len(set[storage.KeyActive]) != 1 || set[storage.KeyActive][0].ID != n0.ID {
		t.Fatalf("after Rotate the active key is %v; want the former next key %s", set[storage.KeyActive], n0.ID)
	}
	if got := set[storage.KeyActive][0].ActivatedAt; got == nil || !got.Equal(t1) {
		t.Errorf("new active ActivatedAt = %v; want %v", got, t1)
	}
	if len(set[storage.KeyRetired]) != 1 || set[storage.KeyRetired][0].ID != a0.ID {
		t.Fatalf("after Rotate retired = %v; want the former active key %s", set[storage.KeyRetired], a0.ID)
	}
	r := set[storage.KeyRetired][0]
	if r.RetiredAt == nil || !r.RetiredAt.Equal(t1) || r.ExpiresAt == nil || !r.ExpiresAt.Equal(t1.Add(testPublish)) {
		t.Errorf("retired key RetiredAt = %v, ExpiresAt = %v; want %v, %v", r.RetiredAt, r.ExpiresAt, t1, t1.Add(testPublish))
	}
	if len(set[storage.KeyNext]) != 1 || set[storage.KeyNext][0].ID == a0.ID || set[storage.KeyNext][0].ID == n0.ID {
		t.Fatalf("after Rotate next = %v; want one new key", set[storage.KeyNext])
	}
	n1 := set[storage.KeyNext][0]
	if s, _ := m.active(); s.ID != n0.ID {
		t.Errorf("Active() after Rotate = %s; want %s", s.ID, n0.ID)
	}
	if got := kids(m.PublicJWKS()); len(got) != 3 || got[0] != n0.ID || got[1] != n1.ID || got[2] != a0.ID {
		t.Errorf("PublicJWKS after Rotate = %v; want [active %s, next %s, retired %s]", got, n0.ID, n1.ID, a0.ID)
	}
	if m.ETag() == etag0 {
		t.Errorf("ETag unchanged by Rotate")
	}
	// A token of the retired key still verifies; new tokens use the new key.
	if _, err := verify(m.JWKSJSON(), tok0); err != nil {
		t.Errorf("token of the retired key does not verify after Rotate: %v", err)
	}
	if _, err := verify(m.JWKSJSON(), sign(t, m, `{"sub":"b"}`)); err != nil {
		t.Errorf("token of the new key does not verify: %v", err)
	}

	// Until ExpiresAt the retired key is published; after it, Refresh drops
	// it from the JWKS, though it stays stored until the next rotation.
	c.Advance(testPublish - time.Second)
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !contains(kids(m.PublicJWKS()), a0.ID) {
		t.Errorf("retired key unpublished before ExpiresAt")
	}
	c.Advance(time.Second)
	etag := m.ETag()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if contains(kids(m.PublicJWKS()), a0.ID) {
		t.Errorf("retired key still published at ExpiresAt")
	}
	if m.ETag() == etag {
		t.Errorf("ETag unchanged when the retired key left the JWKS")
	}
	if _, err := verify(m.JWKSJSON(), tok0); err == nil {
		t.Errorf("token of an expired key still verifies")
	}
	if len(byState(t, store)[storage.KeyRetired]) != 1 {
		t.Errorf("Refresh deleted the expired key; only rotation writes")
	}

	c.Advance(time.Hour)
	if err := m.Rotate(ctx); err != nil {
		t.Fatalf("second Rotate: %v", err)
	}
	set = byState(t, store)
	if len(set[storage.KeyRetired]) != 1 || set[storage.KeyRetired][0].ID != n0.ID {
		t.Errorf("after the second Rotate retired = %v; want only %s (%s dropped)", set[storage.KeyRetired], n0.ID, a0.ID)
	}
	if set[storage.KeyActive][0].ID != n1.ID {
		t.Errorf("after the second Rotate active = %s; want %s", set[storage.KeyActive][0].ID, n1.ID)
	}
}

// TestRotateWithoutNext: with no next key Rotate activates a fresh one.
func TestRotateWithoutNext(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	a0 := byState(t, store)[storage.KeyActive][0]
	err := store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		var out []storage.SigningKey
		for _, k := range keys {
			if k.State != storage.KeyNext {
				out = append(out, k)
			}
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Rotate(ctx); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	set := byState(t, store)
	if len(set[storage.KeyActive]) != 1 || set[storage.KeyActive][0].ID == a0.ID ||
		len(set[storage.KeyNext]) != 1 || len(set[storage.KeyRetired]) != 1 {
		t.Errorf("after Rotate without next: %v; want a fresh active, a next and %s retired", set, a0.ID)
	}
}

func TestRotateIfDue(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	etag := m.ETag()

	c.Advance(testPeriod - time.Millisecond)
	if rotated, err := m.RotateIfDue(ctx); rotated || err != nil {
		t.Fatalf("RotateIfDue before the period = %v, %v; want false, nil", rotated, err)
	}
	if m.ETag() != etag || len(byState(t, store)[storage.KeyRetired]) != 0 {
		t.Errorf("RotateIfDue before the period changed something")
	}
	c.Advance(time.Millisecond)
	if rotated, err := m.RotateIfDue(ctx); !rotated || err != nil {
		t.Fatalf("RotateIfDue at the period = %v, %v; want true, nil", rotated, err)
	}
	if rotated, err := m.RotateIfDue(ctx); rotated || err != nil {
		t.Fatalf("RotateIfDue right after a rotation = %v, %v; want false, nil", rotated, err)
	}
}

// TestRotateIfDueConcurrent: eight nodes find the key due at once; exactly one
// rotates.
func TestRotateIfDueConcurrent(t *testing.T) {
	path := dbPath(t)
	c := newClock()
	mk := testMasterKey(t)
	const n = 8
	managers := make([]*Manager, n)
	for i := range managers {
		managers[i] = initManager(t, openStore(t, path), mk, c, ES256)
	}
	before := byState(t, managers[0].store)
	c.Advance(testPeriod + time.Minute)

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		rotated [n]bool
		errs    [n]error
	)
	for i, m := range managers {
		wg.Go(func() {
			<-start
			rotated[i], errs[i] = m.RotateIfDue(context.Background())
		})
	}
	close(start)
	wg.Wait()
	count := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("RotateIfDue #%d: %v", i, errs[i])
		}
		if rotated[i] {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d managers rotated; want exactly 1", count)
	}
	set := byState(t, managers[0].store)
	if len(set[storage.KeyActive]) != 1 || len(set[storage.KeyNext]) != 1 || len(set[storage.KeyRetired]) != 1 {
		t.Fatalf("after concurrent RotateIfDue: %d active, %d next, %d retired; want 1, 1, 1",
			len(set[storage.KeyActive]), len(set[storage.KeyNext]), len(set[storage.KeyRetired]))
	}
	if set[storage.KeyActive][0].ID != before[storage.KeyNext][0].ID || set[storage.KeyRetired][0].ID != before[storage.KeyActive][0].ID {
		t.Errorf("rotation did not move next → active → retired")
	}
	for i, m := range managers {
		if err := m.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s, _ := m.active(); s.ID != set[storage.KeyActive][0].ID {
			t.Errorf("manager %d signs with %s after Refresh; want %s", i, s.ID, set[storage.KeyActive][0].ID)
		}
	}
}

func TestAlgorithms(t *testing.T) {
	for _, alg := range []string{ES256, RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			store := openStore(t, dbPath(t))
			m := initManager(t, store, testMasterKey(t), c, alg)
			s, err := m.active()
			if err != nil || string(s.Algorithm) != alg {
				t.Fatalf("Active() = %+v, %v; want %s", s, err, alg)
			}
			tok := sign(t, m, `{"alg":"`+alg+`"}`)
			if got, err := verify(m.JWKSJSON(), tok); err != nil || got != `{"alg":"`+alg+`"}` {
				t.Fatalf("verify = %q, %v", got, err)
			}
			if err := m.Rotate(ctx); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if _, err := verify(m.JWKSJSON(), tok); err != nil {
				t.Errorf("old token after Rotate: %v", err)
			}
			if _, err := verify(m.JWKSJSON(), sign(t, m, "{}")); err != nil {
				t.Errorf("new token after Rotate: %v", err)
			}
			// The key parsed from storage by another node signs too.
			other := initManager(t, store, testMasterKey(t), c, alg)
			if _, err := verify(m.JWKSJSON(), sign(t, other, "{}")); err != nil {
				t.Errorf("token of another node: %v", err)
			}
		})
	}
}

// TestAlgorithmChange: Init with another algorithm rotates to it at once.
func TestAlgorithmChange(t *testing.T) {
	c := newClock()
	store := openStore(t, dbPath(t))
	mk := testMasterKey(t)
	m := initManager(t, store, mk, c, ES256)
	tok := sign(t, m, "{}")
	old, _ := m.active()

	c.Advance(time.Minute)
	m2 := initManager(t, store, mk, c, EdDSA)
	s, _ := m2.active()
	if s.Algorithm != jose.EdDSA {
		t.Fatalf("after Init with EdDSA the active key is %s", s.Algorithm)
	}
	set := byState(t, store)
	if len(set[storage.KeyRetired]) != 1 || set[storage.KeyRetired][0].ID != old.ID {
		t.Errorf("retired = %v; want the ES256 key %s", set[storage.KeyRetired], old.ID)
	}
	if len(set[storage.KeyNext]) != 1 || set[storage.KeyNext][0].Algorithm != EdDSA {
		t.Errorf("next = %v; want one EdDSA key (the ES256 next key dropped)", set[storage.KeyNext])
	}
	if _, err := verify(m2.JWKSJSON(), tok); err != nil {
		t.Errorf("ES256 token after the change: %v", err)
	}
}

func TestWrongMasterKey(t *testing.T) {
	c := newClock()
	store := openStore(t, dbPath(t))
	initManager(t, store, testMasterKey(t), c, ES256)
	m := newManager(t, store, randomMasterKey(t), c, ES256)
	err := m.Init(context.Background())
	if !errors.Is(err, ErrSealBroken) {
		t.Fatalf("Init under another master key = %v; want ErrSealBroken", err)
	}
	if _, err := m.active(); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("Active after a failed Init = %v; want ErrNoActiveKey", err)
	}
}

// TestTamperedKey: a stored key that fails to unseal is an error, and the
// node keeps signing with what it had.
func TestTamperedKey(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	before, _ := m.active()

	// Rotate behind the node's back, then break the new active key.
	other := initManager(t, store, testMasterKey(t), c, ES256)
	if err := other.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	err := store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		for i := range keys {
			if keys[i].State == storage.KeyActive {
				keys[i].PrivateSealed = bytes.Clone(keys[i].PrivateSealed)
				keys[i].PrivateSealed[len(keys[i].PrivateSealed)-1] ^= 1
			}
		}
		return keys, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx); !errors.Is(err, ErrSealBroken) {
		t.Errorf("Refresh with a tampered active key = %v; want ErrSealBroken", err)
	} else if strings.Contains(err.Error(), "BEGIN") || len(err.Error()) > 300 {
		t.Errorf("error looks like it carries key material: %q", err)
	}
	if s, err := m.active(); err != nil || s.ID != before.ID {
		t.Errorf("Active after a failed Refresh = %v, %v; want the previous key %s", s, err, before.ID)
	}
}

// TestRefreshCaches: an unchanged set is not rebuilt.
func TestRefreshCaches(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	s1, _ := m.active()
	doc1 := m.JWKSJSON()
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s2, _ := m.active()
	doc2 := m.JWKSJSON()
	if s1 != s2 || &doc1[0] != &doc2[0] {
		t.Errorf("Refresh of an unchanged set rebuilt the signer or the JWKS")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc1, &set); err != nil || len(set.Keys) != 2 {
		t.Errorf("JWKSJSON = %s (%v); want a JWK Set of 2 keys", doc1, err)
	}
	if etag := m.ETag(); len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag() = %q; want a quoted entity tag", etag)
	}
	// PublicJWKS hands out a copy.
	jwks := m.PublicJWKS()
	jwks[0].KeyID = "changed"
	if m.PublicJWKS()[0].KeyID == "changed" {
		t.Errorf("PublicJWKS returned the manager's own slice")
	}
}

// TestRun: the background loop picks up a rotation due by the clock.
func TestRun(t *testing.T) {
	c := newClock()
	store := openStore(t, dbPath(t))
	m := initManager(t, store, testMasterKey(t), c, ES256)
	first, _ := m.active()
	c.Advance(testPeriod)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, _ := m.active(); s.ID != first.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not rotate a due key within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := len(byState(t, store)[storage.KeyRetired]); n != 1 {
		t.Errorf("after Run: %d retired keys; want 1 (one rotation)", n)
	}
}

func BenchmarkActive(b *testing.B) {
	m := initManager(b, openStore(b, dbPath(b)), testMasterKey(b), newClock(), ES256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Active(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSignES256 signs a typical 700-byte ID token with the active key:
// go-jose with the private key (as before the key seam) and through the
// jose.OpaqueSigner Active hands out (what idp/internal/oidc does).
func BenchmarkSignES256(b *testing.B) {
	m := initManager(b, openStore(b, dbPath(b)), testMasterKey(b), newClock(), ES256)
	payload := []byte(`{"iss":"https://sso.example.gov.cn","sub":"` + strings.Repeat("s", 36) + `","aud":["portal"],` +
		`"exp":1767225600,"iat":1767224700,"auth_time":1767224690,"nonce":"` + strings.Repeat("n", 43) + `",` +
		`"acr":"urn:cardsso:acr:card","amr":["pwd","card"],"name":"` + strings.Repeat("x", 400) + `"}`)
	s, err := m.active()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		key  any
	}{{"private-key", s.Key}, {"opaque", s}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.Algorithm, Key: bc.key},
					(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), s.ID))
				if err != nil {
					b.Fatal(err)
				}
				jws, err := signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := jws.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// staleStore is the real store whose ListSigningKeys answers with an old
// snapshot, as a node that read just before another node rotated.
type staleStore struct {
	*sqlstore.Store
	snapshot []storage.SigningKey
}

func (s staleStore) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	return s.snapshot, nil
}

// TestRotateIfDueStaleRead: the decision is taken again inside the update,
// so a node whose read predates another node's rotation does not rotate a
// second time.
func TestRotateIfDueStaleRead(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	mk := testMasterKey(t)
	winner := initManager(t, store, mk, c, ES256)
	c.Advance(testPeriod)
	snapshot, err := store.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rotated, err := winner.RotateIfDue(ctx); !rotated || err != nil {
		t.Fatalf("first RotateIfDue = %v, %v; want true, nil", rotated, err)
	}
	after, _ := store.ListSigningKeys(ctx)

	loser := newManager(t, staleStore{store, snapshot}, mk, c, ES256)
	if rotated, err := loser.RotateIfDue(ctx); rotated || err != nil {
		t.Fatalf("RotateIfDue after a stale read = %v, %v; want false, nil", rotated, err)
	}
	if now, _ := store.ListSigningKeys(ctx); fingerprint(now) != fingerprint(after) {
		t.Errorf("RotateIfDue after a stale read wrote to the store")
	}
}

// TestInitAddsNext: an active key without a next key gets one, and keeps
// signing.
func TestInitAddsNext(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	store := openStore(t, dbPath(t))
	mk := testMasterKey(t)
	m := initManager(t, store, mk, c, ES256)
	a0, _ := m.active()
	err := store.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		var out []storage.SigningKey
		for _, k := range keys {
			if k.State == storage.KeyActive {
				out = append(out, k)
			}
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	m2 := initManager(t, store, mk, c, ES256)
	set := byState(t, store)
	if len(set[storage.KeyActive]) != 1 || set[storage.KeyActive][0].ID != a0.ID ||
		len(set[storage.KeyNext]) != 1 || len(set[storage.KeyRetired]) != 0 {
		t.Errorf("after Init without a next key: %v; want %s still active and a new next key", set, a0.ID)
	}
	if got := len(m2.PublicJWKS()); got != 2 {
		t.Errorf("PublicJWKS has %d keys; want 2", got)
	}
}
