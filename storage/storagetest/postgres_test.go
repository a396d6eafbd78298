package storagetest

import (
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// recorder is a testing.TB that records Fatalf and Cleanup instead of acting
// on them. Run FreshPostgres on it in a goroutine of its own (Fatalf ends
// it).
type recorder struct {
	testing.TB
	fatal    string
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Cleanup(fn func()) { r.cleanups = append(r.cleanups, fn) }

// freshPostgres runs FreshPostgres on a recorder.
func freshPostgres(t *testing.T) (dsn string, r *recorder) {
	r = &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dsn = FreshPostgres(r)
	}()
	<-done
	return dsn, r
}

// TestFreshPostgresFails checks that a database that is not configured, or
// does not answer, fails the test rather than skipping it.
func TestFreshPostgresFails(t *testing.T) {
	for _, env := range []string{
		"",
		"postgres://postgres@127.0.0.1:1/cardsso?sslmode=disable&connect_timeout=5", // nothing listens on port 1
	} {
		t.Setenv(PostgresEnv, env)
		dsn, r := freshPostgres(t)
		if r.fatal == "" || !strings.Contains(r.fatal, PostgresEnv) {
			t.Errorf("FreshPostgres with %s=%q = %q, Fatal %q; want a Fatal that names %s", PostgresEnv, env, dsn, r.fatal, PostgresEnv)
		}
		if len(r.cleanups) != 0 {
			t.Errorf("FreshPostgres with %s=%q registered %d cleanups; want none", PostgresEnv, env, len(r.cleanups))
		}
	}
}

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?search_path=s1&sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/db?search_path=s1"},
		{"postgres://u@h/db?search_path=public", "postgres://u@h/db?search_path=s1"},
		{"host=h dbname=db", "host=h dbname=db search_path=s1"},
	} {
		got, err := withSearchPath(tc.dsn, "s1")
		if err != nil || got != tc.want {
			t.Errorf("withSearchPath(%q) = %q, %v; want %q", tc.dsn, got, err, tc.want)
		}
	}
	if _, err := withSearchPath("postgres://u:secret@%zz/db", "s1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("withSearchPath(a bad URL) = %v; want an error without the password", err)
	}
}

// TestFreshPostgres checks, when PostgreSQL is configured, that the DSN works
// in a schema of its own that is there until cleanup and gone after it.
func TestFreshPostgres(t *testing.T) {
	if !PostgresConfigured() {
		t.Logf("%s is not set: the PostgreSQL tests do not run", PostgresEnv)
		return
	}
	dsn, r := freshPostgres(t)
	if r.fatal != "" {
		t.Fatalf("FreshPostgres: %s", r.fatal)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("FreshPostgres = %q: %v", dsn, err)
	}
	schema := u.Query().Get("search_path")
	if !strings.HasPrefix(schema, "cardsso_test_") {
		t.Fatalf("FreshPostgres = %q; want search_path=cardsso_test_...", dsn)
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to FreshPostgres's DSN: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var current string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&current); err != nil || current != schema {
		t.Errorf("current_schema() = %q, %v; want %q", current, err, schema)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int)"); err != nil {
		t.Errorf("CREATE TABLE in the fresh schema: %v", err)
	}

	if len(r.cleanups) != 1 {
		t.Fatalf("FreshPostgres registered %d cleanups; want 1", len(r.cleanups))
	}
	r.cleanups[0]()
	if len(r.errors) != 0 {
		t.Errorf("cleanup: %q", r.errors)
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil || exists {
		t.Errorf("schema %s exists after cleanup = %v, %v; want dropped", schema, exists, err)
	}
}
