package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// The scale benchmarks (issue 6, point 4): the login lookup among a million
// accounts, and what an account and a session cost on disk. They seed their
// rows without timing them, then measure. docs/operations.md has the numbers
// and the command:
//
//	CARDSSO_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/cardsso_bench?sslmode=disable \
//	    go test ./storage/sqlstore -run '^$' -bench Scale -timeout 30m
//
// Like every benchmark they run only with -bench, so `go test` pays nothing
// for them.
//
// PostgreSQL: with BenchPostgresEnv set, the rows go into the database it
// names (its default schema, migrated as `cardsso migrate` would) and stay
// there, so later runs skip the seeding; it must be empty or hold exactly
// what an earlier run with the same -scale.* flags seeded. Otherwise, with
// CARDSSO_TEST_POSTGRES set, into a fresh schema (storagetest.FreshPostgres)
// dropped at the end. With neither, BenchmarkScalePostgres does nothing.
// SQLite: a temporary file, seeded every run.

// BenchPostgresEnv names the variable holding the URL of a PostgreSQL
// database that BenchmarkScalePostgres seeds once and reuses.
const BenchPostgresEnv = "CARDSSO_BENCH_POSTGRES"

var (
	scaleAccounts = flag.Int("scale.accounts", 1_000_000, "accounts the Scale benchmarks seed")
	scaleSessions = flag.Int("scale.sessions", 100_000, "sessions BenchmarkScalePostgres seeds")
)

// scaleSeedChunk is how many rows go in one COPY (PostgreSQL) or one
// transaction (SQLite).
const scaleSeedChunk = 100_000

