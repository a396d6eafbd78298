package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// The fast-path capabilities (storage.CodeSaver, storage.TokenIssuer,
// storage.Completer): what idp/internal/oidc and idp/internal/login run on
// a store that has them, checked for the answers those callers branch on.

// errIssue is what the suite's failing issue functions return.
var errIssue = errors.New("storagetest: issue refuses")

// pendingAuthRequest is a request whose citizen has not authenticated yet.
func pendingAuthRequest(id string, expires time.Time) storage.AuthRequest {
	r := newAuthRequest(id, nil, expires)
	r.Done, r.AccountID, r.SessionID, r.AuthTime, r.ACR, r.AMR = false, "", "", time.Time{}, "", nil
	return r
}

func testSaveAuthCode(t *testing.T, s storage.Store, cs storage.CodeSaver) {
	ctx := t.Context()
	now := time.Now()
	done := newAuthRequest("req-done", nil, future)
	other := newAuthRequest("req-other", nil, future)
	pending := pendingAuthRequest("req-pending", future)
	soon := newAuthRequest("req-soon", nil, now.Add(time.Minute))
	for _, r := range []storage.AuthRequest{done, other, pending, soon} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	for _, tc := range []struct{ name, id string }{
		{"not authenticated", pending.ID},
		{"unknown", "missing"},
	} {
		err := cs.SaveAuthCode(ctx, tc.id, []byte("code-"+tc.name), now.Add(10*time.Minute), now)
		checkErr(t, fmt.Sprintf("SaveAuthCode(%s)", tc.name), err, storage.ErrNotCompleted)
	}
	err := cs.SaveAuthCode(ctx, soon.ID, []byte("code-late"), now.Add(10*time.Minute), now.Add(2*time.Minute))
	checkErr(t, "SaveAuthCode(expired at now)", err, storage.ErrNotCompleted)
	if err := cs.SaveAuthCode(ctx, done.ID, nil, now.Add(10*time.Minute), now); err == nil {
		t.Errorf("SaveAuthCode(empty code hash) = nil; want an error")
	}

	code, exp := []byte("code-1\x00\xff"), now.Add(10*time.Minute)
	checkErr(t, "SaveAuthCode", cs.SaveAuthCode(ctx, done.ID, code, exp, now), nil)
	want := done
	want.CodeHash, want.ExpiresAt = code, exp
	got, err := s.GetAuthRequestByCode(ctx, code)
	checkErr(t, "GetAuthRequestByCode", err, nil)
	checkEqual(t, "GetAuthRequestByCode after SaveAuthCode", got, want)

	// One code per request, and a code belongs to one request.
	checkErr(t, "SaveAuthCode(a code another request holds)", cs.SaveAuthCode(ctx, other.ID, code, exp, now), storage.ErrAlreadyExists)
	checkErr(t, "SaveAuthCode(a second code)", cs.SaveAuthCode(ctx, done.ID, []byte("code-2"), exp, now), storage.ErrNotCompleted)
	_, err = s.ClaimAuthCode(ctx, code, now)
	checkErr(t, "ClaimAuthCode", err, nil)
	checkErr(t, "SaveAuthCode(redeemed)", cs.SaveAuthCode(ctx, done.ID, []byte("code-3"), exp, now), storage.ErrNotCompleted)

	// What was refused changed nothing.
	for _, r := range []storage.AuthRequest{other, pending, soon} {
		got, err := s.GetAuthRequest(ctx, r.ID)
		checkErr(t, "GetAuthRequest", err, nil)
		checkEqual(t, fmt.Sprintf("GetAuthRequest(%q) after refused SaveAuthCode", r.ID), got, r)
	}
}

