package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

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

// ProbeWrite proves that the database takes writes now: it commits one
// transaction that inserts a row and deletes it again (readiness,
// docs/operations.md "When things fail"). A database that answers reads
// but cannot write (a read-only file system, a PostgreSQL standby, a lock
// held too long) fails it. A full disk may still take so small a write,
// in the free space of a page: that case is caught by the writes that fail
// for want of space (LastWriteFault).
func (s *Store) ProbeWrite(ctx context.Context) error {
	key := "probe:" + rand.Text()
	err := s.inTx(ctx, "write probe", func(ctx context.Context, tx *sqlx.Tx) error {
		if _, err := s.txExec(ctx, tx, "INSERT INTO once_keys (id, expires_at) VALUES (?, ?)", key, millis(s.now().Add(time.Minute))); err != nil {
			return err
		}
		_, err := s.txExec(ctx, tx, "DELETE FROM once_keys WHERE id = ?", key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: write probe: %w", err)
	}
	return nil
}
