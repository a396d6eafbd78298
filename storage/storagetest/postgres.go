package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the environment variable that holds the URL of a
// PostgreSQL database the tests may use, for example
// postgres://postgres@127.0.0.1:5432/cardsso_ci?sslmode=disable. .ci/run sets
// it; when it is unset the PostgreSQL tests do not run, and when it is set
// but the server does not answer they fail.
const PostgresEnv = "CARDSSO_TEST_POSTGRES"

// PostgresConfigured reports whether PostgresEnv is set, that is whether the
// PostgreSQL tests run. A test guards with it rather than skipping:
//
//	if !storagetest.PostgresConfigured() {
//		t.Logf("%s is not set: the PostgreSQL tests do not run", storagetest.PostgresEnv)
//		return
//	}
//	dsn := storagetest.FreshPostgres(t)
func PostgresConfigured() bool {
	return os.Getenv(PostgresEnv) != ""
}

// FreshPostgres creates a new, empty schema (cardsso_test_<random>) in the
// database PostgresEnv names and returns a DSN whose connections work in it:
// the URL with search_path=<schema> added, a run-time parameter that pgx
// sends at connect time. A store opened on the DSN (sqlstore, flavour
// "postgres") migrates into that schema and sees nothing else, so every test
// gets a fresh store while they all share one database, and several stores
// opened on one DSN are several nodes sharing a database. The schema and
// everything in it is dropped at cleanup (after the stores the test opened
// later have closed, as cleanups run last-in first-out).
//
// It fails t (t.Fatal) when PostgresEnv is unset or the server does not
// answer within 30 s: a configured database is a requirement, never a skip.
//
// The schema is created over a connection of its own (pgx, directly): the
// helper prepares databases for stores and must not depend on the store
// under test.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Fatalf("storagetest: FreshPostgres: %s is not set (guard the test with PostgresConfigured)", PostgresEnv)
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	schema := "cardsso_test_" + hex.EncodeToString(b[:])
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("storagetest: %s: %v", PostgresEnv, err)
	}
	if err := adminExec(base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("storagetest: %s is set, but creating a schema there failed: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		if err := adminExec(base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("storagetest: drop schema %s: %v", schema, err)
		}
	})
	return dsn
}

// adminExec runs one statement on a connection of its own to the database
// dsn names.
func adminExec(dsn, stmt string) error {
	// Not t.Context(): cleanups run after it has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, stmt)
	return err
}

// withSearchPath adds search_path=schema to a postgres:// URL or a
// keyword=value DSN.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url's error quotes the URL, password and all.
		return "", errors.New("not a postgres:// URL")
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
