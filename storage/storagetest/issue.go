package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// storage.TokenIssuer: a token request's claim and the tokens it issues in
// one transaction (idp/internal/oidc's issueAtOnce).

// grantOf is what tokens issued for a redeemed code inherit from its
// request (idp/internal/oidc's grantOfCode), with the time of the claim.
type grantOf struct {
	ID, ClientID, AccountID, SessionID string
	Scopes, AMR                        []string
	AuthTime                           time.Time
	ACR                                string
	Claims                             []byte
	CodeUsedAt                         *time.Time
}

func grantOfRequest(r storage.AuthRequest) grantOf {
	return grantOf{r.ID, r.ClientID, r.AccountID, r.SessionID, r.Scopes, r.AMR, r.AuthTime, r.ACR, r.Claims, r.CodeUsedAt}
}

// issueNothing is an issue function for claims that must not get as far.
func issueNothing[T any](t *testing.T, call string) func(T) (storage.AccessToken, *storage.RefreshToken, error) {
	return func(T) (storage.AccessToken, *storage.RefreshToken, error) {
		t.Errorf("%s called issue; want no claim", call)
		return storage.AccessToken{}, nil, errIssue
	}
}

func testClaimAuthCodeAndIssue(t *testing.T, s storage.Store, ti storage.TokenIssuer) {
	ctx := t.Context()
	now := time.Now()
	keep := now.Add(time.Hour)
	r := newAuthRequest("req-1", []byte("code-1\x00"), future)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	at := newAccessToken("at-1", r.ID, r.SessionID, future)
	rt := newRefreshToken("rt-1", r.ID, r.SessionID, future)

	// A failing issue writes nothing: neither the claim nor its tokens.
	_, err := ti.ClaimAuthCodeAndIssue(ctx, r.CodeHash, now, keep, func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		return at, &rt, errIssue
	})
	checkErr(t, "ClaimAuthCodeAndIssue(failing issue)", err, errIssue)
	got, err := s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest after a failing issue", got, r)
	_, err = s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken after a failing issue", err, storage.ErrNotFound)

	want := r
	want.CodeUsedAt, want.LoginState, want.ExpiresAt = &now, nil, keep
	var issued grantOf
	got, err = ti.ClaimAuthCodeAndIssue(ctx, r.CodeHash, now, keep, func(a storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		issued = grantOfRequest(a)
		return at, &rt, nil
	})
	checkErr(t, "ClaimAuthCodeAndIssue", err, nil)
	checkEqual(t, "ClaimAuthCodeAndIssue's request to issue", issued, grantOfRequest(want))
	checkEqual(t, "ClaimAuthCodeAndIssue", grantOfRequest(got), grantOfRequest(want))
	// The request is kept until keepUntil without its login state.
	got, err = s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest after the claim", err, nil)
	checkEqual(t, "GetAuthRequest after the claim", got, want)
	gotAT, err := s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken", err, nil)
	checkEqual(t, "GetAccessToken of the issued token", gotAT, at)
	gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
	checkErr(t, "GetRefreshToken", err, nil)
	checkEqual(t, "GetRefreshToken of the issued token", gotRT, rt)

	// A replay gets the request back, to revoke what the first use issued.
	call := "ClaimAuthCodeAndIssue(replayed)"
	got, err = ti.ClaimAuthCodeAndIssue(ctx, r.CodeHash, now.Add(time.Second), keep, issueNothing[storage.AuthRequest](t, call))
	checkErr(t, call, err, storage.ErrAlreadyUsed)
	if got.ID != r.ID {
		t.Errorf("%s = request %q; want %q", call, got.ID, r.ID)
	}
	checkErr(t, "RevokeGrant", s.RevokeGrant(ctx, got.ID), nil)
	_, err = s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken after RevokeGrant", err, storage.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, rt.Hash)
	checkErr(t, "GetRefreshToken after RevokeGrant", err, storage.ErrNotFound)

	for _, hash := range [][]byte{[]byte("code-unknown"), nil} {
		call := fmt.Sprintf("ClaimAuthCodeAndIssue(%q)", hash)
		_, err := ti.ClaimAuthCodeAndIssue(ctx, hash, now, keep, issueNothing[storage.AuthRequest](t, call))
		checkErr(t, call, err, storage.ErrNotFound)
	}
	soon := newAuthRequest("req-soon", []byte("code-soon"), now.Add(time.Minute))
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, soon), nil)
	call = "ClaimAuthCodeAndIssue(expired at now)"
	_, err = ti.ClaimAuthCodeAndIssue(ctx, soon.CodeHash, now.Add(2*time.Minute), keep, issueNothing[storage.AuthRequest](t, call))
	checkErr(t, call, err, storage.ErrNotFound)

	// Without offline_access there is no refresh token to store.
	only := newAuthRequest("req-only", []byte("code-only"), future)
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, only), nil)
	onlyAT := newAccessToken("at-only", only.ID, only.SessionID, future)
	_, err = ti.ClaimAuthCodeAndIssue(ctx, only.CodeHash, now, keep, func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		return onlyAT, nil, nil
	})
	checkErr(t, "ClaimAuthCodeAndIssue(no refresh token)", err, nil)
	_, err = s.GetAccessToken(ctx, onlyAT.ID)
	checkErr(t, "GetAccessToken(no refresh token)", err, nil)
}

