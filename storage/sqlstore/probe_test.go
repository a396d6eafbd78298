package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// TestProbeWriteFullDatabase: a SQLite database that cannot grow (as on a
// full disk; PRAGMA max_page_count makes it so without root) fails the
// write probe, as it fails a login's writes, and passes again once it can
// grow. Reads keep working throughout, so Ping alone would say ready.
func TestProbeWriteFullDatabase(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlstore.Config{DSN: tempFile(t)})
	if err := s.ProbeWrite(ctx); err != nil {
		t.Fatalf("ProbeWrite on a healthy database: %v", err)
	}
	limit := func(pages string) {
		t.Helper()
		// The writer's connection is the one that writes.
		if err := s.InTx(ctx, func(tx *sqlx.Tx) error {
			_, err := tx.Exec("PRAGMA max_page_count = " + pages)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var pages int
	if err := s.DB().Get(&pages, "PRAGMA page_count"); err != nil {
		t.Fatal(err)
	}
	limit("1") // clamps to the current page count: the file cannot grow
	if !s.LastWriteFault().IsZero() {
		t.Fatalf("a write fault before any write failed")
	}
	big := storage.AuthRequest{ID: "full", ClientID: "c", LoginState: make([]byte, 16<<10),
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	if err := s.CreateAuthRequest(ctx, big); err == nil {
		t.Errorf("a login's write succeeded on the full database")
	}
	if since := time.Since(s.LastWriteFault()); since < 0 || since > time.Minute {
		t.Errorf("LastWriteFault after a disk-full write = %v ago; want just now", since)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping on the full database: %v (reads should still work)", err)
	}
	limit("1073741823")
	if err := s.ProbeWrite(ctx); err != nil {
		t.Errorf("ProbeWrite after the database can grow again: %v", err)
	}
}

// TestProbeWritePostgres: the probe works on PostgreSQL and leaves no row.
func TestProbeWritePostgres(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the PostgreSQL probe is not tried")
		return
	}
	s := open(t, sqlstore.Config{Flavour: "postgres", DSN: storagetest.FreshPostgres(t)})
	for range 3 {
		if err := s.ProbeWrite(context.Background()); err != nil {
			t.Fatalf("ProbeWrite: %v", err)
		}
	}
	var n int
	if err := s.DB().Get(&n, "SELECT count(*) FROM once_keys"); err != nil || n != 0 {
		t.Errorf("once_keys after probes: %d rows, %v; want none", n, err)
	}
}
