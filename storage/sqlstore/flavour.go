package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// A flavour is what differs between the SQL databases the store runs on, in
// the manner of dex's storage/sql flavours. Queries are written once, with ?
// placeholders that sqlx.Rebind turns into the driver's, in SQL that SQLite and
// PostgreSQL both accept; the few things that cannot be shared live here:
// how to connect, the migrations directory and goose dialect, row locking
// (forUpdate, lockSigningKeys), error codes (unique violation, busy,
// retryable), the migration lock, and the batched delete of expired rows.
// postgres.go holds the PostgreSQL flavour.
type flavour struct {
	name  string        // as in Config.Flavour
	goose goose.Dialect // for the migration provider
	// migrations is the directory under migrations/ holding this flavour's
	// versioned files. Every flavour has the same versions, tables, columns
	// and indexes.
	migrations string

	// forUpdate is appended to the SELECT with which an Update method reads its
	// row, so the row stays locked until the write (compare-and-swap). SQLite
	// needs nothing: every transaction starts with BEGIN IMMEDIATE and so
	// already holds the database's write lock.
	forUpdate string
	// lockSigningKeys, when not empty, runs first in UpdateSigningKeys'
	// transaction to exclude every other UpdateSigningKeys, on every node. It
	// must return the one row of signing_key_lock.
	lockSigningKeys string

	// open prepares the pool for the database cfg names (database/sql
	// connects lazily: Open pings it next).
	open func(cfg Config) (connection, error)
	// isUniqueViolation reports whether err is a unique or primary key
	// constraint violation.
	isUniqueViolation func(err error) bool
	// isBusy reports whether err means "the database cannot take us right
	// now, try again" (used while opening).
	isBusy func(err error) bool
	// isRetryable reports whether err aborted a transaction that may run
	// again from its start: a deadlock or a serialization failure. The
	// transaction wrote nothing.
	isRetryable func(err error) bool
	// cannotWrite reports whether err says the database cannot take
	// writes at all for now: the disk is full, the file system or the
	// server is read-only, an I/O error (probe.go: readiness).
	cannotWrite func(err error) bool
	// unreachable reports whether err says the database could not be
	// reached or did not answer (errors.go: with cannotWrite and timeouts,
	// what storage.ErrUnavailable wraps).
	unreachable func(err error) bool
	// deleteExpired is the statement that deletes at most arg 2 rows of the
	// table (whose key columns, comma-separated, are key) that expired
	// before arg 1.
	deleteExpired func(table, key string) string
}

// A connection is an opened (not yet pinged) pool and what goes with it.
type connection struct {
	db *sqlx.DB
	// oneConn: the whole database lives in the pool's only connection
	// (SQLite's ":memory:"), seen by no other process.
	oneConn bool
	// migrationLock returns the lock that concurrent migration runs (several
	// nodes starting at once) take turns under, one per run; nil when
	// oneConn.
	migrationLock func() lock.Locker
}

// sqliteFlavour is SQLite through mattn/go-sqlite3.
var sqliteFlavour = flavour{
	name:       "sqlite",
	goose:      goose.DialectSQLite3,
	migrations: "migrations/sqlite",
	open:       sqliteOpen,
	isUniqueViolation: func(err error) bool {
		var e sqlite3.Error
		return errors.As(err, &e) &&
			(e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
	},
	isBusy:      sqliteBusy,
	isRetryable: func(error) bool { return false }, // BEGIN IMMEDIATE: no deadlocks
	cannotWrite: func(err error) bool {
		var e sqlite3.Error
		if !errors.As(err, &e) {
			return false
		}
		switch e.Code {
		case sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrReadonly, sqlite3.ErrCantOpen:
			return true
		}
		return false
	},
	unreachable: sqliteBusy, // the busy timeout ran out
	// Batches by rowid (every table here has one), each batch its own short
	// write transaction.
	deleteExpired: func(table, _ string) string {
		return "DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table +
			" WHERE expires_at < ? LIMIT ?)"
	},
}

func sqliteBusy(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
}

// flavourFor returns the flavour a Config names; "" means SQLite.
func flavourFor(name string) (*flavour, error) {
	switch name {
	case "", "sqlite":
		return &sqliteFlavour, nil
	case "postgres":
		return &postgresFlavour, nil
	default:
		return nil, fmt.Errorf("sqlstore: unknown flavour %q (want sqlite or postgres)", name)
	}
}

// sqliteOptions are the connection options every SQLite connection is opened
// with; doc.go says why.
const sqliteOptions = "_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate&_auto_vacuum=incremental"

// sqliteOpen opens a SQLite file, or ":memory:", an in-memory database private
// to one connection.
func sqliteOpen(cfg Config) (connection, error) {
	dsn, oneConn, err := sqliteDSN(cfg)
	if err != nil {
		return connection{}, err
	}
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		return connection{}, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	c := connection{db: db, oneConn: oneConn}
	if !oneConn {
		c.migrationLock = func() lock.Locker { return newTableLocker(sqliteBusy) }
	}
	return c, nil
}

// sqliteDSN builds the go-sqlite3 data source name for a file path, or for
// ":memory:", an in-memory database private to one connection (so the pool is
// held at exactly one connection and every caller sees the same database).
func sqliteDSN(cfg Config) (string, bool, error) {
	path := cfg.DSN
	switch {
	case path == "":
		return "", false, errors.New("sqlstore: sqlite: empty DSN (want a file path or :memory:)")
	case path == ":memory:":
		// WAL does not apply to memory databases; the rest does.
		return "file::memory:?_busy_timeout=5000&_foreign_keys=on&_txlock=immediate", true, nil
	case strings.ContainsRune(path, 0):
		return "", false, errors.New("sqlstore: sqlite: DSN contains a NUL byte")
	}
	// The DSN is a URI filename: escape what would end the path early or be
	// decoded (%, ?, #). Everything else, including '/' and '\', stays.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + escaped + "?" + sqliteOptions, false, nil
}
