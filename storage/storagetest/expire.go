package storagetest

import (
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// testDeleteExpired checks that DeleteExpired removes exactly the expired
// rows, counts them, and leaves the rows that never expire.
func testDeleteExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Rows that do not expire stay whatever their times.
	checkErr(t, "CreateAccount", s.CreateAccount(ctx, newAccount("acct-1", 1)), nil)
	checkErr(t, "CreateClient", s.CreateClient(ctx, newClient("client-1")), nil)
	key := newSigningKey("kid", past, storage.KeyRetired)
	key.ExpiresAt = ptr(past)
	checkErr(t, "UpdateSigningKeys", s.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{key}, nil
	}), nil)

	var expired int64
	for _, r := range []storage.AuthRequest{
		newAuthRequest("req-expired", []byte("code-expired"), past),
		newAuthRequest("req-live", []byte("code-live"), future),
	} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	expired++
	for _, at := range []storage.AccessToken{
		newAccessToken("at-expired-1", "grant-1", "session-1", past),
		newAccessToken("at-expired-2", "grant-1", "session-1", past),
		newAccessToken("at-live", "grant-1", "session-1", future),
	} {
		checkErr(t, "CreateAccessToken", s.CreateAccessToken(ctx, at), nil)
	}
	expired += 2
	for _, rt := range []storage.RefreshToken{
		newRefreshToken("rt-expired", "grant-1", "session-1", past),
		newRefreshToken("rt-live", "grant-1", "session-1", future),
	} {
		checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}
	expired++
	for _, sess := range []storage.Session{newSession("session-expired", past), newSession("session-live", future)} {
		checkErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	}
	expired++

	n, err := s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired", err, nil)
	if n != expired {
		t.Errorf("DeleteExpired = %d; want %d", n, expired)
	}
	n, err = s.DeleteExpired(ctx, time.Now())
	checkErr(t, "DeleteExpired again", err, nil)
	if n != 0 {
		t.Errorf("DeleteExpired again = %d; want 0", n)
	}

	// The expired rows are gone, not merely hidden: their keys are free.
	checkErr(t, "CreateAuthRequest(reused id)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-expired", []byte("code-expired"), future)), nil)
	checkErr(t, "CreateAccessToken(reused id)",
		s.CreateAccessToken(ctx, newAccessToken("at-expired-1", "grant-1", "session-1", future)), nil)
	checkErr(t, "CreateRefreshToken(reused hash)",
		s.CreateRefreshToken(ctx, newRefreshToken("rt-expired", "grant-1", "session-1", future)), nil)
	checkErr(t, "CreateSession(reused id)", s.CreateSession(ctx, newSession("session-expired", future)), nil)

	_, err = s.GetAuthRequest(ctx, "req-live")
	checkErr(t, "GetAuthRequest(live)", err, nil)
	_, err = s.GetAccessToken(ctx, "at-live")
	checkErr(t, "GetAccessToken(live)", err, nil)
	_, err = s.GetRefreshToken(ctx, newRefreshToken("rt-live", "", "", future).Hash)
	checkErr(t, "GetRefreshToken(live)", err, nil)
	_, err = s.GetSession(ctx, "session-live")
	checkErr(t, "GetSession(live)", err, nil)
	_, err = s.GetAccount(ctx, "acct-1")
	checkErr(t, "GetAccount", err, nil)
	_, err = s.GetClient(ctx, "client-1")
	checkErr(t, "GetClient", err, nil)
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after DeleteExpired", keys, []storage.SigningKey{key})
}
