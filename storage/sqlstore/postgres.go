package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// postgresFlavour is PostgreSQL through jackc/pgx/v5, used as a database/sql
// driver (pgx/v5/stdlib). Why pgx: it is maintained and fast, it is the
// driver lib/pq's own maintainers point to (lib/pq is in maintenance mode),
// and its stdlib adapter keeps the store on database/sql and sqlx like the
// SQLite flavour, so every query is shared. sqlx is told the driver name
// "pgx", which it knows to use $1 placeholders (it does not know "pgx/v5",
// and Rebind would then leave the ? in place).
//
// Every statement runs at the server's default isolation (READ COMMITTED).
// Update methods lock the row they read with SELECT ... FOR UPDATE, so two
// nodes updating one session or client take turns and neither update is
// lost; UpdateSigningKeys first locks the one row of signing_key_lock, so key
// rotation is compare-and-swap across nodes; the claims are single UPDATE ...
// WHERE used IS NULL ... RETURNING statements, which PostgreSQL re-checks on
// the latest row version after waiting for a concurrent claim.
var postgresFlavour = flavour{
	name:            "postgres",
	goose:           goose.DialectPostgres,
	migrations:      "migrations/postgres",
	forUpdate:       " FOR UPDATE",
	lockSigningKeys: "SELECT id FROM signing_key_lock WHERE id = 1 FOR UPDATE",
	open:            postgresOpen,
	isUniqueViolation: func(err error) bool {
		return pgCode(err) == "23505" // unique_violation
	},
	isBusy: func(err error) bool {
		switch pgCode(err) {
		case "57P03", // cannot_connect_now: the server is starting up
			"53300": // too_many_connections
			return true
		}
		return false
	},
	isRetryable: func(err error) bool {
		switch pgCode(err) {
		case "40001", // serialization_failure (a server whose default isolation is SERIALIZABLE)
			"40P01": // deadlock_detected
			return true
		}
		return false
	},
	unreachable: func(err error) bool {
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) || pgconn.Timeout(err) || errors.Is(err, driver.ErrBadConn) {
			return true
		}
		var ne net.Error
		if errors.As(err, &ne) {
			return true
		}
		code := pgCode(err)
		return strings.HasPrefix(code, "08") || // connection_exception
			code == "57P01" || code == "57P02" || code == "57P03" || // admin or crash shutdown, cannot connect now
			code == "53300" // too_many_connections
	},
	cannotWrite: func(err error) bool {
		code := pgCode(err)
		return code == "25006" || // read_only_sql_transaction: a standby, or default_transaction_read_only
			strings.HasPrefix(code, "53") || // insufficient_resources: disk_full, out_of_memory
			strings.HasPrefix(code, "58") // system_error: I/O
	},
	// Batches of rows locked with SKIP LOCKED: collectors on several nodes
	// share the work instead of waiting for each other, and never deadlock
	// with each other or with the other transactions.
	deleteExpired: func(table, key string) string {
		return "DELETE FROM " + table + " WHERE (" + key + ") IN (SELECT " + key + " FROM " + table +
			" WHERE expires_at < ? LIMIT ? FOR UPDATE SKIP LOCKED)"
	},
}

// pgCode is the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// postgresOpen prepares a pool for a postgres:// URL or a keyword/value DSN
// (anything pgx.ParseConfig accepts, including runtime parameters such as
// search_path).
func postgresOpen(cfg Config) (connection, error) {
	if cfg.DSN == "" {
		// pgx would fill an empty DSN in from PG* environment variables;
		// the configuration names its database explicitly.
		return connection{}, errors.New("sqlstore: postgres: empty DSN (want postgres://user@host:port/database)")
	}
	pc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		// The parse error quotes the DSN, password and all where it cannot
		// find it: say nothing more.
		return connection{}, errors.New("sqlstore: postgres: the DSN does not parse (want postgres://user@host:port/database?options or keyword=value pairs)")
	}
	if _, ok := pc.RuntimeParams["application_name"]; !ok {
		pc.RuntimeParams["application_name"] = "cardsso"
	}
	// A server that does not answer is found in seconds, not in the
	// minutes of the system defaults: connecting gives up after
	// connect_timeout (5 s unless the DSN says), and TCP keepalive probes
	// an idle connection after 15 s and drops it after three unanswered
	// probes 5 s apart (a partition with no reset). Queries have their own
	// deadline (Config.QueryTimeout).
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 5 * time.Second
	}
	dialer := &net.Dialer{Timeout: pc.ConnectTimeout, KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3,
	}}
	pc.DialFunc = dialer.DialContext
	connector := stdlib.GetConnector(*pc)
	db := sqlx.NewDb(sql.OpenDB(connector), "pgx")
	return connection{
		db:            db,
		migrationLock: func() lock.Locker { return newAdvisoryLocker(connector) },
	}, nil
}

// advisoryLocker is the PostgreSQL migration lock: a session-level advisory
// lock, as goose's own lock.NewPostgresSessionLocker takes, held on a
// connection of its own outside the store's pool, so that a pool of one
// connection can still migrate while the lock is held. A process that dies
// holding it ends its session, and PostgreSQL releases the lock at once.
//
// The lock key is derived from the schema the migrations go into
// (current_schema()), so stores in different schemas of one database (the
// tests' isolation) do not wait for each other. goose's locker would poll
// every second at best; this one polls every 50 ms.
type advisoryLocker struct {
	connector driver.Connector
	poll      time.Duration

	db   *sql.DB // a pool of the lock's one connection
	conn *sql.Conn
	key  int64
}

var _ lock.Locker = (*advisoryLocker)(nil)

func newAdvisoryLocker(connector driver.Connector) *advisoryLocker {
	return &advisoryLocker{connector: connector, poll: 50 * time.Millisecond}
}

// migrationLockKey is the advisory lock key for migrating schema.
func migrationLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("cardsso migrate\x00" + schema))
	return int64(h.Sum64())
}

// Lock waits until this process holds the migration lock of the DSN's
// schema, or ctx ends. The db argument (the store's pool) is not used.
func (l *advisoryLocker) Lock(ctx context.Context, _ *sql.DB) (err error) {
	l.db = sql.OpenDB(l.connector)
	l.db.SetMaxOpenConns(1)
	defer func() {
		if err != nil {
			_ = l.db.Close()
			l.db, l.conn = nil, nil
		}
	}()
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: connect: %w", err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("migration lock: current schema: %w", err)
	}
	l.key = migrationLockKey(schema)
	for {
		var locked bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&locked); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if locked {
			l.conn = conn
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for migration lock: %w", context.Cause(ctx))
		case <-time.After(l.poll):
		}
	}
}

// Unlock releases the lock and closes its connection. Closing the session
// releases the lock even when the unlock statement fails, so only a failure
// to close is an error.
func (l *advisoryLocker) Unlock(ctx context.Context, _ *sql.DB) error {
	if l.db == nil {
		return nil
	}
	if l.conn != nil {
		_, _ = l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", l.key)
		_ = l.conn.Close()
	}
	err := l.db.Close()
	l.db, l.conn = nil, nil
	if err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	return nil
}
