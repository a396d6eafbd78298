package sqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// noteWrite records a write that failed because the database cannot take
// writes, and returns err.
func (s *Store) noteWrite(err error) error {
	if err != nil && s.flavour.cannotWrite(err) {
		s.writeFault.Store(time.Now().UnixNano())
	}
	return err
}

// LastWriteFault is when a write of this Store last failed because the
// database could not take writes (disk full, read-only, I/O error); zero
// when none has. A small probe can succeed in the free space a full
// database still has while a login's larger writes fail, so readiness
// looks at this as well as at ProbeWrite.
func (s *Store) LastWriteFault() time.Time {
	n := s.writeFault.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// probePad makes the SQLite probe row larger than a page (4 KiB), so that
// committing it needs pages the database may not have: on a full disk (or a
// database at its max_page_count) the probe fails as a login's writes do,
// rather than fitting into the free space of a page. PostgreSQL's index
// entries are limited to about 2.7 KB, and it reports a full disk on any
// write, so its probe row is small.
const probePad = 6 << 10

// ProbeWrite proves that the database takes writes now: it commits a row
// and deletes it again (readiness, docs/operations.md "When things fail").
// A database that answers reads but cannot write (a full disk, a read-only
// file system, a PostgreSQL standby) fails it.
func (s *Store) ProbeWrite(ctx context.Context) error {
	key := "probe:" + rand.Text()
	if s.flavour == &sqliteFlavour {
		key += ":" + strings.Repeat("p", probePad)
	}
	if _, err := s.exec(ctx, "INSERT INTO once_keys (id, expires_at) VALUES (?, ?)", key, millis(s.now().Add(time.Minute))); err != nil {
		return fmt.Errorf("sqlstore: write probe: %w", err)
	}
	if _, err := s.exec(ctx, "DELETE FROM once_keys WHERE id = ?", key); err != nil {
		return fmt.Errorf("sqlstore: write probe: %w", err)
	}
	return nil
}
