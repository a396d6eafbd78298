package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/cardsso/cardsso/storage"
)

// Config says which database to open and how to pool connections to it.
type Config struct {
	// Flavour is "sqlite" (the default when empty) or "postgres".
	Flavour string
	// DSN is, for sqlite, a file path or ":memory:"; for postgres, a
	// connection URL (postgres://user:password@host:5432/database?sslmode=verify-full)
	// or keyword=value string, as pgx.ParseConfig reads it; other parameters
	// are sent to the server as run-time settings (search_path=myschema puts
	// the tables in that schema, which must exist).
	DSN string

	// Pool settings, as in database/sql, with these defaults for zero:
	// MaxOpenConns is 8 for SQLite (one writer at a time anyway, and every
	// connection keeps its own page cache and prepared statements) and
	// unlimited for PostgreSQL; MaxIdleConns is MaxOpenConns (16 when that
	// is unlimited), so a busy node does not close and reopen connections
	// between requests (database/sql's own default keeps 2); no lifetime
	// limits. With ":memory:" the pool is always one connection that never
	// closes. For PostgreSQL, MaxOpenConns times the number of nodes must
	// stay below the server's max_connections.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration

	// QueryTimeout bounds every statement and transaction the store runs
	// for a caller whose context allows longer (DefaultQueryTimeout when
	// zero; negative: none). A statement that runs out fails with
	// storage.ErrUnavailable.
	QueryTimeout time.Duration

	// Now is the clock that decides whether a row has expired (Get and Update
	// of auth requests, tokens and sessions); nil means time.Now.
	Now func() time.Time
}

// Store is storage.Store on a SQL database. It is safe for concurrent use, and
// several Stores (in one process or many) may share one database.
type Store struct {
	db      *sqlx.DB
	flavour *flavour
	now     func() time.Time
	// migrationLock returns the lock Migrate runs under; nil when the
	// database is private to this Store (":memory:").
	migrationLock func() lock.Locker
	// migrations runs this flavour's embedded migrations, one Migrate at a
	// time.
	migrations *goose.Provider
	migrateMu  sync.Mutex
	// queries caches prepared statements and rebound queries (stmt.go);
	// writer runs every SQLite write, in batches (writer.go; nil for
	// PostgreSQL).
	queries queries
	writer  *writer
	// writeFault is when a write last failed because the database could
	// not take writes (flavour.cannotWrite), in Unix nanoseconds; 0 never.
	writeFault atomic.Int64
	// oneConn: the pool is one connection (":memory:").
	oneConn bool
	// queryTimeout: Config.QueryTimeout with its default (<= 0: none).
	queryTimeout time.Duration
}

// Pool defaults (Config says when they apply).
const (
	defaultSQLiteOpenConns = 8
	defaultIdleConns       = 16
)

var _ storage.Store = (*Store)(nil)

// migrationFiles holds every flavour's migrations, in migrations/<flavour>/.
//
//go:embed migrations
var migrationFiles embed.FS

// Open opens the database cfg names, checks that it answers, and brings its
// schema up to date (see Migrate). The caller closes the Store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	f, err := flavourFor(cfg.Flavour)
	if err != nil {
		return nil, err
	}
	if cfg.MaxOpenConns < 0 || cfg.MaxIdleConns < 0 || cfg.ConnMaxLifetime < 0 || cfg.ConnMaxIdleTime < 0 {
		return nil, errors.New("sqlstore: negative pool setting")
	}
	c, err := f.open(cfg)
	if err != nil {
		return nil, err
	}
	db := c.db
	if c.oneConn {
		// The database lives as long as its connection: keep exactly one,
		// forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		open, idle := cfg.MaxOpenConns, cfg.MaxIdleConns
		if open == 0 && f == &sqliteFlavour {
			open = defaultSQLiteOpenConns
		}
		if idle == 0 {
			idle = open
			if idle == 0 {
				idle = defaultIdleConns
			}
		}
		db.SetMaxOpenConns(open)
		db.SetMaxIdleConns(idle)
		db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
		db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	}
	if err := ping(ctx, db, f); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlstore: ping %s: %w", f.name, err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	qt := cfg.QueryTimeout
	if qt == 0 {
		qt = DefaultQueryTimeout
	}
	s := &Store{db: db, flavour: f, now: now, migrationLock: c.migrationLock, oneConn: c.oneConn, queryTimeout: qt}
	if f == &sqliteFlavour {
		defer func() { s.writer = newWriter(s) }() // after the migrations
	}
	if s.migrations, err = s.newMigrationProvider(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openRetry is how long Open keeps trying a database that is busy.
const openRetry = 30 * time.Second

// ping opens the first connection. A new SQLite file turns to WAL when its
// first connection opens it, which takes an exclusive lock; another process
// opening the file at that moment gets "database is locked" at once, busy
// timeout or not, so a busy database is tried again for a while.
func ping(ctx context.Context, db *sqlx.DB, f *flavour) error {
	deadline := time.Now().Add(openRetry)
	for {
		err := db.PingContext(ctx)
		if err == nil || !f.isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return nil
}

// Close closes the database. With ":memory:" the database goes with it.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.close()
	}
	s.closeStmts()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close: %w", err)
	}
	return nil
}

