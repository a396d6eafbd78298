package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

// TestInTxRetries checks inTx's retries with PostgreSQL's idea of a
// retryable error on a SQLite database: a transaction aborted by a deadlock
// or a serialization failure runs again from the start (what the aborted run
// wrote is gone), at most txAttempts times; other errors are returned at once.
// TestPostgres/DeadlockRetried provokes a real deadlock.
func TestInTxRetries(t *testing.T) {
	s, err := Open(t.Context(), Config{DSN: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := *s.flavour
	f.isRetryable = postgresFlavour.isRetryable
	f.isUniqueViolation = postgresFlavour.isUniqueViolation
	s.flavour = &f
	// The retries are PostgreSQL's path: without the SQLite writer.
	s.writer.close()
	s.writer = nil

	deadlock := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	serialization := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	unique := &pgconn.PgError{Code: "23505", Message: "duplicate key value"}
	refuse := errors.New("updater refuses")
	for _, tc := range []struct {
		name     string
		failures []error // returned by the first runs, in order
		wantRuns int
		wantErr  error
	}{
		{"deadlock once", []error{deadlock}, 2, nil},
		{"serialization twice", []error{serialization, fmt.Errorf("wrapped: %w", serialization)}, 3, nil},
		{"deadlock always", []error{deadlock, deadlock, deadlock, deadlock, deadlock, deadlock}, txAttempts, deadlock},
		{"unique violation", []error{unique}, 1, unique},
		{"other error", []error{refuse}, 1, refuse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.db.Exec("DELETE FROM clients"); err != nil {
				t.Fatal(err)
			}
			runs := 0
			err := s.inTx(t.Context(), "test", func(_ context.Context, tx *sqlx.Tx) error {
				runs++
				if _, err := tx.Exec("INSERT INTO clients (id, name, is_public, redirect_uris, post_logout_redirect_uris, first_party, min_acr, created_at, updated_at) VALUES (?, '', false, '[]', '[]', false, '', 0, 0)",
					fmt.Sprint("run-", runs)); err != nil {
					return err
				}
				if runs <= len(tc.failures) {
					return tc.failures[runs-1]
				}
				return nil
			})
			if runs != tc.wantRuns {
				t.Errorf("runs = %d; want %d", runs, tc.wantRuns)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("inTx = %v; want %v", err, tc.wantErr)
			}
			if tc.wantErr == unique && !errors.Is(s.writeErr("op", err), storage.ErrAlreadyExists) {
				t.Errorf("writeErr(%v) does not wrap storage.ErrAlreadyExists", err)
			}
			// Only the last run may have written, and only if it succeeded.
			list, err := clients.list(t.Context(), s, nil, "list", "id")
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			want := 0
			if runs > len(tc.failures) {
				want = 1
			}
			if len(ids) != want || (want == 1 && ids[0] != fmt.Sprint("run-", runs)) {
				t.Errorf("clients after inTx = %q; want only the last run's, if it committed", ids)
			}
		})
	}
}
