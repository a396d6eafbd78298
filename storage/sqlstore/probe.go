package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// fail classifies an error of the database, once, at the store's edge:
// a failure of the database rather than of the input (it cannot be
// reached, did not answer in time, is busy, or cannot take writes) is
// wrapped in storage.ErrUnavailable, keeping the original for errors.Is
// and the log; a write that failed for want of space or a writable file
// system is remembered for readiness (LastWriteFault).
func (s *Store) fail(err error) error {
	if err == nil || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	write := s.flavour.cannotWrite(err)
	if write {
		s.writeFault.Store(time.Now().UnixNano())
	}
	if write || s.flavour.unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// DefaultQueryTimeout is Config.QueryTimeout's default: long enough for any
// statement of a healthy database, short enough that a request does not
// hang with the database (docs/operations.md, "When things fail").
const DefaultQueryTimeout = 5 * time.Second

// bound gives ctx the store's query timeout unless it ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.queryTimeout <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= s.queryTimeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.queryTimeout)
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