// Errors and transactions.

// notFound is the error for a key with no (live) row.
func notFound(op string) error {
	return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
}

// writeErr wraps an error from a write; a unique constraint violation is
// storage.ErrAlreadyExists as well as the driver's error.
func (s *Store) writeErr(op string, err error) error {
	if s.flavour.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrAlreadyExists, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// txAttempts bounds how often inTx runs a transaction that the database
// aborted as retryable (a deadlock, a serialization failure).
const txAttempts = 5

// inTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise; fn gets the context its statements run with. fn must use
// only tx: with ":memory:" the pool has one connection.
//
// With SQLite, fn runs in the writer's transaction (writer.go), inside a
// savepoint when other writes share it, and the transaction holds the write
// lock from its start (BEGIN IMMEDIATE): keep fn short and free of I/O other
// than tx, and never write through the Store from inside it (deadlock).
//
// With PostgreSQL, when the database aborts the transaction as retryable
// (deadlock detected, serialization failure), nothing was written and inTx
// runs fn again from the start, up to txAttempts times in all, after a
// short random pause. So fn, and the updater an Update method calls in it,
// may run more than once and must not have effects outside tx.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sqlx.Tx) error) (err error) {
	defer func() { err = s.fail(err) }()
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.writer != nil {
		return s.writer.do(ctx, op, fn)
	}
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, op, fn)
		if err == nil || attempt == txAttempts || !s.flavour.isRetryable(err) {
			return err
		}
		// 5-25 ms, growing: the other transaction needs a moment to finish.
		pause := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-time.After(pause):
		}
	}
}

// tryTx is one attempt of inTx.
func (s *Store) tryTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.writeErr(op+": commit", err)
	}
	return nil
}

// Encoding of values the databases do not share a type for.

// zeroMillis is the zero time.Time in unix milliseconds: a zero time is stored
// as it is (it sorts before every real time, so a zero ExpiresAt has expired)
// and read back as the zero time.
var zeroMillis = time.Time{}.UnixMilli()

// millis is t in unix milliseconds, rounded down.
func millis(t time.Time) int64 {
	return t.Truncate(time.Millisecond).UnixMilli()
}