func testCompleteAuthRequest(t *testing.T, s storage.Store, c storage.Completer) {
	ctx := t.Context()
	now := time.Now()
	r := pendingAuthRequest("req-1", future)
	soon := pendingAuthRequest("req-soon", now.Add(time.Minute))
	for _, r := range []storage.AuthRequest{r, soon} {
		checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	}
	complete := func(call, accountID, sessionID, acr string, amr []string, want error) storage.AuthRequest {
		t.Helper()
		auth := created.Add(time.Hour)
		checkErr(t, call, c.CompleteAuthRequest(ctx, r.ID, accountID, sessionID, auth, acr, amr, now), want)
		w := r
		w.Done, w.AccountID, w.SessionID, w.AuthTime, w.ACR, w.AMR, w.LoginState = true, accountID, sessionID, auth, acr, amr, nil
		return w
	}
	want := complete("CompleteAuthRequest", "account-1", "session-1", "urn:cardsso:loa:2", []string{"pwd", "face"}, nil)
	got, err := s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest after CompleteAuthRequest", got, want)

	// A step-up completes it again for the same account.
	want = complete("CompleteAuthRequest(same account)", "account-1", "session-2", "urn:cardsso:loa:3", []string{"pwd", "face", "swk"}, nil)
	complete("CompleteAuthRequest(another account)", "account-2", "session-3", "urn:cardsso:loa:1", []string{"pwd"}, storage.ErrOtherAccount)
	got, err = s.GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest after a step-up and another account's attempt", got, want)

	checkErr(t, "CompleteAuthRequest(unknown)",
		c.CompleteAuthRequest(ctx, "missing", "account-1", "session-1", now, "", nil, now), storage.ErrNotFound)
	checkErr(t, "CompleteAuthRequest(expired at now)",
		c.CompleteAuthRequest(ctx, soon.ID, "account-1", "session-1", now, "", nil, now.Add(2*time.Minute)), storage.ErrNotFound)
	got, err = s.GetAuthRequest(ctx, soon.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	checkEqual(t, "GetAuthRequest(expired at now) after CompleteAuthRequest", got, soon)
}

// testLoginFlow runs a login the way the fast paths run it: the request is
// completed, given a code, and the code is redeemed for tokens.
func testLoginFlow(t *testing.T, s storage.Store) {
	c, ok1 := s.(storage.Completer)
	cs, ok2 := s.(storage.CodeSaver)
	ti, ok3 := s.(storage.TokenIssuer)
	if !ok1 || !ok2 || !ok3 {
		t.Logf("the store lacks a fast path (Completer %v, CodeSaver %v, TokenIssuer %v): nothing to check", ok1, ok2, ok3)
		return
	}
	ctx := t.Context()
	now := time.Now()
	r := pendingAuthRequest("req-1", now.Add(10*time.Minute))
	checkErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, r), nil)
	code := []byte("code-1")
	checkErr(t, "SaveAuthCode(before the login)", cs.SaveAuthCode(ctx, r.ID, code, now.Add(time.Minute), now), storage.ErrNotCompleted)
	checkErr(t, "CompleteAuthRequest", c.CompleteAuthRequest(ctx, r.ID, "account-1", "session-1", now, "urn:cardsso:loa:2", []string{"pwd"}, now), nil)
	checkErr(t, "SaveAuthCode", cs.SaveAuthCode(ctx, r.ID, code, now.Add(time.Minute), now), nil)
	at := newAccessToken("at-1", r.ID, "session-1", future)
	got, err := ti.ClaimAuthCodeAndIssue(ctx, code, now, now.Add(time.Hour), func(a storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		if a.AccountID != "account-1" || a.SessionID != "session-1" || a.ACR != "urn:cardsso:loa:2" {
			t.Errorf("issue got account %q, session %q, acr %q; want the completed login's", a.AccountID, a.SessionID, a.ACR)
		}
		return at, nil, nil
	})
	checkErr(t, "ClaimAuthCodeAndIssue", err, nil)
	if got.ID != r.ID || got.ClientID != r.ClientID {
		t.Errorf("ClaimAuthCodeAndIssue = request %q of client %q; want %q of %q", got.ID, got.ClientID, r.ID, r.ClientID)
	}
	_, err = s.GetAccessToken(ctx, at.ID)
	checkErr(t, "GetAccessToken", err, nil)
	// The redeemed request is kept (for replays) but takes no new code.
	checkErr(t, "SaveAuthCode(redeemed)", cs.SaveAuthCode(ctx, r.ID, []byte("code-2"), now.Add(time.Minute), now), storage.ErrNotCompleted)
}

// testSaveAuthCodeRace saves a different code for one request with call i
// on node i mod len(nodes) (storage.CodeSaver): one is saved, the others
// get ErrNotCompleted, and the request holds the one saved.
func testSaveAuthCodeRace(t *testing.T, nodes []storage.Store) {
	savers, ok := capabilityOf[storage.CodeSaver](t, nodes)
	if !ok {
		return
	}
	ctx := t.Context()
	r := newAuthRequest("req-raced", nil, future)
	checkErr(t, "CreateAuthRequest", nodes[0].CreateAuthRequest(ctx, r), nil)
	now := time.Now()
	code := func(i int) []byte { return fmt.Appendf(nil, "code-%d", i) }
	errs := race(16, func(i int) error {
		return savers[i%len(savers)].SaveAuthCode(ctx, r.ID, code(i), now.Add(time.Hour), now)
	})
	winner := checkOneWinner(t, fmt.Sprintf("SaveAuthCode on %d stores", len(nodes)), errs, storage.ErrNotCompleted)
	got, err := nodes[len(nodes)-1].GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if winner >= 0 && string(got.CodeHash) != string(code(winner)) {
		t.Errorf("GetAuthRequest after the race: CodeHash = %q; want the saved %q", got.CodeHash, code(winner))
	}
}

// testCompleteAuthRequestRace completes one request for account i with
// call i on node i mod len(nodes) (storage.Completer): one completion
// wins, the others get ErrOtherAccount, and the request is the winner's.
func testCompleteAuthRequestRace(t *testing.T, nodes []storage.Store) {
	completers, ok := capabilityOf[storage.Completer](t, nodes)
	if !ok {
		return
	}
	ctx := t.Context()
	r := pendingAuthRequest("req-raced", future)
	checkErr(t, "CreateAuthRequest", nodes[0].CreateAuthRequest(ctx, r), nil)
	now := time.Now()
	account := func(i int) string { return fmt.Sprintf("account-%d", i) }
	errs := race(8, func(i int) error {
		return completers[i%len(completers)].CompleteAuthRequest(ctx, r.ID, account(i), "session-1", now, "urn:cardsso:loa:1", []string{"pwd"}, now)
	})
	winner := checkOneWinner(t, fmt.Sprintf("CompleteAuthRequest on %d stores", len(nodes)), errs, storage.ErrOtherAccount)
	got, err := nodes[len(nodes)-1].GetAuthRequest(ctx, r.ID)
	checkErr(t, "GetAuthRequest", err, nil)
	if winner >= 0 && (!got.Done || got.AccountID != account(winner)) {
		t.Errorf("GetAuthRequest after the race: Done %v, AccountID %q; want done for the winner %q", got.Done, got.AccountID, account(winner))
	}
}
