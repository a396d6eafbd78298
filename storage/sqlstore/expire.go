package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// expiring are the tables whose rows expire, with an index on expires_at.
var expiring = []string{"auth_requests", "access_tokens", "refresh_tokens", "sessions"}

// DeleteExpired deletes the auth requests, access and refresh tokens and
// sessions that expired before now, and returns how many rows went. Each table
// is one short statement of its own, so the collector never holds the
// database for long and may run on every node at once.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, table := range expiring {
		res, err := s.db.ExecContext(ctx, s.db.Rebind(deleteExpiredQuery(table)), millis(now))
		if err != nil {
			return total, fmt.Errorf("sqlstore: delete expired %s: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlstore: delete expired %s: %w", table, err)
		}
		total += n
	}
	return total, nil
}

// deleteExpiredQuery deletes a table's expired rows (by its expires_at index).
func deleteExpiredQuery(table string) string {
	return "DELETE FROM " + table + " WHERE expires_at < ?"
}
