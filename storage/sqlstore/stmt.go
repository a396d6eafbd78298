package sqlstore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/jmoiron/sqlx"
)

// How queries reach the database. Every query of the store goes through
// these helpers, written once with ? placeholders:
//
//   - SQLite (mattn/go-sqlite3) compiles a statement on every call unless it
//     is prepared, and compiling costs as much as running a point lookup.
//     Queries are prepared once (database/sql then keeps each prepared on
//     every pooled connection it runs on) and reused, in transactions too.
//   - PostgreSQL through pgx caches prepared statements per connection by
//     itself (its default exec mode), so a query is one round trip already;
//     the store only caches the Rebind of each query.
//   - Writes on SQLite go to the store's writer (writer.go), one
//     transaction at a time for the whole process. SQLite allows one writer
//     per database anyway, and a writer that finds the lock taken waits in
//     SQLite's busy handler, which sleeps (1, 2, 5, 10 … 100 ms) instead of
//     queueing: under load most of the time went to those sleeps. Reads
//     never wait for it (WAL: readers do not wait for the writer).

// queries caches what the store derives from a query string.
type queries struct {
	rebound sync.Map // query → the driver's placeholders (PostgreSQL)
	stmts   sync.Map // query → *sqlx.Stmt (SQLite)
	wanted  sync.Map // query → true: ran unprepared in a transaction
	mu      sync.Mutex
}

// prepareWanted prepares the queries transactions ran unprepared. Call it
// holding no connection.
func (s *Store) prepareWanted(ctx context.Context) {
	s.queries.wanted.Range(func(k, _ any) bool {
		s.queries.wanted.Delete(k)
		_, _ = s.stmt(ctx, k.(string)) // on failure the query keeps running unprepared
		return true
	})
}

// prepared reports whether the flavour runs queries as prepared statements
// kept by the store.
func (s *Store) prepared() bool { return s.flavour == &sqliteFlavour }

// rebind returns the query with the driver's placeholders, computed once.
func (s *Store) rebind(q string) string {
	if v, ok := s.queries.rebound.Load(q); ok {
		return v.(string)
	}
	r := s.db.Rebind(q)
	s.queries.rebound.Store(q, r)
	return r
}

