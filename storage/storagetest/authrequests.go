package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func testAuthRequestCRUD(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := newAuthRequest("req-full", []byte("code-1\x00\xff"), future)
	full.CodeUsedAt = ptr(created.Add(7 * time.Second))
	// max_age=0 (authenticate again now) is not "no max_age".
	zeroMaxAge := newAuthRequest("req-max-age-0", nil, future)
	zeroMaxAge.MaxAge = ptr(int64(0))
	// A fresh request: nothing set but what /authorize gives.
	bare := storage.AuthRequest{
		ID: "req-bare", ClientID: "client-1", RedirectURI: "https://portal.example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: created, ExpiresAt: future,
	}
	for _, r := range []storage.AuthRequest{full, zeroMaxAge, bare} {
		checkErr(t, fmt.Sprintf("CreateAuthRequest(%q)", r.ID), s.CreateAuthRequest(ctx, r), nil)
		got, err := s.GetAuthRequest(ctx, r.ID)
		checkErr(t, "GetAuthRequest", err, nil)
		checkEqual(t, fmt.Sprintf("GetAuthRequest(%q)", r.ID), got, r)
	}
	got, err := s.GetAuthRequest(ctx, bare.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if got.MaxAge != nil || got.CodeUsedAt != nil {
		t.Errorf("GetAuthRequest(%q): MaxAge = %v, CodeUsedAt = %v; want nil, nil", bare.ID, got.MaxAge, got.CodeUsedAt)
	}
	got, err = s.GetAuthRequest(ctx, zeroMaxAge.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if got.MaxAge == nil || *got.MaxAge != 0 {
		t.Errorf("GetAuthRequest(%q).MaxAge = %v; want a pointer to 0", zeroMaxAge.ID, got.MaxAge)
	}

	checkErr(t, "CreateAuthRequest(duplicate id)",
		s.CreateAuthRequest(ctx, newAuthRequest(full.ID, nil, future)), storage.ErrAlreadyExists)
	checkErr(t, "CreateAuthRequest(duplicate code hash)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-other", full.CodeHash, future)), storage.ErrAlreadyExists)
	_, err = s.GetAuthRequest(ctx, "missing")
	checkErr(t, `GetAuthRequest("missing")`, err, storage.ErrNotFound)

	checkAuthRequestUpdates(t, s, bare, full.CodeHash)

	checkErr(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, full.ID), nil)
	checkErr(t, "DeleteAuthRequest again", s.DeleteAuthRequest(ctx, full.ID), storage.ErrNotFound)
	_, err = s.GetAuthRequest(ctx, full.ID)
	checkErr(t, "GetAuthRequest after delete", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, full.CodeHash)
	checkErr(t, "GetAuthRequestByCode after delete", err, storage.ErrNotFound)
}

// checkAuthRequestUpdates updates bare as the login steps do, then checks
// that failing, key-changing and duplicate-code updates write nothing.
// takenCode is a code hash another request holds.
func checkAuthRequestUpdates(t *testing.T, s storage.Store, bare storage.AuthRequest, takenCode []byte) {
	t.Helper()
	ctx := t.Context()
	// The login steps finish: the code is issued.
	want := bare
	err := s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		checkEqual(t, "updater's argument", old, bare)
		old.Done = true
		old.AccountID = "account-1"
		old.SessionID = "session-1"
		old.AuthTime = created.Add(time.Minute)
		old.ACR = "urn:cardsso:loa:1"
		old.AMR = []string{"pwd"}
		old.LoginState = blob(5)
		old.CodeHash = []byte("code-2")
		old.MaxAge = ptr(int64(60))
		want = old
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest", err, nil)
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.Done = false
		return old, errUpdater
	})
	checkErr(t, "UpdateAuthRequest(failing updater)", err, errUpdater)
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.ID = "req-renamed"
		return old, nil
	})
	if err == nil {
		t.Errorf("UpdateAuthRequest(changing the id) = nil; want an error")
	}
	err = s.UpdateAuthRequest(ctx, bare.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		old.CodeHash = takenCode
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest(duplicate code hash)", err, storage.ErrAlreadyExists)
	got, err := s.GetAuthRequest(ctx, bare.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest after updates", got, want)
	err = s.UpdateAuthRequest(ctx, "missing", func(r storage.AuthRequest) (storage.AuthRequest, error) { return r, nil })
	checkErr(t, `UpdateAuthRequest("missing")`, err, storage.ErrNotFound)
}

func testAuthRequestByCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	unused := newAuthRequest("req-unused", []byte("code-unused"), future)
	used := newAuthRequest("req-used", []byte("code-used"), future)
	used.CodeUsedAt = ptr(created)
	noCode := newAuthRequest("req-no-code", nil, future)
	for _, r := range []storage.AuthRequest{unused, used, noCode} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	// Requests without a code do not collide with each other.
	checkErr(t, "CreateAuthRequest(second without code)",
		s.CreateAuthRequest(ctx, newAuthRequest("req-no-code-2", nil, future)), nil)

	for _, r := range []storage.AuthRequest{unused, used} {
		got, err := s.GetAuthRequestByCode(ctx, r.CodeHash)
		checkErr(t, "GetAuthRequestByCode", err, nil)
		checkEqual(t, fmt.Sprintf("GetAuthRequestByCode(%q)", r.CodeHash), got, r)
	}
	for _, hash := range [][]byte{[]byte("code-unknown"), nil, {}} {
		_, err := s.GetAuthRequestByCode(ctx, hash)
		checkErr(t, fmt.Sprintf("GetAuthRequestByCode(%q)", hash), err, storage.ErrNotFound)
	}
}

func testAuthRequestExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-expired", []byte("code-expired"), past)
	checkErr(t, "CreateAuthRequest(expired)", s.CreateAuthRequest(ctx, r), nil)

	_, err := s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest(expired)", err, storage.ErrNotFound)
	_, err = s.GetAuthRequestByCode(ctx, r.CodeHash)
	checkErr(t, "GetAuthRequestByCode(expired)", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(ctx, r.CodeHash, time.Now())
	checkErr(t, "ClaimAuthCode(expired)", err, storage.ErrNotFound)
	err = s.UpdateAuthRequest(ctx, r.ID, func(old storage.AuthRequest) (storage.AuthRequest, error) {
		t.Errorf("updater called for an expired auth request")
		return old, nil
	})
	checkErr(t, "UpdateAuthRequest(expired)", err, storage.ErrNotFound)
}

func testClaimAuthCode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-1", []byte("code-1\x00"), future)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)

	now := time.Now()
	want := r
	want.CodeUsedAt = &now
	got, err := s.ClaimAuthCode(ctx, r.CodeHash, now)
	checkErr(t, "ClaimAuthCode", err, nil)
	checkEqual(t, "ClaimAuthCode", got, want)
	got, err = s.GetAuthRequestByCode(ctx, r.CodeHash)
	checkErr(t, "GetAuthRequestByCode after claim", err, nil)
	checkEqual(t, "GetAuthRequestByCode after claim", got, want)

	// The second use gets the request back, marked with the first use.
	got, err = s.ClaimAuthCode(ctx, r.CodeHash, now.Add(time.Second))
	checkErr(t, "ClaimAuthCode again", err, storage.ErrAlreadyUsed)
	checkEqual(t, "ClaimAuthCode again", got, want)

	for _, hash := range [][]byte{[]byte("code-unknown"), nil} {
		_, err = s.ClaimAuthCode(ctx, hash, now)
		checkErr(t, fmt.Sprintf("ClaimAuthCode(%q)", hash), err, storage.ErrNotFound)
	}
	// A request still waiting for its code has nothing to claim.
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, newAuthRequest("req-no-code", nil, future)), nil)
	_, err = s.ClaimAuthCode(ctx, []byte{}, now)
	checkErr(t, "ClaimAuthCode(empty)", err, storage.ErrNotFound)

	// Expiry is judged at the claim's now, used or not.
	soon := now.Add(time.Hour)
	r2 := newAuthRequest("req-2", []byte("code-2"), soon)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r2), nil)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, soon.Add(time.Second))
	checkErr(t, "ClaimAuthCode(after expiry)", err, storage.ErrNotFound)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, now)
	checkErr(t, "ClaimAuthCode(before expiry)", err, nil)
	_, err = s.ClaimAuthCode(ctx, r2.CodeHash, soon.Add(time.Second))
	checkErr(t, "ClaimAuthCode(used, after expiry)", err, storage.ErrNotFound)
}
