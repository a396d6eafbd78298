package sqlstore

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// TestMigrationLock checks the SQLite migration lock: a live lock held by
// another process makes Migrate wait, and a lock whose lease ran out (its
// holder died) is taken over.
func TestMigrationLock(t *testing.T) {
	s, err := Open(t.Context(), Config{DSN: filepath.Join(t.TempDir(), "cardsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	hold := func(expires time.Time) {
		t.Helper()
		if _, err := s.db.Exec(`INSERT INTO cardsso_migration_lock (id, owner, expires_at) VALUES (1, 'other', ?)
			ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
			expires.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}

	hold(time.Now().Add(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := s.Migrate(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Migrate while another process holds the lock = %v; want to wait until the deadline", err)
	}

	hold(time.Now().Add(-time.Second))
	if err := s.Migrate(t.Context()); err != nil {
		t.Errorf("Migrate with a lapsed lock: %v", err)
	}
	var n int
	if err := s.db.Get(&n, "SELECT COUNT(*) FROM cardsso_migration_lock"); err != nil || n != 0 {
		t.Errorf("lock rows after Migrate = %d, %v; want 0 (released)", n, err)
	}
}

// TestTokenRevocationMigration applies migration 00005 to a database that
// holds tokens (the migrations before it applied, rows written as before):
// grant_sessions is filled from them, and their grants and sessions are
// still revoked by RevokeGrant and DeleteSession.
func TestTokenRevocationMigration(t *testing.T) {
	flavours := map[string]func(t *testing.T) Config{
		"sqlite": func(t *testing.T) Config { return Config{DSN: filepath.Join(t.TempDir(), "cardsso.db")} },
	}
	if storagetest.PostgresConfigured() {
		flavours["postgres"] = func(t *testing.T) Config {
			return Config{Flavour: "postgres", DSN: storagetest.FreshPostgres(t)}
		}
	}
	for name, config := range flavours {
		t.Run(name, func(t *testing.T) { testTokenRevocationMigration(t, config(t)) })
	}
}

func testTokenRevocationMigration(t *testing.T, cfg Config) {
	ctx := t.Context()
	f, err := flavourFor(cfg.Flavour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := fs.Sub(migrationFiles, f.migrations)
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(f.goose, c.db.DB, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	token := func(id, grant, session string, expires time.Duration) (storage.AccessToken, storage.RefreshToken) {
		return storage.AccessToken{ID: "at-" + id, GrantID: grant, SessionID: session, ClientID: "portal",
				CreatedAt: now, ExpiresAt: now.Add(expires)},
			storage.RefreshToken{Hash: []byte("rt-" + id), ID: "rt-" + id, GrantID: grant, SessionID: session,
				ClientID: "portal", CreatedAt: now, ExpiresAt: now.Add(expires)}
	}
	type row struct{ id, grant, session string }
	rows := []row{{"1", "grant-1", "session-1"}, {"2", "grant-1", "session-2"}, {"3", "grant-2", "session-1"}, {"4", "grant-3", "session-3"}}
	for i, r := range rows {
		at, rt := token(r.id, r.grant, r.session, time.Duration(i+1)*time.Hour)
		// The columns of version 4 (claims came with 00006).
		if _, err := c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO access_tokens (id, grant_id, client_id, account_id,
			session_id, scopes, audience, auth_time, acr, amr, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			at.ID, at.GrantID, at.ClientID, at.AccountID, at.SessionID, "null", "null", 0, "", "null",
			millis(at.CreatedAt), millis(at.ExpiresAt)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.db.ExecContext(ctx, c.db.Rebind(`INSERT INTO refresh_tokens (hash, id, grant_id, client_id, account_id,
			session_id, scopes, audience, auth_time, acr, amr, used_at, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			rt.Hash, rt.ID, rt.GrantID, rt.ClientID, rt.AccountID, rt.SessionID, "null", "null", 0, "", "null", nil,
			millis(rt.CreatedAt), millis(rt.ExpiresAt)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []struct {
		GrantID   string `db:"grant_id"`
		SessionID string `db:"session_id"`
		ExpiresAt int64  `db:"expires_at"`
	}
	if err := s.db.SelectContext(ctx, &got, "SELECT grant_id, session_id, expires_at FROM grant_sessions ORDER BY grant_id, session_id"); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("grant_sessions after the migration = %+v; want %d rows", got, len(rows))
	}
	for i, r := range rows {
		want := millis(now.Add(time.Duration(i+1)*time.Hour + grantSessionSlack))
		if got[i].GrantID != r.grant || got[i].SessionID != r.session || got[i].ExpiresAt != want {
			t.Errorf("grant_sessions row %d = %+v; want %s, %s, %d", i, got[i], r.grant, r.session, want)
		}
	}

	if err := s.RevokeGrant(ctx, "grant-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "session-3"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteSession(a session whose row is gone) = %v; want ErrNotFound, its tokens deleted", err)
	}
	for _, r := range rows {
		want := error(nil)
		if r.grant == "grant-1" || r.session == "session-3" {
			want = storage.ErrNotFound
		}
		if _, err := s.GetAccessToken(ctx, "at-"+r.id); !errors.Is(err, want) {
			t.Errorf("GetAccessToken(at-%s) after RevokeGrant(grant-1), DeleteSession(session-3) = %v; want %v", r.id, err, want)
		}
		if _, err := s.GetRefreshToken(ctx, []byte("rt-"+r.id)); !errors.Is(err, want) {
			t.Errorf("GetRefreshToken(rt-%s) after RevokeGrant(grant-1), DeleteSession(session-3) = %v; want %v", r.id, err, want)
		}
	}
}
