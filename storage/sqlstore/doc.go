// Package sqlstore provides storage.Store on a SQL database through
// jmoiron/sqlx: SQLite (mattn/go-sqlite3, the embedded default) now, and
// PostgreSQL as a second "flavour" (see flavour.go) so that many stateless
// nodes can share one database.
//
//	Open(ctx, Config) ──▶ sqlx.Open ──▶ Ping ──▶ Migrate (goose, embedded SQL, locked)
//	        │
//	        ▼
//	   *Store: per-entity methods; Update* = BEGIN, SELECT, updater, UPDATE, COMMIT
//
// # SQLite
//
// Config.DSN is a file path (or ":memory:"), and the store opens it as
//
//	file:PATH?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate
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
//
// ":memory:" is a database private to one connection; the pool is held at
// that one connection, so every caller of the Store sees the same database and
// it lives until Close. Two Opens of ":memory:" are two databases.
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
// shared (migrations, row locking, error codes) lives in the flavour.
//
// # Migrations
//
// Versioned SQL files in migrations/<flavour>/, embedded and run by
// pressly/goose/v3 (migrate.go says why goose). Open runs the pending ones;
// `cardsso migrate` calls Migrate. Runs take a lock (for SQLite a lease in the
// table cardsso_migration_lock), so several processes starting on one
// database at once apply each migration once.
package sqlstore