// fromMillis is the UTC time at ms unix milliseconds.
func fromMillis(ms int64) time.Time {
	if ms == zeroMillis {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// millisPtr stores an optional time; nil is NULL.
func millisPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := millis(*t)
	return &ms
}

func fromMillisPtr(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := fromMillis(*ms)
	return &t
}

// encodeList stores a string list as JSON; nil stays apart from empty ("null"
// and "[]"). Lists of plain strings (scopes, client ids, amr values) are
// written directly, byte for byte what encoding/json writes; anything
// json.Marshal would escape goes through it.
func encodeList(l []string) string {
	if l == nil {
		return "null"
	}
	n := 2
	for _, v := range l {
		if !plainJSON(v) {
			b, _ := json.Marshal(l) // a []string always marshals
			return string(b)
		}
		n += len(v) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(v)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String()
}

// plainJSON reports whether v needs no escaping in a JSON string as
// encoding/json writes it (printable ASCII other than " \ < > &).
func plainJSON(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// decodeList reads what encodeList wrote. Lists of strings without escapes
// are split directly; anything else goes through encoding/json.
func decodeList(text string) ([]string, error) {
	switch text {
	case "null":
		return nil, nil
	case "[]":
		return []string{}, nil
	}
	if len(text) >= 4 && text[0] == '[' && text[len(text)-1] == ']' && !strings.ContainsRune(text, '\\') {
		inner := text[1 : len(text)-1]
		out := make([]string, 0, strings.Count(inner, `","`)+1)
		ok := true
		for part := range strings.SplitSeq(inner, ",") {
			if len(part) < 2 || part[0] != '"' || part[len(part)-1] != '"' || strings.ContainsRune(part[1:len(part)-1], '"') {
				ok = false
				break
			}
			out = append(out, part[1:len(part)-1])
		}
		if ok {
			return out, nil
		}
	}
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return nil, err
	}
	return l, nil
}

// listColumn is a JSON list column to decode into dst.
type listColumn struct {
	name string
	text string
	dst  *[]string
}

func decodeLists(cols ...listColumn) error {
	for _, c := range cols {
		l, err := decodeList(c.text)
		if err != nil {
			return fmt.Errorf("column %s: %w", c.name, err)
		}
		*c.dst = l
	}
	return nil
}

// uniqueBytes is a value for a nullable unique BLOB column: empty is NULL, so
// rows without a value do not collide.
func uniqueBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// An entity is one table and the mapping between its rows (R, a struct
// with a field tagged db:"<column>" for every column) and the storage value
// type (T). The key column is the first.
type entity[T, R any] struct {
	what    string // for error messages: "account"
	table   string
	columns []string
	// expires: rows have expires_at, and only live rows (expires_at > now)
	// are read or updated.
	expires bool
	fromRow func(R) (T, error)
	args    func(T) []any // one value per column, in order

	selectFrom  string // SELECT columns FROM table
	insert      string
	update      string // every column but the key, WHERE key = ?
	deleteQuery string // WHERE key = ?
	// fields are the indexes of R's fields for the columns, in order: a
	// row is scanned straight into them (sqlx would look every column up
	// by name on every row).
	fields []int
}

func newEntity[T, R any](e entity[T, R]) *entity[T, R] {
	cols := strings.Join(e.columns, ", ")
	e.selectFrom = "SELECT " + cols + " FROM " + e.table
	e.insert = "INSERT INTO " + e.table + " (" + cols + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(e.columns)), ", ") + ")"
	set := make([]string, 0, len(e.columns)-1)
	for _, c := range e.columns[1:] {
		set = append(set, c+" = ?")
	}
	e.update = "UPDATE " + e.table + " SET " + strings.Join(set, ", ") + " WHERE " + e.columns[0] + " = ?"
	e.deleteQuery = "DELETE FROM " + e.table + " WHERE " + e.columns[0] + " = ?"
	rt := reflect.TypeFor[R]()
	byTag := map[string]int{}
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("db"); tag != "" {
			byTag[tag] = i
		}
	}
	for _, c := range e.columns {
		i, ok := byTag[c]
		if !ok {
			panic(fmt.Sprintf("sqlstore: %s row type %s has no field tagged db:%q", e.what, rt, c))
		}
		e.fields = append(e.fields, i)
	}
	return &e
}

// scanOne reads one row of q (the entity's columns, in order) into a new R;
// sql.ErrNoRows when there is none. write: q changes the row (UPDATE …
// RETURNING) and runs behind the write gate when not in a transaction.
func (e *entity[T, R]) scanOne(ctx context.Context, s *Store, tx *sqlx.Tx, write bool, q string, args ...any) (R, error) {
	return e.scanOneWith(ctx, s, tx, write, q, nil, args...)
}

// scanOneWith is scanOne for a query that returns more columns after the
// entity's, scanned into extra.
func (e *entity[T, R]) scanOneWith(ctx context.Context, s *Store, tx *sqlx.Tx, write bool, q string, extra []any, args ...any) (R, error) {
	var r R
	v := reflect.ValueOf(&r).Elem()
	ptrs := make([]any, len(e.fields), len(e.fields)+len(extra))
	for i, f := range e.fields {
		ptrs[i] = v.Field(f).Addr().Interface()
	}
	ptrs = append(ptrs, extra...)
	if write && tx == nil && s.writer != nil {
		return r, s.writer.do(ctx, "write", func(ctx context.Context, tx *sqlx.Tx) error {
			return s.scanRow(ctx, tx, ptrs, q, args...)
		})
	}
	return r, s.scanRow(ctx, tx, ptrs, q, args...)
}

// create inserts v. An empty key is refused.
func (e *entity[T, R]) create(ctx context.Context, s *Store, op string, v T) error {
	args := e.args(v)
	switch k := args[0].(type) {
	case string:
		if k == "" {
			return fmt.Errorf("sqlstore: %s: empty %s", op, e.columns[0])
		}
	case []byte:
		if len(k) == 0 {
			return fmt.Errorf("sqlstore: %s: empty %s", op, e.columns[0])
		}
	}
	if _, err := s.exec(ctx, e.insert, args...); err != nil {
		return s.writeErr(op, err)
	}
	return nil
}

// get reads the one (live) row where the condition holds, in tx when it is
// not nil; suffix ends the query (the flavour's forUpdate, or "").
func (e *entity[T, R]) get(ctx context.Context, s *Store, tx *sqlx.Tx, op, suffix, where string, args ...any) (T, error) {
	return e.getAt(ctx, s, tx, s.now(), op, suffix, where, args...)
}

