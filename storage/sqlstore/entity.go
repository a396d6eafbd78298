package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

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
	if !hasKey(args) {
		return fmt.Errorf("sqlstore: %s: empty %s", op, e.columns[0])
	}
	if _, err := s.exec(ctx, e.insert, args...); err != nil {
		return s.writeErr(op, err)
	}
	return nil
}

// hasKey reports whether the key of a row's values (e.args, key first) is
// set: an empty string or byte slice is none.
func hasKey(args []any) bool {
	switch k := args[0].(type) {
	case string:
		return k != ""
	case []byte:
		return len(k) != 0
	}
	return true
}

// get reads the one (live) row where the condition holds, in tx when it is
// not nil; suffix ends the query (the flavour's forUpdate, or "").
func (e *entity[T, R]) get(ctx context.Context, s *Store, tx *sqlx.Tx, op, suffix, where string, args ...any) (T, error) {
	return e.getAt(ctx, s, tx, s.now(), op, suffix, where, args...)
}

// getByHash gets the (live) row whose column holds hash; an empty hash
// matches nothing.
func (e *entity[T, R]) getByHash(ctx context.Context, s *Store, op, column string, hash []byte) (T, error) {
	if len(hash) == 0 {
		var zero T
		return zero, notFound(op)
	}
	return e.get(ctx, s, nil, op, "", column+" = ?", hash)
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
	return e.usedBefore(ctx, s, op, keyColumn, usedColumn, key, now)
}

// usedBefore is the answer of a claim that claimed nothing: the row used
// before, with storage.ErrAlreadyUsed, or storage.ErrNotFound when there
// is no live row. A row that is live but unused now was not claimable a
// moment ago (its code was issued meanwhile): not found as well.
func (e *entity[T, R]) usedBefore(ctx context.Context, s *Store, op, keyColumn, usedColumn string, key []byte, now time.Time) (T, error) {
	v, err := e.getAt(ctx, s, nil, now, op, "", keyColumn+" = ? AND "+usedColumn+" IS NOT NULL", key)
	if err != nil {
		return v, err
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
	n, err := s.execCount(ctx, e.deleteQuery, key)
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