func testClaimRefreshTokenAndIssue(t *testing.T, s storage.Store, ti storage.TokenIssuer) {
	ctx := t.Context()
	now := time.Now()
	old := newRefreshToken("rt-old", "grant-1", "session-1", future)
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, old), nil)
	at := newAccessToken("at-1", old.GrantID, old.SessionID, future)
	next := newRefreshToken("rt-next", old.GrantID, old.SessionID, future.Add(time.Hour))

	_, err := ti.ClaimRefreshTokenAndIssue(ctx, old.Hash, now, func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
		return at, &next, errIssue
	})
	checkErr(t, "ClaimRefreshTokenAndIssue(failing issue)", err, errIssue)
	gotRT, err := s.GetRefreshToken(ctx, old.Hash)
	checkErr(t, "GetRefreshToken", err, nil)
	checkEqual(t, "GetRefreshToken after a failing issue", gotRT, old)
	_, err = s.GetRefreshToken(ctx, next.Hash)
	checkErr(t, "GetRefreshToken(new token) after a failing issue", err, storage.ErrNotFound)

	want := old
	want.UsedAt = &now
	var arg storage.RefreshToken
	got, err := ti.ClaimRefreshTokenAndIssue(ctx, old.Hash, now, func(v storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
		arg = v
		return at, &next, nil
	})
	checkErr(t, "ClaimRefreshTokenAndIssue", err, nil)
	checkEqual(t, "ClaimRefreshTokenAndIssue's token to issue", arg, want)
	checkEqual(t, "ClaimRefreshTokenAndIssue", got, want)
	for _, rt := range []storage.RefreshToken{want, next} {
		gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, "GetRefreshToken", err, nil)
		checkEqual(t, fmt.Sprintf("GetRefreshToken(%q) after the rotation", rt.ID), gotRT, rt)
	}
	gotAT, err := s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken", err, nil)
	checkEqual(t, "GetAccessToken of the issued token", gotAT, at)

	// A reuse gets the token back, to revoke its family.
	call := "ClaimRefreshTokenAndIssue(reused)"
	got, err = ti.ClaimRefreshTokenAndIssue(ctx, old.Hash, now.Add(time.Second), issueNothing[storage.RefreshToken](t, call))
	checkErr(t, call, err, storage.ErrAlreadyUsed)
	checkEqual(t, call, got, want)

	for _, hash := range [][]byte{[]byte("unknown"), nil} {
		call := fmt.Sprintf("ClaimRefreshTokenAndIssue(%q)", hash)
		_, err := ti.ClaimRefreshTokenAndIssue(ctx, hash, now, issueNothing[storage.RefreshToken](t, call))
		checkErr(t, call, err, storage.ErrNotFound)
	}
	soon := newRefreshToken("rt-soon", "grant-2", "session-1", now.Add(time.Minute))
	checkErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, soon), nil)
	call = "ClaimRefreshTokenAndIssue(expired at now)"
	_, err = ti.ClaimRefreshTokenAndIssue(ctx, soon.Hash, now.Add(2*time.Minute), issueNothing[storage.RefreshToken](t, call))
	checkErr(t, call, err, storage.ErrNotFound)

	// Revoking the family takes what every rotation issued.
	checkErr(t, "RevokeGrant", s.RevokeGrant(ctx, got.GrantID), nil)
	for _, rt := range []storage.RefreshToken{old, next} {
		_, err := s.GetRefreshToken(ctx, rt.Hash)
		checkErr(t, fmt.Sprintf("GetRefreshToken(%q) after RevokeGrant", rt.ID), err, storage.ErrNotFound)
	}
	_, err = s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken after RevokeGrant", err, storage.ErrNotFound)
}