// getAt is get with rows live when they expire after now.
func (e *entity[T, R]) getAt(ctx context.Context, s *Store, tx *sqlx.Tx, now time.Time, op, suffix, where string, args ...any) (T, error) {
	var zero T
	query := e.selectFrom + " WHERE " + where
	if e.expires {
		query += " AND expires_at > ?"
		args = append(args, millis(now))
	}
	row, err := e.scanOne(ctx, s, tx, false, query+suffix, args...)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return zero, notFound(op)
		}
		return zero, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	v, err := e.fromRow(row)
	if err != nil {
		return zero, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return v, nil
}

// updateByID reads the (live) row with this id inside a transaction, locked
// until the write (the flavour's forUpdate), runs update on it and writes the
// result: compare-and-swap. An error from update aborts with nothing written
// and is returned wrapped. update may run more than once (see inTx).
func (e *entity[T, R]) updateByID(ctx context.Context, s *Store, id string, idOf func(T) string, update func(T) (T, error)) error {
	op := fmt.Sprintf("update %s %q", e.what, id)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		old, err := e.get(ctx, s, tx, op, s.flavour.forUpdate, e.columns[0]+" = ?", id)
		if err != nil {
			return err
		}
		v, err := update(old)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		if got := idOf(v); got != id {
			return fmt.Errorf("sqlstore: %s: the updater changed the id to %q", op, got)
		}
		args := e.args(v)
		args = append(args[1:], args[0])
		if _, err := s.txExec(ctx, tx, e.update, args...); err != nil {
			return s.writeErr(op, err)
		}
		return nil
	})
}

// claim marks the live, unused row whose keyColumn is key used at now, in
// one statement, and returns it. A row used before gives it back with
// storage.ErrAlreadyUsed; no live row gives storage.ErrNotFound.
//
// UPDATE ... RETURNING (SQLite 3.35+, PostgreSQL) makes the mark and the read
// one atomic statement; no row returned is "0 rows affected".
func (e *entity[T, R]) claim(ctx context.Context, s *Store, op, keyColumn, usedColumn string, key []byte, now time.Time) (T, error) {
	var zero T
	if len(key) == 0 {
		return zero, notFound(op)
	}
	row, err := e.scanOne(ctx, s, nil, true, e.claimQuery(keyColumn, usedColumn), millis(now), key, millis(now))
	switch {
	case err == nil:
		v, err := e.fromRow(row)
		if err != nil {
			return zero, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		return v, nil
	case !errors.Is(err, sql.ErrNoRows):
		return zero, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	// Nothing claimed: used before, expired or unknown. A row that is live
	// but unused now was not claimable a moment ago (its code was issued
	// meanwhile): not found as well.
	v, err := e.getAt(ctx, s, nil, now, op, "", keyColumn+" = ? AND "+usedColumn+" IS NOT NULL", key)
	if err != nil {
		return zero, err
	}
	return v, fmt.Errorf("sqlstore: %s: %w", op, storage.ErrAlreadyUsed)
}

// claimQuery sets usedColumn (arg 1) on the row whose keyColumn is arg 2 if
// it is unused and expires after arg 3, and returns the row.
func (e *entity[T, R]) claimQuery(keyColumn, usedColumn string) string {
	return "UPDATE " + e.table + " SET " + usedColumn + " = ? WHERE " + keyColumn + " = ? AND " +
		usedColumn + " IS NULL AND expires_at > ? RETURNING " + strings.Join(e.columns, ", ")
}

// deleteByKey deletes the row with this key, expired or not.
func (e *entity[T, R]) deleteByKey(ctx context.Context, s *Store, op string, key any) error {
	res, err := s.exec(ctx, e.deleteQuery, key)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// list reads every row, in the given order, in tx when it is not nil.
func (e *entity[T, R]) list(ctx context.Context, s *Store, tx *sqlx.Tx, op, orderBy string) ([]T, error) {
	return e.listWhere(ctx, s, tx, op, "1 = 1 ORDER BY "+orderBy)
}

// listWhere reads the rows where the condition (which may end in ORDER BY)
// holds, in tx when it is not nil.
func (e *entity[T, R]) listWhere(ctx context.Context, s *Store, tx *sqlx.Tx, op, where string, args ...any) ([]T, error) {
	var rows []R
	if err := s.queryRows(ctx, tx, &rows, e.selectFrom+" WHERE "+where, args...); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		v, err := e.fromRow(r)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		out = append(out, v)
	}
	return out, nil
}
