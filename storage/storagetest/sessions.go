package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func testSessionCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newSession("0123abcd", future)
	bare := storage.Session{ID: "4567ef", AccountID: "account-2", CreatedAt: created, ExpiresAt: future}
	for _, sess := range []storage.Session{full, bare} {
		checkErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
		got, err := s.GetSession(ctx, sess.ID)
		checkErr(t, "GetSession", err, nil)
		checkEqual(t, fmt.Sprintf("GetSession(%q)", sess.ID), got, sess)
	}
	checkErr(t, "CreateSession(duplicate)", s.CreateSession(ctx, newSession(full.ID, future)), storage.ErrAlreadyExists)
	_, err := s.GetSession(ctx, "missing")
	checkErr(t, `GetSession("missing")`, err, storage.ErrNotFound)

	// A portal signs in through the session: step-up to level 3.
	want := full
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		checkEqual(t, "updater's argument", old, full)
		old.Clients = append(old.Clients, "client-2")
		old.ACR = "urn:cardsso:loa:3"
		old.AMR = append(old.AMR, "face")
		old.LastSeenAt = created.Add(time.Hour)
		old.ExpiresAt = future.Add(time.Hour)
		want = old
		return old, nil
	})
	checkErr(t, "UpdateSession", err, nil)
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		old.Clients = nil
		return old, errUpdater
	})
	checkErr(t, "UpdateSession(failing updater)", err, errUpdater)
	err = s.UpdateSession(ctx, full.ID, func(old storage.Session) (storage.Session, error) {
		old.ID = bare.ID
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateSession(changing the id) = nil; want an error")
	}
	got, err := s.GetSession(ctx, full.ID)
	checkErr(t, "GetSession", err, nil)
	checkEqual(t, "GetSession after updates", got, want)
	got, err = s.GetSession(ctx, bare.ID)
	checkErr(t, "GetSession", err, nil)
	checkEqual(t, "GetSession of the other session", got, bare)
	err = s.UpdateSession(ctx, "missing", func(sess storage.Session) (storage.Session, error) { return sess, nil })
	checkErr(t, `UpdateSession("missing")`, err, storage.ErrNotFound)

	checkErr(t, "DeleteSession", s.DeleteSession(ctx, full.ID), nil)
	checkErr(t, "DeleteSession again", s.DeleteSession(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetSession(ctx, full.ID)
	checkErr(t, "GetSession after delete", err, storage.ErrNotFound)
}

func testSessionExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sess := newSession("expired", past)
	checkErr(t, "CreateSession(expired)", s.CreateSession(ctx, sess), nil)
	_, err := s.GetSession(ctx, sess.ID)
	checkErr(t, "GetSession(expired)", err, storage.ErrNotFound)
	err = s.UpdateSession(ctx, sess.ID, func(old storage.Session) (storage.Session, error) {
		t.Errorf("updater called for an expired session")
		old.ExpiresAt = future
		return old, nil
	})
	checkErr(t, "UpdateSession(expired)", err, storage.ErrNotFound)
	_, err = s.GetSession(ctx, sess.ID)
	checkErr(t, "GetSession(expired) after update", err, storage.ErrNotFound)
}

func testDeleteSessionRevokesTokens(t *testing.T, s storage.Store) {
	ctx := t.Context()
	ended, other := newSession("session-1", future), newSession("session-2", future)
	checkErr(t, "CreateSession", s.CreateSession(ctx, ended), nil)
	checkErr(t, "CreateSession", s.CreateSession(ctx, other), nil)
	revokedAT := newAccessToken("at-1", "grant-1", ended.ID, future)
	revokedRT := newRefreshToken("rt-1", "grant-1", ended.ID, future)
	keptAT := newAccessToken("at-2", "grant-2", other.ID, future)
	keptRT := newRefreshToken("rt-2", "grant-2", other.ID, future)
	// Client-credentials tokens belong to no session.
	noSessionAT := newAccessToken("at-3", "", "", future)
	for _, at := range []storage.AccessToken{revokedAT, keptAT, noSessionAT} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	for _, rt := range []storage.RefreshToken{revokedRT, keptRT} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}

	checkErr(t, "DeleteSession", s.DeleteSession(ctx, ended.ID), nil)
	_, err := s.GetSession(ctx, ended.ID)
	checkErr(t, "GetSession after delete", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, revokedAT.ID)
	checkErr(t, "GetAccessToken of the ended session", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, revokedRT.Hash)
	checkErr(t, "GetRefreshToken of the ended session", err, storage.ErrNotFound)

	got, err := s.GetSession(ctx, other.ID)
	checkErr(t, "GetSession(other)", err, nil)
	checkEqual(t, "GetSession(other)", got, other)
	for _, at := range []storage.AccessToken{keptAT, noSessionAT} {
		_, err = s.GetAccessToken(ctx, at.ID)
		checkErr(t, fmt.Sprintf("GetAccessToken(%q) of another session", at.ID), err, nil)
	}
	_, err = s.GetRefreshToken(ctx, keptRT.Hash)
	checkErr(t, "GetRefreshToken of another session", err, nil)

	checkErr(t, `DeleteSession("missing")`, s.DeleteSession(ctx, "missing"), storage.ErrNotFound)
}
