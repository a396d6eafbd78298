package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// expiring are the tables whose rows expire, with an index on expires_at, and
// their key columns; the rows of a bookkeeping table are not counted in
// what DeleteExpired returns.
var expiring = []struct {
	table, key  string
	bookkeeping bool
}{
	{"auth_requests", "id", false},
	{"access_tokens", "id", false},
	{"refresh_tokens", "hash", false},
	{"sessions", "id", false},
	{"once_keys", "id", false},
	{"counters", "id", false},
	// After the tokens: a row outlives the tokens it records (tokens.go).
	{"grant_sessions", "grant_id, session_id", true},
}

// expireBatch is how many rows one statement of DeleteExpired deletes at most.
const expireBatch = 1000

// DeleteExpired deletes the auth requests, access and refresh tokens,
// sessions, single-use keys and counters that expired before now, and
// returns how many rows went; the grant_sessions rows that expired go too,
// uncounted. It works
// in batches of at most expireBatch rows, each one short statement of its own,
// so the collector never holds the database (or many row locks) for long.
//
// It is safe to run on every node at once. On PostgreSQL a batch skips rows
// another transaction has locked (FOR UPDATE SKIP LOCKED): collectors share
// the work rather than wait for each other, and a row that a concurrent
// transaction holds is left for the next run. With SQLite the batches take
// turns under the write lock.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, e := range expiring {
		q := s.flavour.deleteExpired(e.table, e.key)
		for {
			n, err := s.execCount(ctx, q, millis(now), expireBatch)
			if err != nil {
				return total, fmt.Errorf("sqlstore: delete expired %s: %w", e.table, err)
			}
			if !e.bookkeeping {
				total += n
			}
			if n < expireBatch {
				break
			}
		}
	}
	// The SAML participants of sessions that are gone.
	res, err := s.exec(ctx, "DELETE FROM session_participants WHERE NOT EXISTS "+
		"(SELECT 1 FROM sessions WHERE sessions.id = session_participants.session_id)")
	if err != nil {
		return total, fmt.Errorf("sqlstore: delete orphaned session participants: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil {
		total += n
	}
	if s.flavour == &sqliteFlavour && total > 0 {
		// Give freed pages back to the file system, a bounded number per
		// run so that the write lock is held briefly (doc.go,
		// _auto_vacuum=incremental; a no-op on a database without it).
		// The pragma frees one page per step: read every row it returns.
		err := s.inTx(ctx, "incremental vacuum", func(ctx context.Context, tx *sqlx.Tx) error {
			rows, err := tx.QueryContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", vacuumPages))
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				_ = rows.Close()
				return err
			}
			return rows.Close()
		})
		if err != nil {
			return total, fmt.Errorf("sqlstore: incremental vacuum: %w", err)
		}
	}
	return total, nil
}

// vacuumPages is how many free pages one DeleteExpired returns to the file
// system at most (4 KiB each: 16 MiB).
const vacuumPages = 4096
