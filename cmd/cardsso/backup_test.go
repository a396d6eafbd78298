package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/cardsso/cardsso/storage/storagetest"
)

// TestBackupAndRestore: `cardsso backup --to FILE` writes a consistent,
// owner-only copy that passes integrity_check; it refuses to overwrite; the
// copy, with the master key, restores a node's data (the client is there).
func TestBackupAndRestore(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, append([]string{"--data-dir", dir}, args...)...)
	}
	if code, _, stderr := cli("clients", "create", "--id", "kept-portal", "--redirect-uri", "http://127.0.0.1:9000/cb"); code != exitOK {
		t.Fatalf("clients create: exit %d: %s", code, stderr)
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, stderr := cli("backup", "--to", out)
	if code != exitOK || !strings.Contains(stdout, out) {
		t.Fatalf("backup: exit %d, %q, %q", code, stdout, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v; want mode 0600", fi, err)
	}
	db, err := sql.Open("sqlite3", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check, id string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of the copy = %q, %v", check, err)
	}
	if err := db.QueryRow("SELECT id FROM clients WHERE id = 'kept-portal'").Scan(&id); err != nil {
		t.Errorf("the client is not in the copy: %v", err)
	}
	_ = db.Close()

	// An existing file is not overwritten.
	before, _ := os.ReadFile(out)
	if code, _, stderr := cli("backup", "--to", out); code == exitOK || !strings.Contains(stderr, "already exists") {
		t.Errorf("backup onto an existing file: exit %d, %q; want a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Errorf("the existing backup was changed")
	}
	if code, _, stderr := cli("backup"); code != exitUsage || !strings.Contains(stderr, `"to"`) {
		t.Errorf("backup without --to: exit %d, %q", code, stderr)
	}

	// Restore: the copy as cardsso.db beside the master key.
	restored := t.TempDir()
	if err := os.Rename(out, filepath.Join(restored, "cardsso.db")); err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "master.key"), mk, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "--data-dir", restored, "clients", "list")
	if code != exitOK || !strings.Contains(stdout, "kept-portal") {
		t.Errorf("clients list on the restored copy: exit %d, %q, %q", code, stdout, stderr)
	}
}

// TestBackupRefusesPostgres: PostgreSQL is backed up with pg_dump; the
// command says so (exit 2) and writes nothing.
func TestBackupRefusesPostgres(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the PostgreSQL refusal is not tried")
		return
	}
	dsn := storagetest.FreshPostgres(t)
	clearEnv(t)
	t.Setenv("CARDSSO_STORAGE_TYPE", "postgres")
	t.Setenv("CARDSSO_STORAGE_DSN", dsn)
	out := filepath.Join(t.TempDir(), "copy.db")
	code, _, stderr := runCLI(t, "--data-dir", t.TempDir(), "backup", "--to", out)
	if code != exitUsage || !strings.Contains(stderr, "pg_dump") {
		t.Errorf("backup on PostgreSQL: exit %d, %q; want exit 2 naming pg_dump", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a file was written")
	}
}
