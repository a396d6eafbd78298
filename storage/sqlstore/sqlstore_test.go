package sqlstore_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// latestVersion is the number of the newest file in migrations/sqlite.
const latestVersion = 8

func open(t testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func tempFile(t testing.TB) string {
	return filepath.Join(t.TempDir(), "cardsso.db")
}

func TestSQLiteFile(t *testing.T) {
	storagetest.RunTests(t, func(t *testing.T) storage.Store {
		return open(t, sqlstore.Config{DSN: tempFile(t)})
	})
}

func TestSQLiteMemory(t *testing.T) {
	storagetest.RunTests(t, func(t *testing.T) storage.Store {
		return open(t, sqlstore.Config{DSN: ":memory:"})
	})
}

// TestSQLiteNodes runs the tests of several nodes sharing a database on
// stores opened on one file. The PostgreSQL runs are in TestPostgres.
func TestSQLiteNodes(t *testing.T) {
	storagetest.RunNodeTests(t, func(t *testing.T, n int) []storage.Store {
		path := tempFile(t)
		nodes := make([]storage.Store, n)
		for i := range nodes {
			nodes[i] = open(t, sqlstore.Config{DSN: path})
		}
		return nodes
	})
}

// TestOpenTwice opens one file as two Stores, like the CLI next to a running
// server (or two nodes), and checks that each sees the other's writes.
func TestOpenTwice(t *testing.T) {
	ctx := t.Context()
	path := tempFile(t)
	a := open(t, sqlstore.Config{DSN: path})
	b := open(t, sqlstore.Config{DSN: path})

	c := storage.Client{ID: "client-1", Name: "portal", RedirectURIs: []string{"https://portal.example/cb"}}
	if err := a.CreateClient(ctx, c); err != nil {
		t.Fatalf("a.CreateClient: %v", err)
	}
	got, err := b.GetClient(ctx, c.ID)
	if err != nil || got.Name != c.Name {
		t.Fatalf("b.GetClient(%q) = %+v, %v; want the client a created", c.ID, got, err)
	}
	if err := b.CreateClient(ctx, c); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("b.CreateClient(the client a created) = %v; want ErrAlreadyExists", err)
	}
	if err := b.DeleteClient(ctx, c.ID); err != nil {
		t.Fatalf("b.DeleteClient: %v", err)
	}
	if _, err := a.GetClient(ctx, c.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a.GetClient after b deleted it: %v; want ErrNotFound", err)
	}

	// A code raced across the two stores is still claimed once.
	r := storage.AuthRequest{ID: "req-1", CodeHash: []byte("code"), ExpiresAt: time.Now().Add(time.Hour)}
	if err := a.CreateAuthRequest(ctx, r); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	stores := []*sqlstore.Store{a, b}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = stores[i%2].ClaimAuthCode(ctx, r.CodeHash, time.Now())
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("ClaimAuthCode: %v; want nil or ErrAlreadyUsed", err)
		}
	}
	if wins != 1 {
		t.Errorf("ClaimAuthCode raced on two stores: %d won; want 1", wins)
	}

	// Key rotation is compare-and-swap across stores too.
	for i := range 8 {
		wg.Go(func() {
			err := stores[i%2].UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
				if len(keys) >= 2 {
					return keys, nil
				}
				return append(keys, storage.SigningKey{ID: fmt.Sprintf("kid-%d", i), State: storage.KeyNext}), nil
			})
			if err != nil {
				t.Errorf("UpdateSigningKeys: %v", err)
			}
		})
	}
	wg.Wait()
	keys, err := b.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Errorf("ListSigningKeys after a race on two stores = %d keys, %v; want 2", len(keys), err)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := t.Context()
	path := tempFile(t)
	s := open(t, sqlstore.Config{DSN: path})
	for i := range 3 {
		v, err := s.MigrationVersion(ctx)
		if err != nil || v != latestVersion {
			t.Fatalf("MigrationVersion (run %d) = %d, %v; want %d", i, v, err, latestVersion)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate (run %d): %v", i, err)
		}
	}
	if err := s.CreateClient(ctx, storage.Client{ID: "kept"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	// Open runs the migrations again: nothing to do, nothing lost.
	s2 := open(t, sqlstore.Config{DSN: path})
	if v, err := s2.MigrationVersion(ctx); err != nil || v != latestVersion {
		t.Errorf("MigrationVersion after reopening = %d, %v; want %d", v, err, latestVersion)
	}
	if _, err := s2.GetClient(ctx, "kept"); err != nil {
		t.Errorf("GetClient after reopening: %v", err)
	}
}

// TestOpenConcurrently starts several stores on one new file at once, like
// several processes starting together: every one migrates or waits for the
// one that does, and each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	path := tempFile(t)
	const n = 8
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = sqlstore.Open(t.Context(), sqlstore.Config{DSN: path})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		if v, err := stores[i].MigrationVersion(t.Context()); err != nil || v != latestVersion {
			t.Errorf("Open #%d: MigrationVersion = %d, %v; want %d", i, v, err, latestVersion)
		}
		if err := stores[i].Close(); err != nil {
			t.Errorf("Close #%d: %v", i, err)
		}
	}
}

