// Package sqlstore provides storage.Store on a SQL database through
// jmoiron/sqlx, in two "flavours" (flavour.go): SQLite (mattn/go-sqlite3, the
// embedded default) and PostgreSQL (jackc/pgx/v5 through database/sql), on
// which many stateless nodes share one database.
//
//	Open(ctx, Config) ──▶ open pool ──▶ Ping ──▶ Migrate (goose, embedded SQL, locked)
//	        │
//	        ▼
//	   *Store: per-entity methods; Update* = BEGIN, SELECT [FOR UPDATE], updater, UPDATE, COMMIT
//
// # SQLite
//
// Config.DSN is a file path (or ":memory:"), and the store opens it as
//
//	file:PATH?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate&_auto_vacuum=incremental
//
// (with %, ? and # in PATH escaped). The options:
//   - _journal_mode=WAL: readers never wait for the writer, and the CLI and a
//     running server can use the same file at once.
//   - _busy_timeout=5000: a writer waits up to 5 s for the write lock instead
//     of failing at once with "database is locked".
//   - _synchronous=NORMAL: with WAL, a commit survives a process crash; a power
//     cut may lose the last commits, never the file.
//   - _foreign_keys=on: SQLite leaves foreign keys off unless asked (the
//     schema has none today; later migrations may).
//   - _txlock=immediate: every transaction begins with BEGIN IMMEDIATE and
//     takes the write lock at its start. A deferred transaction that reads and
//     then writes finds, when it tries to upgrade its lock while another
//     connection writes, that SQLite cannot wait for it: it fails at once with
//     "database is locked" whatever the busy timeout (we measured 82 % of
//     concurrent read-then-write transactions failing). With IMMEDIATE the
//     busy timeout applies and the Update methods are compare-and-swap without
//     retries. The price: transactions are serialised, so they are kept short,
//     and plain reads run outside any transaction.
//   - _auto_vacuum=incremental: pages freed by the collector of expired rows
//     go back to the file system (DeleteExpired ends with a bounded
//     PRAGMA incremental_vacuum), so a database under a steady load levels
//     off instead of keeping its high-water mark. It takes effect when a
//     database is created; a file made before it keeps auto_vacuum=NONE
//     until a VACUUM (with the node stopped) or a restore from
//     `cardsso backup`.
//
// In-process, every write goes to one writer goroutine (writer.go): writes
// that queue while one commits share the next transaction, each in its own
// savepoint, so the cost of a commit is shared and no writer sleeps in the
// busy handler. The writer keeps one connection of the pool for itself,
// with the statement journal in memory. Statements are prepared once and
// reused (stmt.go), and the pool keeps up to 8 connections open and idle.
//
// ":memory:" is a database private to one connection; the pool is held at
// that one connection, so every caller of the Store sees the same database and
// it lives until Close. Two Opens of ":memory:" are two databases.
//
// # PostgreSQL
//
// Config{Flavour: "postgres", DSN: "postgres://user:password@host:5432/cardsso?sslmode=verify-full"}:
// any DSN pgx.ParseConfig reads (a URL or keyword=value pairs); parameters it
// does not know go to the server as run-time settings, so search_path=name
// keeps the tables in a schema of their own (the tests give each store a
// fresh one). postgres.go says why pgx. Several nodes share one database:
//   - Update methods read their row with SELECT ... FOR UPDATE inside the
//     transaction, so a concurrent update on another node waits and then
//     works on the row this one wrote: no update is lost.
//   - UpdateSigningKeys first locks the one row of signing_key_lock (FOR
//     UPDATE), so key rotation is compare-and-swap across nodes and two nodes
//     never rotate twice.
//   - Claims (codes, refresh tokens) are one UPDATE ... WHERE used IS NULL
//     ... RETURNING: of two nodes racing, one gets the row, the other
//     storage.ErrAlreadyUsed.
//   - A transaction that PostgreSQL aborts as a deadlock (40P01) or a
//     serialization failure (40001) wrote nothing and runs again, up to 5
//     times in all; so an updater func may run more than once and must not
//     have other effects.
//   - DeleteExpired deletes in batches that skip rows locked elsewhere (FOR
//     UPDATE SKIP LOCKED): every node may collect at once.
//   - Migrations run under a session advisory lock keyed by the schema, held
//     on a connection of its own: nodes starting together take turns, and a
//     node that dies holding it releases it with its session.
//   - A unique violation (SQLSTATE 23505) is storage.ErrAlreadyExists.
//
// Nothing a node needs lives only in its memory: the Store keeps no cache,
// and expiry is judged by the node's clock (Config.Now), so nodes keep their
// clocks in step (NTP). Pool settings come from Config; MaxOpenConns across
// all nodes must stay below the server's max_connections.
//
// # Representation
//
// Times are BIGINT unix milliseconds in UTC (a time is rounded down to the
// millisecond; the zero time round-trips), string lists are JSON text (nil and
// empty stay apart), binary values are BLOB (BYTEA in PostgreSQL), and there
// are no foreign keys between tables. An empty CodeHash or SSNIndex is stored
// as NULL, so the unique indexes on them only compare real values. Create
// refuses an empty key.
//
// Every query uses ? placeholders and sqlx.Rebind, and SQL that PostgreSQL
// accepts too (including ON CONFLICT and UPDATE ... RETURNING); what cannot be
// shared (connecting, migrations, row locking, error codes, the batched
// delete of expired rows) lives in the flavour.
//
// # Capabilities
//
// Beyond storage.Store, a *Store has every capability package storage
// names (capabilities.go pins each): the fast paths storage.CodeSaver,
// storage.TokenIssuer and storage.Completer (issue.go), storage.Health
// (probe.go), storage.Migrator (migrate.go), storage.Backuper (backup.go;
// SQLite only, PostgreSQL answers errors.ErrUnsupported) and
// storage.BulkCreator (bulk.go). Files: sqlstore.go (Open, the pool),
// tx.go (transactions, errors), entity.go (the table mapping and its
// statements), stmt.go (how a statement reaches the database), encode.go
// (values the databases do not share a type for), one file per entity.
//
// # Migrations
//
// Versioned SQL files in migrations/<flavour>/, embedded and run by
// pressly/goose/v3 (migrate.go says why goose). Both flavours have the same
// versions, tables, columns and indexes (TestPostgres/SameSchema checks).
// Open runs the pending ones; `cardsso migrate` calls Migrate. Runs take a
// lock (for SQLite a lease in the table cardsso_migration_lock, for
// PostgreSQL an advisory lock), so several processes starting on one
// database at once apply each migration once.
package sqlstore