// testIssueRace redeems one code, then rotates one refresh token, with
// call i on node i mod len(nodes) (storage.TokenIssuer): each time one
// claim wins and only its tokens are stored.
func testIssueRace(t *testing.T, nodes []storage.Store) {
	issuers, ok := capabilityOf[storage.TokenIssuer](t, nodes)
	if !ok {
		return
	}
	ctx := t.Context()
	const n = 16
	r := newAuthRequest("req-raced", []byte("code-raced"), future)
	checkErr(t, "CreateAuthRequest", nodes[0].CreateAuthRequest(ctx, r), nil)
	rt := newRefreshToken("rt-raced", "grant-raced", "session-1", future)
	checkErr(t, "CreateRefreshToken", nodes[0].CreateRefreshToken(ctx, rt), nil)
	now := time.Now()
	check := func(what, gotID, wantID string, err error) error {
		if (err == nil || errors.Is(err, storage.ErrAlreadyUsed)) && gotID != wantID {
			return fmt.Errorf("claimed %s %q; want %q (err %v)", what, gotID, wantID, err)
		}
		return err
	}
	codeErrs := race(n, func(i int) error {
		got, err := issuers[i%len(issuers)].ClaimAuthCodeAndIssue(ctx, r.CodeHash, now, now.Add(time.Hour),
			func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
				return newAccessToken(fmt.Sprintf("at-code-%d", i), r.ID, r.SessionID, future), nil, nil
			})
		return check("request", got.ID, r.ID, err)
	})
	checkSingleWinner(t, fmt.Sprintf("ClaimAuthCodeAndIssue on %d stores", len(nodes)), codeErrs)
	checkIssuedOnce(t, nodes[len(nodes)-1], "at-code-%d", codeErrs)

	rtErrs := race(n, func(i int) error {
		got, err := issuers[i%len(issuers)].ClaimRefreshTokenAndIssue(ctx, rt.Hash, now,
			func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
				return newAccessToken(fmt.Sprintf("at-rt-%d", i), rt.GrantID, rt.SessionID, future), nil, nil
			})
		return check("token", got.ID, rt.ID, err)
	})
	checkSingleWinner(t, fmt.Sprintf("ClaimRefreshTokenAndIssue on %d stores", len(nodes)), rtErrs)
	checkIssuedOnce(t, nodes[len(nodes)-1], "at-rt-%d", rtErrs)
}

// checkIssuedOnce fails t unless the access token of the claim that won
// (errs[i] nil, its id format with i) is stored and no other.
func checkIssuedOnce(t *testing.T, s storage.Store, format string, errs []error) {
	t.Helper()
	for i, err := range errs {
		id := fmt.Sprintf(format, i)
		_, getErr := s.GetAccessToken(t.Context(), id)
		switch {
		case err == nil && getErr != nil:
			t.Errorf("GetAccessToken(%q) of the claim that won: %v; want it stored", id, getErr)
		case err != nil && !errors.Is(getErr, storage.ErrNotFound):
			t.Errorf("GetAccessToken(%q) of a claim that lost: %v; want ErrNotFound", id, getErr)
		}
	}
}
