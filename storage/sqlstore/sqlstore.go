package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
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
