package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// openPostgres opens a PostgreSQL store on dsn, closed at cleanup. The pool
// stays small: CI runs several test binaries against one server.
func openPostgres(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	return open(t, sqlstore.Config{Flavour: "postgres", DSN: dsn, MaxOpenConns: 8, MaxIdleConns: 8})
}

// TestPostgres runs everything that needs a PostgreSQL server, on the
// database CARDSSO_TEST_POSTGRES names; each subtest works in schemas of its
// own (storagetest.FreshPostgres). Without the variable nothing runs.
func TestPostgres(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Logf("%s is not set: the PostgreSQL tests do not run", storagetest.PostgresEnv)
		return
	}
	t.Run("Conformance", func(t *testing.T) {
		storagetest.RunTests(t, func(t *testing.T) storage.Store {
			return openPostgres(t, storagetest.FreshPostgres(t))
		})
	})
	t.Run("Nodes", func(t *testing.T) {
		storagetest.RunNodeTests(t, func(t *testing.T, n int) []storage.Store {
			dsn := storagetest.FreshPostgres(t)
			nodes := make([]storage.Store, n)
			for i := range nodes {
				nodes[i] = openPostgres(t, dsn)
			}
			return nodes
		})
	})
	// A pool of one connection: nothing may hold a connection while asking
	// for another (the migration lock has a connection of its own).
	t.Run("OneConnection", func(t *testing.T) {
		storagetest.RunTests(t, func(t *testing.T) storage.Store {
			return open(t, sqlstore.Config{Flavour: "postgres", DSN: storagetest.FreshPostgres(t), MaxOpenConns: 1})
		})
	})
	t.Run("OpenConcurrently", testPostgresOpenConcurrently)
	t.Run("MigrateIdempotent", testPostgresMigrateIdempotent)
	t.Run("MigrationLock", testPostgresMigrationLock)
	t.Run("SchemasAreSeparate", testPostgresSchemasAreSeparate)
	t.Run("SameSchema", testPostgresSameSchema)
	t.Run("QueriesUseIndexes", testPostgresQueriesUseIndexes)
	t.Run("SSNLookupUsesIndex", testPostgresSSNLookupUsesIndex)
	t.Run("DeadlockRetried", testPostgresDeadlockRetried)
}

// testPostgresOpenConcurrently starts several stores on one empty schema at
// once, like several nodes starting together: every one migrates or waits for
// the one that does, and each migration is applied once.
func testPostgresOpenConcurrently(t *testing.T) {
	dsn := storagetest.FreshPostgres(t)
	const n = 8
	stores := make([]*sqlstore.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = sqlstore.Open(t.Context(), sqlstore.Config{Flavour: "postgres", DSN: dsn, MaxOpenConns: 2})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
		if v, err := stores[i].MigrationVersion(t.Context()); err != nil || v != latestVersion {
			t.Errorf("Open #%d: MigrationVersion = %d, %v; want %d", i, v, err, latestVersion)
		}
	}
	if errs[0] != nil {
		return
	}
	var applied int
	if err := stores[0].DB().Get(&applied, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0"); err != nil || applied != latestVersion {
		t.Errorf("migrations applied = %d, %v; want %d (each once)", applied, err, latestVersion)
	}
	// The key-set lock row is there once.
	var locks int
	if err := stores[0].DB().Get(&locks, "SELECT COUNT(*) FROM signing_key_lock"); err != nil || locks != 1 {
		t.Errorf("rows in signing_key_lock = %d, %v; want 1", locks, err)
	}
}

func testPostgresMigrateIdempotent(t *testing.T) {
	ctx := t.Context()
	dsn := storagetest.FreshPostgres(t)
	s := openPostgres(t, dsn)
	for i := range 3 {
		if v, err := s.MigrationVersion(ctx); err != nil || v != latestVersion {
			t.Fatalf("MigrationVersion (run %d) = %d, %v; want %d", i, v, err, latestVersion)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate (run %d): %v", i, err)
		}
	}
	if err := s.CreateClient(ctx, storage.Client{ID: "kept"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	s2 := openPostgres(t, dsn)
	if v, err := s2.MigrationVersion(ctx); err != nil || v != latestVersion {
		t.Errorf("MigrationVersion after reopening = %d, %v; want %d", v, err, latestVersion)
	}
	if _, err := s2.GetClient(ctx, "kept"); err != nil {
		t.Errorf("GetClient after reopening: %v", err)
	}
}

// testPostgresMigrationLock holds the schema's migration lock as another
// process would and checks that Migrate waits for it, then runs once it is
// released.
func testPostgresMigrationLock(t *testing.T) {
	dsn := storagetest.FreshPostgres(t)
	s := openPostgres(t, dsn)
	other := openPostgres(t, dsn)
	conn, err := other.DB().Connx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var schema string
	if err := conn.GetContext(t.Context(), &schema, "SELECT current_schema()"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "cardsso_test_") {
		t.Fatalf("current_schema() = %q; want the test's own schema", schema)
	}
	key := sqlstore.MigrationLockKey(schema)
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_lock($1)", key); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := s.Migrate(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while another process holds the lock = %v; want to wait until the deadline", err)
	}
	if _, err := conn.ExecContext(t.Context(), "SELECT pg_advisory_unlock($1)", key); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate once the lock is free: %v", err)
	}
	// Migrate released its lock: it can be taken again at once.
	var locked bool
	if err := conn.GetContext(t.Context(), &locked, "SELECT pg_try_advisory_lock($1)", key); err != nil || !locked {
		t.Errorf("pg_try_advisory_lock after Migrate = %v, %v; want the lock free", locked, err)
	}
}