// BenchmarkScalePostgres seeds -scale.accounts accounts and -scale.sessions
// sessions and measures GetAccountBySSNIndex and GetSession at random
// existing keys (ns/op, and p50/p99 of single calls), after checking with
// EXPLAIN that both are index scans. The lookup line also reports the bytes
// per account, the session line the bytes per session: pg_total_relation_size
// (heap, indexes and TOAST) divided by the rows, the heap and the indexes
// apart, and the average pg_column_size of a row.
func BenchmarkScalePostgres(b *testing.B) {
	var dsn string
	switch {
	case os.Getenv(BenchPostgresEnv) != "":
		dsn = os.Getenv(BenchPostgresEnv)
	case storagetest.PostgresConfigured():
		dsn = storagetest.FreshPostgres(b)
	default:
		b.Logf("neither %s nor %s is set: the PostgreSQL scale benchmark does not run", BenchPostgresEnv, storagetest.PostgresEnv)
		return
	}
	ctx := b.Context()
	nAcc, nSess := *scaleAccounts, *scaleSessions
	if nAcc < 1 || nSess < 1 {
		b.Fatalf("-scale.accounts=%d -scale.sessions=%d; want at least 1 of each", nAcc, nSess)
	}
	s := openPostgres(b, dsn)
	const pgColumns = `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	checkSeededColumns(b, s, pgColumns, "accounts", scaleAccountColumns)
	checkSeededColumns(b, s, pgColumns, "sessions", scaleSessionColumns)
	var gotAcc, gotSess int
	if err := s.DB().GetContext(ctx, &gotAcc, "SELECT count(*) FROM accounts"); err != nil {
		b.Fatal(err)
	}
	if err := s.DB().GetContext(ctx, &gotSess, "SELECT count(*) FROM sessions"); err != nil {
		b.Fatal(err)
	}
	switch {
	case gotAcc == 0 && gotSess == 0:
		start := time.Now()
		if err := seedPostgres(ctx, dsn, nAcc, nSess); err != nil {
			b.Fatalf("seed: %v", err)
		}
		b.Logf("seeded %d accounts and %d sessions in %v", nAcc, nSess, time.Since(start).Round(time.Second))
		start = time.Now()
		// What autovacuum would have done to a table of this age: the
		// planner's statistics and the visibility map.
		if _, err := s.DB().ExecContext(ctx, "VACUUM ANALYZE accounts"); err != nil {
			b.Fatal(err)
		}
		if _, err := s.DB().ExecContext(ctx, "VACUUM ANALYZE sessions"); err != nil {
			b.Fatal(err)
		}
		b.Logf("VACUUM ANALYZE in %v", time.Since(start).Round(time.Second))
	case gotAcc == nAcc && gotSess == nSess:
		b.Logf("reusing the %d accounts and %d sessions seeded before", nAcc, nSess)
	default:
		b.Fatalf("the database holds %d accounts and %d sessions; want none (to seed) or %d and %d (seeded by an earlier run with the same -scale flags)",
			gotAcc, gotSess, nAcc, nSess)
	}
	// The rows are the ones scaleAccount and scaleSession make (an older
	// version of this benchmark's, or a schema change that the seeding
	// missed, would differ).
	const stale = "\n(a database seeded by another version of this benchmark must be emptied: drop and create it)"
	for _, i := range []int{0, nAcc / 2, nAcc - 1} {
		checkScaleAccount(b, s, i, stale)
	}
	for _, i := range []int{0, nSess - 1} {
		want := scaleSession(i, nAcc)
		if got, err := s.GetSession(ctx, want.ID); err != nil || !reflect.DeepEqual(got, want) {
			b.Fatalf("GetSession(session %d) = %+v, %v\nwant %+v%s", i, got, err, want, stale)
		}
	}

	b.Run("GetAccountBySSNIndex", func(b *testing.B) {
		plan := pgExplain(b, s, lookupQuery(b, s, "FROM accounts WHERE ssn_index = ?"), scaleIndex(nAcc/3))
		if !strings.Contains(plan, "Index Scan using accounts_ssn_index on accounts") {
			b.Fatalf("plan of the lookup by blind index among %d accounts =\n%s\nwant an index scan using accounts_ssn_index", nAcc, plan)
		}
		b.Logf("EXPLAIN: %s", plan)
		sz := pgSizes(b, s, "accounts")
		measureLookups(b, nAcc, func(i int) func() error { return lookupAccount(ctx, s, i) })
		sz.report(b, "account")
	})
	b.Run("GetSession", func(b *testing.B) {
		now := time.Now()
		plan := pgExplain(b, s, lookupQuery(b, s, "FROM sessions WHERE id = ? AND expires_at > ?"),
			scaleSession(nSess/3, nAcc).ID, now.UnixMilli())
		if !strings.Contains(plan, "Index Scan using sessions_pkey on sessions") {
			b.Fatalf("plan of the session lookup among %d sessions =\n%s\nwant an index scan using sessions_pkey", nSess, plan)
		}
		b.Logf("EXPLAIN: %s", plan)
		sz := pgSizes(b, s, "sessions")
		measureLookups(b, nSess, func(i int) func() error {
			id := scaleSession(i, nAcc).ID
			return func() error {
				got, err := s.GetSession(ctx, id)
				if err == nil && got.ID != id {
					err = fmt.Errorf("GetSession(%q) found session %q", id, got.ID)
				}
				return err
			}
		})
		sz.report(b, "session")
	})
}

// BenchmarkScaleSQLite seeds -scale.accounts accounts into a temporary SQLite
// file and measures GetAccountBySSNIndex at random existing indexes, after
// checking the query plan; it reports the file's bytes per account (every
// table and index; only accounts has rows).
func BenchmarkScaleSQLite(b *testing.B) {
	ctx := b.Context()
	n := *scaleAccounts
	if n < 1 {
		b.Fatalf("-scale.accounts=%d; want at least 1", n)
	}
	s := open(b, sqlstore.Config{DSN: tempFile(b)})
	checkSeededColumns(b, s, "SELECT name FROM pragma_table_info(?) ORDER BY cid", "accounts", scaleAccountColumns)
	start := time.Now()
	if err := seedSQLite(ctx, s, n); err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("seeded %d accounts in %v", n, time.Since(start).Round(time.Second))
	for _, i := range []int{0, n / 2, n - 1} {
		checkScaleAccount(b, s, i, "")
	}
	b.Run("GetAccountBySSNIndex", func(b *testing.B) {
		var plan []struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		q := lookupQuery(b, s, "FROM accounts WHERE ssn_index = ?")
		if err := s.DB().SelectContext(ctx, &plan, "EXPLAIN QUERY PLAN "+q, scaleIndex(n/3)); err != nil {
			b.Fatal(err)
		}
		if len(plan) != 1 || !strings.Contains(plan[0].Detail, "USING INDEX accounts_ssn_index") {
			b.Fatalf("query plan of the lookup by blind index among %d accounts = %+v; want a search using accounts_ssn_index", n, plan)
		}
		b.Logf("EXPLAIN QUERY PLAN: %s", plan[0].Detail)
		var pages, pageSize int64
		if _, err := s.DB().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		if err := s.DB().GetContext(ctx, &pages, "PRAGMA page_count"); err != nil {
			b.Fatal(err)
		}
		if err := s.DB().GetContext(ctx, &pageSize, "PRAGMA page_size"); err != nil {
			b.Fatal(err)
		}
		measureLookups(b, n, func(i int) func() error { return lookupAccount(ctx, s, i) })
		perAccount := float64(pages*pageSize) / float64(n)
		b.ReportMetric(perAccount, "B/account")
		b.Logf("SQLite file: %d MiB for %d accounts, %.0f B/account (tables and indexes)", pages*pageSize>>20, n, perAccount)
	})
}

// measureLookups times lookups of random existing rows (0 <= i < n), one call
// at a time, and reports p50 and p99 besides ns/op. prepare(i) builds the
// call outside the timing.
func measureLookups(b *testing.B, n int, prepare func(i int) func() error) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	var lat []time.Duration
	for b.Loop() {
		call := prepare(rng.IntN(n))
		start := time.Now()
		err := call()
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// lookupAccount is the login lookup of account i: its blind index is
// computed first, then the call finds the account by it.
func lookupAccount(ctx context.Context, s *sqlstore.Store, i int) func() error {
	index := scaleIndex(i)
	return func() error {
		a, err := s.GetAccountBySSNIndex(ctx, index)
		if err == nil && !bytes.Equal(a.SSNIndex, index) {
			err = fmt.Errorf("GetAccountBySSNIndex(account %d) found another account, %q", i, a.ID)
		}
		return err
	}
}

// lookupQuery is the store's own statement (sqlstore.Lookups) that ends with
// suffix.
func lookupQuery(b *testing.B, s *sqlstore.Store, suffix string) string {
	b.Helper()
	for _, l := range s.Lookups() {
		if strings.HasPrefix(l.Query, "SELECT ") && strings.HasSuffix(l.Query, suffix) {
			return l.Query
		}
	}
	b.Fatalf("the store has no lookup ending %q", suffix)
	return ""
}

// pgExplain is PostgreSQL's plan for a statement with these arguments.
func pgExplain(b *testing.B, s *sqlstore.Store, query string, args ...any) string {
	b.Helper()
	var lines []string
	if err := s.DB().SelectContext(b.Context(), &lines, "EXPLAIN "+s.DB().Rebind(query), args...); err != nil {
		b.Fatalf("EXPLAIN %s: %v", query, err)
	}
	return strings.Join(lines, "\n")
}

// pgTableSizes is what one table takes on disk, in bytes.
type pgTableSizes struct {
	Rows  int64   `db:"n"`
	Total int64   `db:"total"` // pg_total_relation_size: heap, indexes, TOAST, free space and visibility maps
	Heap  int64   `db:"heap"`  // pg_relation_size: the main fork of the heap
	Index int64   `db:"idx"`   // pg_indexes_size: every index
	Row   float64 `db:"row"`   // average pg_column_size of a whole row
}

func pgSizes(b *testing.B, s *sqlstore.Store, table string) pgTableSizes {
	b.Helper()
	var sz pgTableSizes
	q := fmt.Sprintf(`SELECT count(*) AS n, pg_total_relation_size('%[1]s') AS total, pg_relation_size('%[1]s') AS heap,
		pg_indexes_size('%[1]s') AS idx, avg(pg_column_size(t.*))::float8 AS row FROM %[1]s t`, table)
	if err := s.DB().GetContext(b.Context(), &sz, q); err != nil {
		b.Fatalf("sizes of %s: %v", table, err)
	}
	if sz.Rows == 0 {
		b.Fatalf("%s is empty", table)
	}
	return sz
}

// report adds the sizes per row to the benchmark line, and says them in full.
func (sz pgTableSizes) report(b *testing.B, what string) {
	per := func(n int64) float64 { return float64(n) / float64(sz.Rows) }
	b.ReportMetric(per(sz.Total), "B/"+what)
	b.ReportMetric(per(sz.Heap), "heap-B/"+what)
	b.ReportMetric(per(sz.Index), "index-B/"+what)
	b.ReportMetric(sz.Row, "row-B")
	b.Logf("%d %ss: %d MiB in all (heap %d MiB, indexes %d MiB): %.0f B per %s with indexes (heap %.0f, indexes %.0f); an average row is %.0f B (pg_column_size)",
		sz.Rows, what, sz.Total>>20, sz.Heap>>20, sz.Index>>20, per(sz.Total), what, per(sz.Heap), per(sz.Index), sz.Row)
}

// Synthetic rows, each a pure function of its number so that a lookup can
// name a random existing one and a reused database can be checked. Every
// value has the size and shape the server writes: see the comments.

// scaleIndexKey stands for the master key's blind-index subkey.
var scaleIndexKey = []byte("cardsso scale benchmark: blind index key 32B")

// scaleSSN is account i's social security number, 18 characters (GB
// 11643-1999 length; the check character is not computed).
func scaleSSN(i int) string {
	return fmt.Sprintf("%s%012d", scaleRegions[i%len(scaleRegions)], i)
}

// scaleIndex is account i's blind index: HMAC-SHA256 of the number, 32
// bytes, as keys.MasterKey.BlindIndex makes it.
func scaleIndex(i int) []byte {
	m := hmac.New(sha256.New, scaleIndexKey)
	m.Write([]byte(scaleSSN(i)))
	return m.Sum(nil)
}

var (
	scaleRegions  = []string{"110105", "440305", "310115", "510104", "330106", "320102", "420106", "610113"}
	scaleSurnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	scaleGiven    = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂")
	scaleBase32   = base32.StdEncoding.WithPadding(base32.NoPadding) // rand.Text's alphabet
	scaleB64      = base64.RawStdEncoding
	scaleEpoch    = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

func scaleBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func scaleTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// scaleAccount is account i as registration and later checks leave it.
func scaleAccount(i int) storage.Account {
	r := rand.New(rand.NewPCG(0x5ca1e, uint64(i)))
	ssn := scaleSSN(i)
	name := []rune{scaleSurnames[r.IntN(len(scaleSurnames))]}
	for range 1 + r.IntN(2) {
		name = append(name, scaleGiven[r.IntN(len(scaleGiven))])
	}
	created := scaleEpoch + int64(i)*31_000 + r.Int64N(30_000) // a million accounts over a year
	a := storage.Account{
		ID:   scaleBase32.EncodeToString(scaleBytes(r, 16)), // rand.Text(): 26 characters
		Name: string(name),
		// keys.MasterKey.Seal of the 18-character number: version (1) ||
		// nonce (12) || ciphertext (18) || tag (16) = 47 bytes.
		SSNSealed:  append([]byte{1}, scaleBytes(r, 12+len(ssn)+16)...),
		SSNIndex:   scaleIndex(i),
		SSNMasked:  ssn[:3] + strings.Repeat("*", len(ssn)-7) + ssn[len(ssn)-4:],
		CardRegion: ssn[:6],
		// idp/internal/password's PHC string at the default cost, 97 characters.
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$" + scaleB64.EncodeToString(scaleBytes(r, 16)) +
			"$" + scaleB64.EncodeToString(scaleBytes(r, 32)),
		RealNameVerifiedAt: scaleTime(created),
		CreatedAt:          scaleTime(created),
		UpdatedAt:          scaleTime(created),
	}
	if i%2 == 0 { // half have passed a real-card check (level 2)
		checked := scaleTime(created + r.Int64N(86_400_000))
		a.CardNumber = fmt.Sprintf("%c%08d", 'A'+rune(i%26), i%100_000_000)
		a.CardStatus = "normal"
		a.CardGeneration = 3
		a.CardCheckedAt, a.CardVerifiedAt = &checked, &checked
		a.UpdatedAt = checked
	}
	if i%10 == 0 { // some have passed a face check (level 3)
		passed := scaleTime(created + r.Int64N(86_400_000))
		a.FaceVerifiedAt = &passed
	}
	if i%50 == 0 { // a few have failed face checks in the current window
		since := scaleTime(created + r.Int64N(86_400_000))
		a.FaceFailures, a.FaceFailuresSince = 1+r.IntN(2), &since
	}
	return a
}

// scaleSession is session i of n accounts' citizens: the server's shape (id
// the hex SHA-256 of the cookie, an account id, level 1 by password, two
// portals). It expires in 2100 rather than after 12 hours so that a seeded
// database stays usable (each session at another second, as in
// service: the index on expires_at holds distinct values).
func scaleSession(i, nAccounts int) storage.Session {
	sum := sha256.Sum256(fmt.Appendf(nil, "cardsso scale benchmark: session %d", i))
	auth := scaleTime(scaleEpoch + 365*86_400_000 + int64(i)*1000)
	return storage.Session{
		ID:         hex.EncodeToString(sum[:]),
		AccountID:  scaleAccount(i * 7 % nAccounts).ID,
		AuthTime:   auth,
		ACR:        "urn:cardsso:loa:1",
		AMR:        []string{"pwd"},
		Clients:    []string{"portal-hrss", fmt.Sprintf("portal-%03d", i%500)},
		CreatedAt:  auth,
		LastSeenAt: auth.Add(10 * time.Minute),
		ExpiresAt:  time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
	}
}

// checkScaleAccount fails b unless the store holds account i as seeded;
// hint ends the message.
func checkScaleAccount(b *testing.B, s *sqlstore.Store, i int, hint string) {
	b.Helper()
	want := scaleAccount(i)
	if got, err := s.GetAccountBySSNIndex(b.Context(), want.SSNIndex); err != nil || !reflect.DeepEqual(got, want) {
		b.Fatalf("GetAccountBySSNIndex(account %d) = %+v, %v\nwant %+v%s", i, got, err, want, hint)
	}
}

// The columns the seeding writes, in the store's encoding (doc.go,
// Representation): times in unix milliseconds, lists as JSON.
var (
	scaleAccountColumns = []string{"id", "name", "ssn_sealed", "ssn_index", "ssn_masked", "card_region",
		"password_hash", "real_name_verified_at", "card_number", "card_status", "card_generation",
		"card_checked_at", "card_verified_at", "face_verified_at", "face_failures", "face_failures_since", "created_at", "updated_at"}
	scaleSessionColumns = []string{"id", "account_id", "auth_time", "acr", "amr", "clients", "created_at", "last_seen_at", "expires_at"}
)

// checkSeededColumns fails b unless the seeding writes every column of
// table (query lists them): a column added to the schema must be seeded
// too, or the rows would not be the server's.
func checkSeededColumns(b *testing.B, s *sqlstore.Store, query, table string, seeded []string) {
	b.Helper()
	var cols []string
	if err := s.DB().SelectContext(b.Context(), &cols, s.DB().Rebind(query), table); err != nil {
		b.Fatalf("columns of %s: %v", table, err)
	}
	slices.Sort(cols)
	if want := slices.Sorted(slices.Values(seeded)); !slices.Equal(cols, want) {
		b.Fatalf("columns of %s = %v\nthe benchmark seeds %v: update scale%sValues", table, cols, want,
			map[string]string{"accounts": "Account", "sessions": "Session"}[table])
	}
}

func msPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func scaleAccountValues(a storage.Account) []any {
	return []any{a.ID, a.Name, a.SSNSealed, a.SSNIndex, a.SSNMasked, a.CardRegion,
		a.PasswordHash, a.RealNameVerifiedAt.UnixMilli(), a.CardNumber, a.CardStatus, int32(a.CardGeneration),
		msPtr(a.CardCheckedAt), msPtr(a.CardVerifiedAt), msPtr(a.FaceVerifiedAt), int32(a.FaceFailures), msPtr(a.FaceFailuresSince),
		a.CreatedAt.UnixMilli(), a.UpdatedAt.UnixMilli()}
}

func scaleSessionValues(s storage.Session) []any {
	list := func(l []string) string { j, _ := json.Marshal(l); return string(j) } // as the store encodes lists
	return []any{s.ID, s.AccountID, s.AuthTime.UnixMilli(), s.ACR, list(s.AMR), list(s.Clients),
		s.CreatedAt.UnixMilli(), s.LastSeenAt.UnixMilli(), s.ExpiresAt.UnixMilli()}
}

// seedPostgres writes the rows with COPY (pgx, binary), in one transaction:
// an interrupted run leaves nothing. The indexes are in place and grow as
// the rows arrive in random index order, as they would in service.
func seedPostgres(ctx context.Context, dsn string, nAccounts, nSessions int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	copyRows := func(table string, cols []string, n int, row func(int) []any) error {
		for from := 0; from < n; from += scaleSeedChunk {
			m := min(scaleSeedChunk, n-from)
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols,
				pgx.CopyFromSlice(m, func(j int) ([]any, error) { return row(from + j), nil })); err != nil {
				return fmt.Errorf("copy %s: %w", table, err)
			}
		}
		return nil
	}
	if err := copyRows("accounts", scaleAccountColumns, nAccounts,
		func(i int) []any { return scaleAccountValues(scaleAccount(i)) }); err != nil {
		return err
	}
	if err := copyRows("sessions", scaleSessionColumns, nSessions,
		func(i int) []any { return scaleSessionValues(scaleSession(i, nAccounts)) }); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// seedSQLite inserts the accounts with one prepared statement, a
// transaction per scaleSeedChunk rows.
func seedSQLite(ctx context.Context, s *sqlstore.Store, n int) error {
	q := "INSERT INTO accounts (" + strings.Join(scaleAccountColumns, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(scaleAccountColumns)), ", ") + ")"
	for from := 0; from < n; from += scaleSeedChunk {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return errors.Join(err, tx.Rollback())
		}
		for i := from; i < min(from+scaleSeedChunk, n); i++ {
			if _, err := stmt.ExecContext(ctx, scaleAccountValues(scaleAccount(i))...); err != nil {
				return errors.Join(fmt.Errorf("account %d: %w", i, err), tx.Rollback())
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