// TestOneConnection runs a file store on a pool of one connection: nothing
// may hold a connection while asking for another.
func TestOneConnection(t *testing.T) {
	storagetest.RunTests(t, func(t *testing.T) storage.Store {
		return open(t, sqlstore.Config{DSN: tempFile(t), MaxOpenConns: 1})
	})
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	ctx := t.Context()
	a := open(t, sqlstore.Config{DSN: ":memory:"})
	b := open(t, sqlstore.Config{DSN: ":memory:"})
	if err := a.CreateClient(ctx, storage.Client{ID: "only-in-a"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if _, err := b.GetClient(ctx, "only-in-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b.GetClient(a client of a) = %v; want ErrNotFound", err)
	}
	if _, err := a.GetClient(ctx, "only-in-a"); err != nil {
		t.Errorf("a.GetClient: %v", err)
	}
}

// TestOddPath checks that characters with a meaning in a URI stay part of the
// file name.
func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir %41 #1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "card?sso#.db")
	s := open(t, sqlstore.Config{DSN: path})
	if err := s.CreateClient(t.Context(), storage.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, cfg := range []sqlstore.Config{
		{Flavour: "oracle", DSN: ":memory:"},
		{Flavour: "postgres", DSN: ""},
		{Flavour: "postgres", DSN: "postgres://user:secret@%zz/db"},
		{Flavour: "postgres", DSN: "postgres://127.0.0.1:1/cardsso?connect_timeout=5"}, // nothing listens
		{Flavour: "postgres", DSN: "postgres://127.0.0.1:1/cardsso", ConnMaxIdleTime: -1},
		{DSN: ""},
		{DSN: "nul\x00byte"},
		{DSN: filepath.Join(t.TempDir(), "no", "such", "dir", "cardsso.db")},
		{DSN: tempFile(t), MaxIdleConns: -1},
	} {
		s, err := sqlstore.Open(t.Context(), cfg)
		if err == nil {
			s.Close()
			t.Errorf("Open(%+v) = nil error; want an error", cfg)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%+v) = %v; the error shows the password", cfg, err)
		}
	}
}

func TestEmptyKeysRefused(t *testing.T) {
	ctx := t.Context()
	s := open(t, sqlstore.Config{DSN: ":memory:"})
	for name, err := range map[string]error{
		"CreateAccount":      s.CreateAccount(ctx, storage.Account{}),
		"CreateClient":       s.CreateClient(ctx, storage.Client{}),
		"CreateAuthRequest":  s.CreateAuthRequest(ctx, storage.AuthRequest{ExpiresAt: time.Now().Add(time.Hour)}),
		"CreateAccessToken":  s.CreateAccessToken(ctx, storage.AccessToken{ExpiresAt: time.Now().Add(time.Hour)}),
		"CreateRefreshToken": s.CreateRefreshToken(ctx, storage.RefreshToken{ID: "rt", ExpiresAt: time.Now().Add(time.Hour)}),
		"CreateSession":      s.CreateSession(ctx, storage.Session{ExpiresAt: time.Now().Add(time.Hour)}),
		"UpdateSigningKeys": s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
			return []storage.SigningKey{{}}, nil
		}),
	} {
		if err == nil || errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("%s(empty key) = %v; want a plain error", name, err)
		}
	}
	// Nothing matches an empty key.
	if err := s.DeleteSession(ctx, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf(`DeleteSession("") = %v; want ErrNotFound`, err)
	}
	if err := s.RevokeGrant(ctx, ""); err != nil {
		t.Errorf(`RevokeGrant("") = %v; want nil`, err)
	}
}

// TestNow checks that expiry follows Config.Now.
func TestNow(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := open(t, sqlstore.Config{DSN: ":memory:", Now: clock})
	sess := storage.Session{ID: "s", ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := s.GetSession(ctx, sess.ID); err != nil {
		t.Fatalf("GetSession before expiry: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := s.GetSession(ctx, sess.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession at ExpiresAt = %v; want ErrNotFound", err)
	}
}

// TestZeroTimes checks that zero times round-trip as zero, and that a zero
// ExpiresAt has expired.
func TestZeroTimes(t *testing.T) {
	ctx := t.Context()
	s := open(t, sqlstore.Config{DSN: ":memory:"})
	if err := s.CreateClient(ctx, storage.Client{ID: "c"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	c, err := s.GetClient(ctx, "c")
	if err != nil || !c.CreatedAt.IsZero() || !c.UpdatedAt.IsZero() {
		t.Errorf("GetClient = %+v, %v; want zero times", c, err)
	}
	if err := s.CreateSession(ctx, storage.Session{ID: "s"}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if _, err := s.GetSession(ctx, "s"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetSession(zero ExpiresAt) = %v; want ErrNotFound", err)
	}
}

// Benchmarks of the hot paths, on a file as in production.

func BenchmarkClaimAuthCode(b *testing.B) {
	ctx := b.Context()
	s := open(b, sqlstore.Config{DSN: tempFile(b)})
	expires := time.Now().Add(time.Hour)
	for i := range b.N {
		r := storage.AuthRequest{ID: fmt.Sprintf("req-%d", i), CodeHash: fmt.Appendf(nil, "code-%d", i),
			Scopes: []string{"openid"}, ExpiresAt: expires}
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.ClaimAuthCode(ctx, fmt.Appendf(nil, "code-%d", i), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetSession(b *testing.B) {
	ctx := b.Context()
	s := open(b, sqlstore.Config{DSN: tempFile(b)})
	sess := storage.Session{ID: "0123456789abcdef", AccountID: "a", AMR: []string{"pwd"},
		Clients: []string{"c1", "c2"}, ExpiresAt: time.Now().Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetSession(ctx, sess.ID); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetClient(b *testing.B) {
	ctx := b.Context()
	s := open(b, sqlstore.Config{DSN: tempFile(b)})
	c := storage.Client{ID: "portal", RedirectURIs: []string{"https://portal.example/cb"}, SecretHash: []byte("h")}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.GetClient(ctx, c.ID); err != nil {
			b.Fatal(err)
		}
	}
}
