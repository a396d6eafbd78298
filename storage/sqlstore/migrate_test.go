package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrationLock checks the SQLite migration lock: a live lock held by
// another process makes Migrate wait, and a lock whose lease ran out (its
// holder died) is taken over.
func TestMigrationLock(t *testing.T) {
	s, err := Open(t.Context(), Config{DSN: filepath.Join(t.TempDir(), "cardsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	hold := func(expires time.Time) {
		t.Helper()
		if _, err := s.db.Exec(`INSERT INTO cardsso_migration_lock (id, owner, expires_at) VALUES (1, 'other', ?)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
			expires.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}

	hold(time.Now().Add(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := s.Migrate(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while another process holds the lock = %v; want to wait until the deadline", err)
	}

	hold(time.Now().Add(-time.Second))
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate with a lapsed lock: %v", err)
	}
	var n int
	if err := s.db.Get(&n, "SELECT COUNT(*) FROM cardsso_migration_lock"); err != nil || n != 0 {
		t.Errorf("lock rows after Migrate = %d, %v; want 0 (released)", n, err)
	}
}
