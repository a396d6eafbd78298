package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations are versioned SQL files (migrations/<flavour>/NNNNN_name.sql),
// embedded in the binary and run by pressly/goose/v3. Why goose: it reads
// migrations from an fs.FS (so go:embed works and the binary carries its
// schema), they stay plain SQL files a DBA can read, its Provider API keeps
// all state in a value (no package globals, no init registration, which house
// rule 8 asks for), it knows both SQLite and PostgreSQL, and its lock.Locker
// interface lets several nodes starting at once take turns.

// newMigrationProvider prepares the goose provider for this store's flavour.
func (s *Store) newMigrationProvider() (*goose.Provider, error) {
	dir, err := fs.Sub(migrationFiles, s.flavour.migrations)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", s.flavour.name, err)
	}
	p, err := goose.NewProvider(s.flavour.goose, s.db.DB, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", s.flavour.name, err)
	}
	return p, nil
}

// Migrate applies every pending migration. It is idempotent, and safe when
// several processes run it on one database at once: they take turns under the
// flavour's migration lock, and each migration is applied once. Open already
// calls it; it is exported for `cardsso migrate`.
//
// The lock wraps the whole of goose's Up rather than being handed to goose
// (goose.WithLocker): Up first checks for pending migrations, creating its
// version table, outside any lock, and processes racing there back off for a
// whole second each.
func (s *Store) Migrate(ctx context.Context) (err error) {
	s.migrateMu.Lock()
	defer s.migrateMu.Unlock()
	// A database in one connection is seen by no other process, and locking
	// it would need a second connection.
	if s.migrationLock != nil {
		l := s.migrationLock()
		if err := l.Lock(ctx, s.db.DB); err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
		defer func() {
			// Unlock even when ctx has ended.
			if uerr := l.Unlock(context.WithoutCancel(ctx), s.db.DB); uerr != nil && err == nil {
				err = fmt.Errorf("sqlstore: migrate: %w", uerr)
			}
		}()
	}
	if _, err := s.migrations.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// MigrationVersion returns the version of the last migration applied (0 for
// an empty database).
func (s *Store) MigrationVersion(ctx context.Context) (int64, error) {
	v, err := s.migrations.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: migration version: %w", err)
	}
	return v, nil
}

// tableLocker is a goose lock.Locker for SQLite, which goose has none for. The
// lock is the one row of cardsso_migration_lock, held under a lease that a
// heartbeat renews; a process that dies holding it keeps the others waiting
// for at most one lease. The lease runs on the wall clock (time.Now), not on
// Config.Now, which tests move at will.
//
// The PostgreSQL flavour holds an advisory lock instead (advisoryLocker in
// postgres.go).
type tableLocker struct {
	owner     string
	isBusy    func(error) bool
	lease     time.Duration
	heartbeat time.Duration
	poll      time.Duration

	mu   sync.Mutex
	stop chan struct{} // closed by Unlock to end the heartbeat
	done chan struct{} // closed by the heartbeat when it ends
}

var _ lock.Locker = (*tableLocker)(nil)

func newTableLocker(isBusy func(error) bool) *tableLocker {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	host, _ := os.Hostname()
	return &tableLocker{
		owner:     fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		isBusy:    isBusy,
		lease:     time.Minute,
		heartbeat: 5 * time.Second,
		poll:      50 * time.Millisecond,
	}
}

// The locker's statements are SQLite's (? placeholders, no Rebind).
const (
	lockTable = `CREATE TABLE IF NOT EXISTS cardsso_migration_lock (
		id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
		owner      TEXT    NOT NULL,
		expires_at BIGINT  NOT NULL)`
	// Take the lock when it is free or its lease has run out.
	lockTake = `INSERT INTO cardsso_migration_lock (id, owner, expires_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
		WHERE cardsso_migration_lock.expires_at < ?`
	lockRenew   = `UPDATE cardsso_migration_lock SET expires_at = ? WHERE id = 1 AND owner = ?`
	lockRelease = `DELETE FROM cardsso_migration_lock WHERE id = 1 AND owner = ?`
)

// Lock waits until this process holds the migration lock, or ctx ends.
func (l *tableLocker) Lock(ctx context.Context, db *sql.DB) error {
	if err := l.retryBusy(ctx, func() error {
		_, err := db.ExecContext(ctx, lockTable)
		return err
	}); err != nil {
		return fmt.Errorf("create migration lock table: %w", err)
	}
	for {
		now := time.Now()
		res, err := db.ExecContext(ctx, lockTake, l.owner, now.Add(l.lease).UnixMilli(), now.UnixMilli())
		if err == nil {
			var n int64
			if n, err = res.RowsAffected(); err == nil && n == 1 {
				l.startHeartbeat(db)
				return nil
			}
		}
		if err != nil && !l.isBusy(err) {
			return fmt.Errorf("take migration lock: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for migration lock: %w", context.Cause(ctx))
		case <-time.After(l.poll):
		}
	}
}

// Unlock releases the lock, if this process still holds it.
func (l *tableLocker) Unlock(ctx context.Context, db *sql.DB) error {
	l.mu.Lock()
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop, l.done = nil, nil
	}
	l.mu.Unlock()
	if err := l.retryBusy(ctx, func() error {
		_, err := db.ExecContext(ctx, lockRelease, l.owner)
		return err
	}); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}

// startHeartbeat renews the lease until Unlock. A renewal that fails (the
// database busy with a long migration) is tried again at the next beat.
func (l *tableLocker) startHeartbeat(db *sql.DB) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stop, done := make(chan struct{}), make(chan struct{})
	l.stop, l.done = stop, done
	go func() {
		defer close(done)
		t := time.NewTicker(l.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), l.heartbeat)
				_, _ = db.ExecContext(ctx, lockRenew, time.Now().Add(l.lease).UnixMilli(), l.owner)
				cancel()
			}
		}
	}()
}

// retryBusy runs fn until it succeeds, fails for a reason other than a busy
// database, or ctx ends.
func (l *tableLocker) retryBusy(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil || !l.isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-time.After(l.poll):
		}
	}
}
