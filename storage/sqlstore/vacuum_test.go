package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// TestExpiredRowsShrinkTheFile: a new SQLite database uses incremental
// auto-vacuum, and collecting expired rows gives their pages back, so the
// file does not keep its high-water mark.
func TestExpiredRowsShrinkTheFile(t *testing.T) {
	ctx := context.Background()
	path := tempFile(t)
	s := open(t, sqlstore.Config{DSN: path})
	var mode int
	if err := s.DB().Get(&mode, "PRAGMA auto_vacuum"); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d, %v; want 2 (incremental)", mode, err)
	}
	pages := func() (total, free int) {
		t.Helper()
		if err := s.DB().Get(&total, "PRAGMA page_count"); err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Get(&free, "PRAGMA freelist_count"); err != nil {
			t.Fatal(err)
		}
		return total, free
	}
	before, _ := pages()
	now := time.Now()
	for i := range 2000 {
		r := storage.AuthRequest{ID: fmt.Sprintf("r%05d", i), ClientID: "c", LoginState: make([]byte, 2048),
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	grown, _ := pages()
	if grown < before+1000 {
		t.Fatalf("2000 requests of 2 KiB grew the database from %d to only %d pages", before, grown)
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil || n != 2000 {
		t.Fatalf("DeleteExpired = %d, %v; want 2000", n, err)
	}
	after, free := pages()
	if after > before+(grown-before)/4 || free > 100 {
		t.Errorf("after collecting: %d pages (%d free); before the rows %d, with them %d: the file kept its high-water mark", after, free, before, grown)
	}
	// Checkpoint so that the file itself (not only the WAL) shows it.
	if _, err := s.DB().Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > int64(after)*4096+4096 {
		t.Errorf("file size %v (%v); want about %d pages", fi.Size(), err, after)
	}
}
