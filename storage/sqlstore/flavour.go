package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// A flavour is what differs between the SQL databases the store runs on, in
// the manner of dex's storage/sql flavours. Queries are written once, with ?
// placeholders that sqlx.Rebind turns into the driver's, in SQL that SQLite and
// PostgreSQL both accept; the few things that cannot be shared live here.
//
// Adding PostgreSQL means a second value of this type (driver "pgx" from
// github.com/jackc/pgx/v5/stdlib, which sqlx knows for Rebind, unlike
// "pgx/v5"; goose.DialectPostgres; migrations/postgres; forUpdate " FOR
// UPDATE"; lockSigningKeys "SELECT id FROM signing_key_lock WHERE id = 1 FOR
// UPDATE"; a unique violation is SQLSTATE 23505; migrations locked with
// goose's lock.NewPostgresTableLocker), and a case in flavourFor.
type flavour struct {
	name   string        // as in Config.Flavour
	driver string        // database/sql driver name; sqlx derives the bind type from it
	goose  goose.Dialect // for the migration provider
	// migrations is the directory under migrations/ holding this flavour's
	// versioned files.
	migrations string

	// forUpdate is appended to the SELECT with which an Update method reads its
	// row, so the row stays locked until the write (compare-and-swap). SQLite
	// needs nothing: every transaction starts with BEGIN IMMEDIATE and so
	// already holds the database's write lock.
	forUpdate string
	// lockSigningKeys, when not empty, runs first in UpdateSigningKeys'
	// transaction to exclude every other UpdateSigningKeys, on every node.
	lockSigningKeys string

	// connect turns a Config into a data source name, and says whether the
	// whole database lives in one connection (SQLite's ":memory:").
	connect func(cfg Config) (dsn string, oneConn bool, err error)
	// isUniqueViolation reports whether err is a unique or primary key
	// constraint violation.
	isUniqueViolation func(err error) bool
	// isBusy reports whether err means "another connection holds the
	// database, try again" (used while opening and while waiting for the
	// migration lock).
	isBusy func(err error) bool
	// migrationLock returns the lock that concurrent migration runs (several
	// nodes starting at once) take turns under.
	migrationLock func(f *flavour) lock.Locker
}

// sqliteFlavour is SQLite through mattn/go-sqlite3.
var sqliteFlavour = flavour{
	name:       "sqlite",
	driver:     "sqlite3",
	goose:      goose.DialectSQLite3,
	migrations: "migrations/sqlite",
	connect:    sqliteDSN,
	isUniqueViolation: func(err error) bool {
		var e sqlite3.Error
		return errors.As(err, &e) &&
			(e.ExtendedCode == sqlite3.ErrConstraintUnique || e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
	},
	isBusy: func(err error) bool {
		var e sqlite3.Error
		return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
	},
	migrationLock: func(f *flavour) lock.Locker {
		return newTableLocker(f.isBusy)
	},
}

// flavourFor returns the flavour a Config names; "" means SQLite.
func flavourFor(name string) (*flavour, error) {
	switch name {
	case "", "sqlite":
		return &sqliteFlavour, nil
	case "postgres":
		return nil, errors.New("sqlstore: the postgres flavour is not available yet")
	default:
		return nil, fmt.Errorf("sqlstore: unknown flavour %q (want sqlite or postgres)", name)
	}
}

// sqliteOptions are the connection options every SQLite connection is opened
// with; doc.go says why.
const sqliteOptions = "_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate"

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