// stmt returns the prepared statement of q (SQLite), preparing it on the
// pool the first time.
func (s *Store) stmt(ctx context.Context, q string) (*sqlx.Stmt, error) {
	if st, ok := s.cachedStmt(q); ok {
		return st, nil
	}
	s.queries.mu.Lock()
	defer s.queries.mu.Unlock()
	if v, ok := s.queries.stmts.Load(q); ok {
		return v.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.queries.stmts.Store(q, st)
	return st, nil
}

// closeStmts closes the prepared statements (before the pool closes).
func (s *Store) closeStmts() {
	s.queries.stmts.Range(func(k, v any) bool {
		_ = v.(*sqlx.Stmt).Close()
		s.queries.stmts.Delete(k)
		return true
	})
}

// stmtIn returns q's prepared statement for use in tx (or on the pool when
// tx is nil), preparing it the first time; nil means run q unprepared. A
// transaction never prepares on the pool: that needs a second connection,
// which a bounded pool may not have while transactions hold the others
// (deadlock). It notes q instead, and inTx prepares it once the transaction
// is over.
func (s *Store) stmtIn(ctx context.Context, tx *sqlx.Tx, q string) (*sqlx.Stmt, error) {
	st, ok := s.cachedStmt(q)
	if !ok {
		if tx != nil {
			s.queries.wanted.Store(q, true)
			return nil, nil
		}
		var err error
		if st, err = s.stmt(ctx, q); err != nil {
			return nil, err
		}
	}
	if tx != nil {
		return tx.StmtxContext(ctx, st), nil
	}
	return st, nil
}

func (s *Store) cachedStmt(q string) (*sqlx.Stmt, bool) {
	v, ok := s.queries.stmts.Load(q)
	if !ok {
		return nil, false
	}
	return v.(*sqlx.Stmt), true
}

// queryer is where an unprepared query runs: a transaction or the pool.
type queryer interface {
	sqlx.QueryerContext
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// read runs a read of q, in tx when it is not nil: through q's prepared
// statement when the flavour keeps them (run gets st), else on tx or the
// pool with the driver's placeholders (run gets on and the rebound query).
// Outside a transaction it bounds the read and classifies its error (in
// one, inTx does).
func (s *Store) read(ctx context.Context, tx *sqlx.Tx, q string,
	run func(ctx context.Context, st *sqlx.Stmt, on queryer, q string) error) (err error) {
	if tx == nil {
		var cancel context.CancelFunc
		ctx, cancel = s.bound(ctx)
		defer cancel()
		defer func() { err = s.fail(err) }()
	}
	if s.prepared() {
		st, err := s.stmtIn(ctx, tx, q)
		if err != nil {
			return err
		}
		if st != nil {
			return run(ctx, st, nil, "")
		}
	}
	if tx != nil {
		return run(ctx, nil, tx, s.rebind(q))
	}
	return run(ctx, nil, s.db, s.rebind(q))
}

// queryRow reads one row into dest (sql.ErrNoRows when there is none), in
// tx when it is not nil.
func (s *Store) queryRow(ctx context.Context, tx *sqlx.Tx, dest any, q string, args ...any) error {
	return s.read(ctx, tx, q, func(ctx context.Context, st *sqlx.Stmt, on queryer, q string) error {
		if st != nil {
			return st.GetContext(ctx, dest, args...)
		}
		return sqlx.GetContext(ctx, on, dest, q, args...)
	})
}

// scanRow reads one row of q into ptrs (sql.ErrNoRows when there is none),
// in tx when it is not nil.
func (s *Store) scanRow(ctx context.Context, tx *sqlx.Tx, ptrs []any, q string, args ...any) error {
	return s.read(ctx, tx, q, func(ctx context.Context, st *sqlx.Stmt, on queryer, q string) error {
		if st != nil {
			return st.QueryRowContext(ctx, args...).Scan(ptrs...)
		}
		return on.QueryRowContext(ctx, q, args...).Scan(ptrs...)
	})
}

// queryRows reads every row into dest (a slice), in tx when it is not nil.
func (s *Store) queryRows(ctx context.Context, tx *sqlx.Tx, dest any, q string, args ...any) error {
	return s.read(ctx, tx, q, func(ctx context.Context, st *sqlx.Stmt, on queryer, q string) error {
		if st != nil {
			return st.SelectContext(ctx, dest, args...)
		}
		return sqlx.SelectContext(ctx, on, dest, q, args...)
	})
}

// txExec runs a write in tx.
func (s *Store) txExec(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (sql.Result, error) {
	if s.prepared() {
		st, err := s.stmtIn(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		if st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return tx.ExecContext(ctx, s.rebind(q), args...)
}

// exec runs one write statement on its own: for SQLite in the writer's
// transaction (writer.go), for PostgreSQL as its own transaction.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.writer != nil {
		var res sql.Result
		err := s.writer.do(ctx, "write", func(ctx context.Context, tx *sqlx.Tx) error {
			var err error
			res, err = s.txExec(ctx, tx, q, args...)
			return err
		})
		return res, s.fail(err)
	}
	res, err := s.db.ExecContext(ctx, s.rebind(q), args...)
	return res, s.fail(err)
}

// execCount runs one write statement on its own, as exec does, and
// returns how many rows it changed.
func (s *Store) execCount(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// writeRow runs one write statement that returns a row (UPDATE …
// RETURNING, an upsert RETURNING) into dest, as exec does.
func (s *Store) writeRow(ctx context.Context, dest any, q string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.writer != nil {
		return s.fail(s.writer.do(ctx, "write", func(ctx context.Context, tx *sqlx.Tx) error {
			return s.queryRow(ctx, tx, dest, q, args...)
		}))
	}
	return s.fail(s.queryRow(ctx, nil, dest, q, args...))
}
