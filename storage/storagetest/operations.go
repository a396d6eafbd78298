package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// The capabilities for operations: readiness (storage.Health), migrations
// (storage.Migrator), backups (storage.Backuper) and seeding
// (storage.BulkCreator).

// testHealth checks a healthy store's readiness answers: it answers, takes
// writes, has had no write fault, and the probe leaves no row behind.
func testHealth(t *testing.T, s storage.Store, h storage.Health) {
	ctx := t.Context()
	checkErr(t, "Ping", h.Ping(ctx), nil)
	for i := range 3 {
		checkErr(t, fmt.Sprintf("ProbeWrite #%d", i+1), h.ProbeWrite(ctx), nil)
	}
	if at := h.LastWriteFault(); !at.IsZero() {
		t.Errorf("LastWriteFault of a healthy store = %v; want zero", at)
	}
	n, err := s.DeleteExpired(ctx, future)
	checkErr(t, "DeleteExpired", err, nil)
	if n != 0 {
		t.Errorf("DeleteExpired after write probes = %d; want 0 (the probes leave nothing)", n)
	}
}

// testMigrator checks that the store comes migrated and that migrating
// again, on several goroutines at once, changes nothing.
func testMigrator(t *testing.T, s storage.Store, m storage.Migrator) {
	ctx := t.Context()
	v, err := m.MigrationVersion(ctx)
	checkErr(t, "MigrationVersion", err, nil)
	if v <= 0 {
		t.Errorf("MigrationVersion of a store ready for use = %d; want the last migration's (> 0)", v)
	}
	a := newAccount("acct-1", 1)
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, a), nil)
	for i, err := range race(4, func(int) error { return m.Migrate(ctx) }) {
		checkErr(t, fmt.Sprintf("Migrate #%d", i+1), err, nil)
	}
	again, err := m.MigrationVersion(ctx)
	checkErr(t, "MigrationVersion", err, nil)
	if again != v {
		t.Errorf("MigrationVersion after Migrate = %d; want %d unchanged", again, v)
	}
	got, err := s.GetAccount(ctx, a.ID)
	checkErr(t, "GetAccount after Migrate", err, nil)
	checkEqual(t, "GetAccount after Migrate", got, a)
}

// testBackuper backs a store up: the copy is made readable by its owner
// only, an existing file is never overwritten, and a store that leaves
// backups to its database's tools says so with errors.ErrUnsupported and
// writes nothing.
func testBackuper(t *testing.T, s storage.Store, b storage.Backuper) {
	ctx := t.Context()
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, newAccount("acct-1", 1)), nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	err := b.BackupTo(ctx, path)
	if errors.Is(err, errors.ErrUnsupported) {
		if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("BackupTo = %v, and %s: %v; want nothing written", err, path, statErr)
		}
		return
	}
	checkErr(t, "BackupTo", err, nil)
	fi, err := os.Stat(path)
	checkErr(t, "stat the backup", err, nil)
	if fi.Size() == 0 {
		t.Errorf("backup %s is empty; want a copy of the database", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		t.Errorf("backup mode = %v; want readable by its owner only", perm)
	}
	before, err := os.ReadFile(path)
	checkErr(t, "read the backup", err, nil)
	if err := b.BackupTo(ctx, path); err == nil {
		t.Errorf("BackupTo(an existing file) = nil; want an error")
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("backup after BackupTo(an existing file): %d bytes, %v; want the %d bytes unchanged", len(after), err, len(before))
	}
	missing := filepath.Join(dir, "missing", "backup.db")
	if err := b.BackupTo(ctx, missing); err == nil {
		t.Errorf("BackupTo(a path in a missing directory) = nil; want an error")
	}
}

// testBulkCreator seeds accounts and sessions in batches: what a batch
// holds reads back as written, and a batch with a duplicate writes none of
// its rows.
func testBulkCreator(t *testing.T, s storage.Store, bc storage.BulkCreator) {
	ctx := t.Context()
	checkErr(t, "BulkCreateAccounts(none)", bc.BulkCreateAccounts(ctx, nil), nil)
	checkErr(t, "BulkCreateSessions(none)", bc.BulkCreateSessions(ctx, nil), nil)
	var as []storage.Account
	for i := range 3 {
		as = append(as, newAccount(fmt.Sprintf("acct-%d", i), byte(i)))
	}
	checkErr(t, "BulkCreateAccounts", bc.BulkCreateAccounts(ctx, as), nil)
	for _, a := range as {
		got, err := s.GetAccount(ctx, a.ID)
		checkErr(t, "GetAccount", err, nil)
		checkEqual(t, fmt.Sprintf("GetAccount(%q) after BulkCreateAccounts", a.ID), got, a)
	}
	fresh := newAccount("acct-fresh", 9)
	if err := bc.BulkCreateAccounts(ctx, []storage.Account{fresh, newAccount(as[0].ID, 10)}); err == nil {
		t.Errorf("BulkCreateAccounts(a duplicate id) = nil; want an error")
	}
	_, err := s.GetAccount(ctx, fresh.ID)
	checkErr(t, "GetAccount(the batch's other account) after a refused batch", err, storage.ErrNotFound)

	ss := []storage.Session{newSession("session-1", future), newSession("session-2", future)}
	ss[1].AccountID = as[1].ID
	checkErr(t, "BulkCreateSessions", bc.BulkCreateSessions(ctx, ss), nil)
	for _, sess := range ss {
		got, err := s.GetSession(ctx, sess.ID)
		checkErr(t, "GetSession", err, nil)
		checkEqual(t, fmt.Sprintf("GetSession(%q) after BulkCreateSessions", sess.ID), got, sess)
	}
	list, err := s.ListSessionsByAccount(ctx, as[1].ID)
	checkErr(t, "ListSessionsByAccount", err, nil)
	if len(list) != 1 || list[0].ID != ss[1].ID {
		t.Errorf("ListSessionsByAccount(%q) after BulkCreateSessions = %d sessions; want %q", as[1].ID, len(list), ss[1].ID)
	}
	// A session that has expired is collected like any other.
	old := newSession("session-old", past)
	checkErr(t, "BulkCreateSessions(expired)", bc.BulkCreateSessions(ctx, []storage.Session{old}), nil)
	n, err := s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired", err, nil)
	if n != 1 {
		t.Errorf("DeleteExpired after seeding an expired session = %d; want 1", n)
	}
}