func testPostgresSchemasAreSeparate(t *testing.T) {
	ctx := t.Context()
	a := openPostgres(t, storagetest.FreshPostgres(t))
	b := openPostgres(t, storagetest.FreshPostgres(t))
	if err := a.CreateClient(ctx, storage.Client{ID: "only-in-a"}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if _, err := b.GetClient(ctx, "only-in-a"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("b.GetClient(a client of a) = %v; want ErrNotFound", err)
	}
}

// schemaColumn and schemaIndex describe a schema the same way for both
// flavours.
type schemaColumn struct {
	Table   string `db:"tbl"`
	Column  string `db:"col"`
	NotNull bool   `db:"notnull"`
}

type schemaIndex struct {
	Table   string `db:"tbl"`
	Index   string `db:"idx"`
	Unique  bool   `db:"uniq"`
	Columns string `db:"cols"`
}

// testPostgresSameSchema checks that the two flavours' migrations make the
// same tables, columns (in order, with the same nullability) and indexes.
func testPostgresSameSchema(t *testing.T) {
	ctx := t.Context()
	lite := open(t, sqlstore.Config{DSN: ":memory:"})
	pg := openPostgres(t, storagetest.FreshPostgres(t))
	// Bookkeeping tables of goose and of the SQLite migration lock differ.
	skip := func(table string) bool {
		return table == "goose_db_version" || table == "cardsso_migration_lock" || strings.HasPrefix(table, "sqlite_")
	}
	var liteCols, pgCols []schemaColumn
	if err := lite.DB().SelectContext(ctx, &liteCols, `SELECT m.name AS tbl, p.name AS col, p."notnull" AS "notnull"
		FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid`); err != nil {
		t.Fatal(err)
	}
	if err := pg.DB().SelectContext(ctx, &pgCols, `SELECT table_name AS tbl, column_name AS col, is_nullable = 'NO' AS "notnull"
		FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`); err != nil {
		t.Fatal(err)
	}
	liteCols = slices.DeleteFunc(liteCols, func(c schemaColumn) bool { return skip(c.Table) })
	pgCols = slices.DeleteFunc(pgCols, func(c schemaColumn) bool { return skip(c.Table) })
	if !slices.Equal(pgCols, liteCols) || len(pgCols) == 0 {
		t.Errorf("PostgreSQL columns = %v\nwant the SQLite ones %v", pgCols, liteCols)
	}

	var liteIdx, pgIdx []schemaIndex
	if err := lite.DB().SelectContext(ctx, &liteIdx, `SELECT m.tbl_name AS tbl, m.name AS idx, il."unique" AS uniq,
			group_concat(ii.name, ',') AS cols
		FROM sqlite_master m JOIN pragma_index_list(m.tbl_name) il ON il.name = m.name JOIN pragma_index_info(m.name) ii
		WHERE m.type = 'index' AND m.sql IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	// Primary keys are left out: SQLite's have no name.
	if err := pg.DB().SelectContext(ctx, &pgIdx, `SELECT t.relname AS tbl, i.relname AS idx, ix.indisunique AS uniq,
			string_agg(a.attname, ',' ORDER BY k.ord) AS cols
		FROM pg_index ix
		JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
		WHERE n.nspname = current_schema() AND NOT ix.indisprimary
		GROUP BY 1, 2, 3 ORDER BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	liteIdx = slices.DeleteFunc(liteIdx, func(i schemaIndex) bool { return skip(i.Table) })
	pgIdx = slices.DeleteFunc(pgIdx, func(i schemaIndex) bool { return skip(i.Table) })
	if !slices.Equal(pgIdx, liteIdx) || len(pgIdx) == 0 {
		t.Errorf("PostgreSQL indexes = %v\nwant the SQLite ones %v", pgIdx, liteIdx)
	}
}

// explain returns PostgreSQL's plan for a statement, one line a node.
func explain(t *testing.T, conn *sqlx.Conn, query string, args ...any) string {
	t.Helper()
	var lines []string
	if err := conn.SelectContext(t.Context(), &lines, "EXPLAIN "+conn.Rebind(query), args...); err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// testPostgresQueriesUseIndexes is TestQueriesUseIndexes for PostgreSQL: every
// lookup can run through an index. On tables this small the planner prefers
// to read the whole table whatever the indexes, so sequential scans are
// priced out (enable_seqscan = off): a plan that still has one has no index
// to use.
func testPostgresQueriesUseIndexes(t *testing.T) {
	s := openPostgres(t, storagetest.FreshPostgres(t))
	conn, err := s.DB().Connx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.WithoutCancel(t.Context()), "RESET enable_seqscan")
	for _, l := range s.Lookups() {
		plan := explain(t, conn, l.Query, l.Args...)
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index") {
			t.Errorf("plan of %q =\n%s\nwant an index scan", l.Query, plan)
		}
	}
}

// testPostgresSSNLookupUsesIndex seeds enough accounts for the planner's own
// choice to matter and checks that the login lookup by blind index is an
// index scan on accounts_ssn_index.
func testPostgresSSNLookupUsesIndex(t *testing.T) {
	ctx := t.Context()
	s := openPostgres(t, storagetest.FreshPostgres(t))
	const n = 20000
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO accounts (id, name, ssn_sealed, ssn_index, ssn_masked,
			card_region, password_hash, real_name_verified_at, created_at, updated_at)
		SELECT 'acct-' || i, 'name', sha256(('sealed' || i)::bytea), sha256(i::text::bytea), '110***********0017',
			'110105', 'hash', 0, 0, 0
		FROM generate_series(1, $1) AS i`, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE accounts"); err != nil {
		t.Fatal(err)
	}
	var index []byte
	if err := s.DB().GetContext(ctx, &index, "SELECT sha256('4242'::bytea)"); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAccountBySSNIndex(ctx, index)
	if err != nil || a.ID != "acct-4242" {
		t.Fatalf("GetAccountBySSNIndex = %q, %v; want acct-4242", a.ID, err)
	}
	conn, err := s.DB().Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var query string
	for _, l := range s.Lookups() {
		if strings.HasSuffix(l.Query, "WHERE ssn_index = ?") {
			query = l.Query
		}
	}
	plan := explain(t, conn, query, index)
	if !strings.Contains(plan, "Index Scan using accounts_ssn_index on accounts") {
		t.Errorf("plan of the lookup by blind index among %d accounts =\n%s\nwant an index scan using accounts_ssn_index", n, plan)
	}
}

// testPostgresDeadlockRetried runs two transactions that lock two rows in
// opposite orders. PostgreSQL detects the deadlock (after deadlock_timeout,
// 1 s by default) and aborts one; inTx runs that one again, and both commit.
func testPostgresDeadlockRetried(t *testing.T) {
	ctx := t.Context()
	s := openPostgres(t, storagetest.FreshPostgres(t))
	for _, id := range []string{"a", "b"} {
		if err := s.CreateClient(ctx, storage.Client{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	var attempts atomic.Int32
	both := make(chan struct{}, 2)
	touch := func(first, second string) error {
		var tries int
		return s.InTx(ctx, func(tx *sqlx.Tx) error {
			tries++
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, "UPDATE clients SET name = name || '+' WHERE id = $1", first); err != nil {
				return err
			}
			if tries == 1 {
				// Both hold their first row before either asks for its
				// second.
				both <- struct{}{}
				for len(both) < 2 {
					time.Sleep(time.Millisecond)
				}
			}
			_, err := tx.ExecContext(ctx, "UPDATE clients SET name = name || '+' WHERE id = $1", second)
			return err
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = touch("a", "b") })
	wg.Go(func() { errs[1] = touch("b", "a") })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v; want it retried after the deadlock and committed", i, err)
		}
	}
	if got := attempts.Load(); got != 3 {
		t.Errorf("transactions ran %d times; want 3 (one aborted by the deadlock and run again)", got)
	}
	for _, id := range []string{"a", "b"} {
		c, err := s.GetClient(ctx, id)
		if err != nil || c.Name != "++" {
			t.Errorf("GetClient(%q).Name = %q, %v; want %q (both transactions once)", id, c.Name, err, "++")
		}
	}
}

// Benchmarks on PostgreSQL, when it is configured.

func BenchmarkPostgresClaimRefreshToken(b *testing.B) {
	if !storagetest.PostgresConfigured() {
		b.Logf("%s is not set", storagetest.PostgresEnv)
		return
	}
	ctx := b.Context()
	s := openPostgres(b, storagetest.FreshPostgres(b))
	expires := time.Now().Add(time.Hour)
	for i := range b.N {
		rt := storage.RefreshToken{Hash: fmt.Appendf(nil, "hash-%d", i), ID: fmt.Sprint(i), ExpiresAt: expires}
		if err := s.CreateRefreshToken(ctx, rt); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.ClaimRefreshToken(ctx, fmt.Appendf(nil, "hash-%d", i), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
