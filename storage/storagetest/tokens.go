package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func testAccessTokenCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newAccessToken("at-1", "grant-1", "session-1", future)
	// A client-credentials token: no account, session or grant.
	bare := storage.AccessToken{ID: "at-2", ClientID: "client-1", Scopes: []string{"api"}, CreatedAt: created, ExpiresAt: future}
	for _, at := range []storage.AccessToken{full, bare} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
		got, err := s.GetAccessToken(ctx, at.ID)
		checkErr(t, "GetAccessToken", err, nil)
		checkEqual(t, fmt.Sprintf("GetAccessToken(%q)", at.ID), got, at)
	}
	checkErr(t, "CreateAccessToken(duplicate)",
		s.CreateAccessToken(ctx, newAccessToken(full.ID, "grant-2", "", future)), storage.ErrAlreadyExists)
	_, err := s.GetAccessToken(ctx, "missing")
	checkErr(t, `GetAccessToken("missing")`, err, storage.ErrNotFound)

	expired := newAccessToken("at-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateAccessToken(expired)", s.CreateAccessToken(ctx, expired), nil)
	_, err = s.GetAccessToken(ctx, expired.ID)
	checkErr(t, "GetAccessToken(expired)", err, storage.ErrNotFound)

	checkErr(t, "DeleteAccessToken", s.DeleteAccessToken(ctx, full.ID), nil)
	checkErr(t, "DeleteAccessToken again", s.DeleteAccessToken(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, full.ID)
	checkErr(t, "GetAccessToken after delete", err, storage.ErrNotFound)
	_, err = s.GetAccessToken(ctx, bare.ID)
	checkErr(t, "GetAccessToken of the other token", err, nil)
}

func testRefreshTokenCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	unused := newRefreshToken("rt-1", "grant-1", "session-1", future)
	used := newRefreshToken("rt-2", "grant-1", "session-1", future)
	used.UsedAt = ptr(created.Add(time.Hour))
	for _, rt := range []storage.RefreshToken{unused, used} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
		got, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, "GetRefreshToken", err, nil)
		checkEqual(t, fmt.Sprintf("GetRefreshToken(%q)", rt.Hash), got, rt)
	}
	dup := newRefreshToken("rt-3", "grant-2", "", future)
	dup.Hash = unused.Hash
	checkErr(t, "CreateRefreshToken(duplicate hash)", s.CreateRefreshToken(ctx, dup), storage.ErrAlreadyExists)
	for _, hash := range [][]byte{[]byte("missing"), nil} {
		_, err := s.GetRefreshToken(ctx, hash)
		checkErr(t, fmt.Sprintf("GetRefreshToken(%q)", hash), err, storage.ErrNotFound)
	}
	// A hash differing only in a trailing byte is another token.
	_, err := s.GetRefreshToken(ctx, unused.Hash[:len(unused.Hash)-1])
	checkErr(t, "GetRefreshToken(prefix)", err, storage.ErrNotFound)

	expired := newRefreshToken("rt-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateRefreshToken(expired)", s.CreateRefreshToken(ctx, expired), nil)
	_, err = s.GetRefreshToken(ctx, expired.Hash)
	checkErr(t, "GetRefreshToken(expired)", err, storage.ErrNotFound)

	checkErr(t, "DeleteRefreshToken", s.DeleteRefreshToken(ctx, unused.Hash), nil)
	checkErr(t, "DeleteRefreshToken again", s.DeleteRefreshToken(ctx, unused.Hash), storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, unused.Hash)
	checkErr(t, "GetRefreshToken after delete", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, used.Hash)
	checkErr(t, "GetRefreshToken of the other token", err, nil)
}

func testClaimRefreshToken(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rt := newRefreshToken("rt-1", "grant-1", "session-1", future)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)

	now := time.Now()
	want := rt
	want.UsedAt = &now
	got, err := s.ClaimRefreshToken(ctx, rt.Hash, now)
	checkErr(t, "ClaimRefreshToken", err, nil)
	checkEqual(t, "ClaimRefreshToken", got, want)
	got, err = s.GetRefreshToken(ctx, rt.Hash)
	checkErr(t, "GetRefreshToken after claim", err, nil)
	checkEqual(t, "GetRefreshToken after claim", got, want)

	// Replay: the caller gets the token back to revoke its family.
	got, err = s.ClaimRefreshToken(ctx, rt.Hash, now.Add(time.Second))
	checkErr(t, "ClaimRefreshToken again", err, storage.ErrAlreadyUsed)
	checkEqual(t, "ClaimRefreshToken again", got, want)

	for _, hash := range [][]byte{[]byte("unknown"), nil} {
		_, err = s.ClaimRefreshToken(ctx, hash, now)
		checkErr(t, fmt.Sprintf("ClaimRefreshToken(%q)", hash), err, storage.ErrNotFound)
	}

	soon := now.Add(time.Hour)
	rt2 := newRefreshToken("rt-2", "grant-1", "session-1", soon)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt2), nil)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, soon.Add(time.Second))
	checkErr(t, "ClaimRefreshToken(after expiry)", err, storage.ErrNotFound)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, now)
	checkErr(t, "ClaimRefreshToken(before expiry)", err, nil)
	_, err = s.ClaimRefreshToken(ctx, rt2.Hash, soon.Add(time.Second))
	checkErr(t, "ClaimRefreshToken(used, after expiry)", err, storage.ErrNotFound)

	expired := newRefreshToken("rt-expired", "grant-1", "session-1", past)
	checkErr(t, "CreateRefreshToken(expired)", s.CreateRefreshToken(ctx, expired), nil)
	_, err = s.ClaimRefreshToken(ctx, expired.Hash, now)
	checkErr(t, "ClaimRefreshToken(expired)", err, storage.ErrNotFound)
}

func testRevokeGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	revoked := []storage.AccessToken{
		newAccessToken("at-1", "grant-1", "session-1", future),
		newAccessToken("at-2", "grant-1", "session-2", future),
	}
	revokedRT := []storage.RefreshToken{
		newRefreshToken("rt-1", "grant-1", "session-1", future),
		newRefreshToken("rt-2", "grant-1", "session-1", future),
	}
	keptAT := newAccessToken("at-3", "grant-2", "session-1", future)
	keptRT := newRefreshToken("rt-3", "grant-2", "session-1", future)
	for _, at := range append(revoked, keptAT) {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	for _, rt := range append(revokedRT, keptRT) {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}

	checkErr(t, `RevokeGrant("grant-1")`, s.RevokeGrant(ctx, "grant-1"), nil)
	for _, at := range revoked {
		_, err := s.GetAccessToken(ctx, at.ID)
		checkErr(t, fmt.Sprintf("GetAccessToken(%q) after RevokeGrant", at.ID), err, storage.ErrNotFound)
	}
	for _, rt := range revokedRT {
		_, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, fmt.Sprintf("GetRefreshToken(%q) after RevokeGrant", rt.ID), err, storage.ErrNotFound)
	}
	got, err := s.GetAccessToken(ctx, keptAT.ID)
	checkErr(t, "GetAccessToken(other grant)", err, nil)
	checkEqual(t, "GetAccessToken(other grant)", got, keptAT)
	gotRT, err := s.GetRefreshToken(ctx, keptRT.Hash)
	checkErr(t, "GetRefreshToken(other grant)", err, nil)
	checkEqual(t, "GetRefreshToken(other grant)", gotRT, keptRT)

	// Nothing to revoke is not an error.
	checkErr(t, `RevokeGrant("grant-1") again`, s.RevokeGrant(ctx, "grant-1"), nil)
	checkErr(t, `RevokeGrant("unknown")`, s.RevokeGrant(ctx, "unknown"), nil)
}

// testRevokeRotatedGrant rotates a refresh token family a few times, each
// new token outliving the last (as refresh rotation does), then revokes
// the grant: every token of every rotation goes, whichever expires last.
// Then the same family rotated again in a new session is ended by
// DeleteSession.
func testRevokeRotatedGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	rotate := func(grant, session string, n int) ([]storage.AccessToken, []storage.RefreshToken) {
		t.Helper()
		var ats []storage.AccessToken
		var rts []storage.RefreshToken
		for i := range n {
			expires := time.Now().Add(time.Duration(i+1) * 1000 * time.Hour)
			id := fmt.Sprintf("%s-%s-%d", grant, session, i)
			if i > 0 {
				_, err := s.ClaimRefreshToken(ctx, rts[i-1].Hash, time.Now())
				checkErr(t, "ClaimRefreshToken", err, nil)
			}
			at := newAccessToken("at-"+id, grant, session, expires)
			rt := newRefreshToken("rt-"+id, grant, session, expires)
			checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
			checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
			ats, rts = append(ats, at), append(rts, rt)
		}
		return ats, rts
	}
	gone := func(what string, ats []storage.AccessToken, rts []storage.RefreshToken, want error) {
		t.Helper()
		for _, at := range ats {
			_, err := s.GetAccessToken(ctx, at.ID)
			checkErr(t, fmt.Sprintf("GetAccessToken(%q) after %s", at.ID, what), err, want)
		}
		for _, rt := range rts {
			_, err := s.GetRefreshToken(ctx, rt.Hash)
			checkErr(t, fmt.Sprintf("GetRefreshToken(%q) after %s", rt.ID, what), err, want)
		}
	}
	ats, rts := rotate("grant-1", "session-1", 4)
	keptATs, keptRTs := rotate("grant-2", "session-1", 2)
	checkErr(t, `RevokeGrant("grant-1")`, s.RevokeGrant(ctx, "grant-1"), nil)
	gone(`RevokeGrant("grant-1")`, ats, rts, storage.ErrNotFound)
	gone(`RevokeGrant("grant-1")`, keptATs, keptRTs, nil)

	ats, rts = rotate("grant-3", "session-2", 3)
	checkErr(t, `DeleteSession("session-2")`, s.DeleteSession(ctx, "session-2"), storage.ErrNotFound) // no session row
	gone(`DeleteSession("session-2")`, ats, rts, storage.ErrNotFound)
	gone(`DeleteSession("session-2")`, keptATs, keptRTs, nil)
}
