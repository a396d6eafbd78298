package sqlstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// The token issue capabilities (issue.go), on both flavours.
func TestIssue(t *testing.T) {
	flavours := map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite": func(t *testing.T) *sqlstore.Store { return open(t, sqlstore.Config{DSN: tempFile(t)}) },
	}
	if storagetest.PostgresConfigured() {
		flavours["postgres"] = func(t *testing.T) *sqlstore.Store { return openPostgres(t, storagetest.FreshPostgres(t)) }
	} else {
		t.Logf("%s is not set: the PostgreSQL cases do not run", storagetest.PostgresEnv)
	}
	for name, openStore := range flavours {
		t.Run(name, func(t *testing.T) {
			t.Run("ClaimAuthCodeAndIssue", func(t *testing.T) { testClaimAuthCodeAndIssue(t, openStore(t)) })
			t.Run("ClaimRefreshTokenAndIssue", func(t *testing.T) { testClaimRefreshTokenAndIssue(t, openStore(t)) })
			t.Run("RevokeIssuedGrant", func(t *testing.T) { testRevokeIssuedGrant(t, openStore(t)) })
			t.Run("SaveAuthCode", func(t *testing.T) { testSaveAuthCode(t, openStore(t)) })
			t.Run("CompleteAuthRequest", func(t *testing.T) { testCompleteAuthRequest(t, openStore(t)) })
		})
	}
}

var errIssue = errors.New("issue failed")

func testClaimAuthCodeAndIssue(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	code := hotHash("code-1")
	req := hotAuthRequest(now, code)
	req.LoginState = []byte(`{"auth":{}}`)
	if err := s.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	at := hotAccessToken(now)
	at.GrantID = req.ID
	rt := storage.RefreshToken{Hash: hotHash("rt-1"), ID: "rt-1", GrantID: req.ID, ClientID: "portal", ExpiresAt: now.Add(time.Hour)}

	// A failing issue writes nothing: the code stays claimable.
	_, err := s.ClaimAuthCodeAndIssue(ctx, code, now, now.Add(time.Hour), func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		return at, nil, errIssue
	})
	if !errors.Is(err, errIssue) {
		t.Fatalf("ClaimAuthCodeAndIssue with a failing issue = %v; want %v", err, errIssue)
	}
	if got, err := s.GetAuthRequest(ctx, req.ID); err != nil || got.CodeUsedAt != nil {
		t.Fatalf("after a failed issue: GetAuthRequest = %+v, %v; want the code unused", got.CodeUsedAt, err)
	}

	keep := now.Add(30 * time.Minute)
	var seen storage.AuthRequest
	got, err := s.ClaimAuthCodeAndIssue(ctx, code, now, keep, func(a storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		seen = a
		return at, &rt, nil
	})
	if err != nil || got.ID != req.ID || seen.ID != req.ID || got.CodeUsedAt == nil {
		t.Fatalf("ClaimAuthCodeAndIssue = %+v, %v; want request %s claimed", got, err, req.ID)
	}
	kept, err := s.GetAuthRequest(ctx, req.ID)
	if err != nil || kept.LoginState != nil || !kept.ExpiresAt.Equal(keep) || kept.CodeUsedAt == nil {
		t.Fatalf("kept request = state %q expires %v used %v, %v; want no state, expiry %v, used", kept.LoginState, kept.ExpiresAt, kept.CodeUsedAt, err, keep)
	}
	if _, err := s.GetAccessToken(ctx, at.ID); err != nil {
		t.Errorf("GetAccessToken(issued) = %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, rt.Hash); err != nil {
		t.Errorf("GetRefreshToken(issued) = %v", err)
	}

	// A second claim: already used, with the request, nothing written.
	at2 := hotAccessToken(now)
	got, err = s.ClaimAuthCodeAndIssue(ctx, code, now, keep, func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		return at2, nil, nil
	})
	if !errors.Is(err, storage.ErrAlreadyUsed) || got.ID != req.ID {
		t.Fatalf("second ClaimAuthCodeAndIssue = %q, %v; want %s and ErrAlreadyUsed", got.ID, err, req.ID)
	}
	if _, err := s.GetAccessToken(ctx, at2.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetAccessToken(second issue) = %v; want ErrNotFound", err)
	}
	if _, err := s.ClaimAuthCodeAndIssue(ctx, hotHash("unknown"), now, keep, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ClaimAuthCodeAndIssue(unknown) = %v; want ErrNotFound", err)
	}
	// An expired code is not claimed.
	old := hotAuthRequest(now.Add(-time.Hour), hotHash("code-old"))
	old.ExpiresAt = now.Add(-time.Minute)
	if err := s.CreateAuthRequest(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimAuthCodeAndIssue(ctx, old.CodeHash, now, keep, nil); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ClaimAuthCodeAndIssue(expired) = %v; want ErrNotFound", err)
	}
}

func testClaimRefreshTokenAndIssue(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := storage.RefreshToken{Hash: hotHash("old"), ID: "old", GrantID: "grant", ClientID: "portal", ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	at := hotAccessToken(now)
	next := storage.RefreshToken{Hash: hotHash("next"), ID: "next", GrantID: "grant", ClientID: "portal", ExpiresAt: now.Add(time.Hour)}
	got, err := s.ClaimRefreshTokenAndIssue(ctx, old.Hash, now, func(r storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
		if r.GrantID != "grant" {
			t.Errorf("issue got grant %q; want grant", r.GrantID)
		}
		return at, &next, nil
	})
	if err != nil || got.ID != "old" || got.UsedAt == nil {
		t.Fatalf("ClaimRefreshTokenAndIssue = %+v, %v; want old, used", got, err)
	}
	if _, err := s.GetAccessToken(ctx, at.ID); err != nil {
		t.Errorf("GetAccessToken(issued) = %v", err)
	}
	if n, err := s.GetRefreshToken(ctx, next.Hash); err != nil || n.UsedAt != nil {
		t.Errorf("GetRefreshToken(next) = %+v, %v; want it unused", n, err)
	}
	got, err = s.ClaimRefreshTokenAndIssue(ctx, old.Hash, now, func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
		return hotAccessToken(now), nil, nil
	})
	if !errors.Is(err, storage.ErrAlreadyUsed) || got.GrantID != "grant" {
		t.Errorf("reused: ClaimRefreshTokenAndIssue = %+v, %v; want the token and ErrAlreadyUsed", got, err)
	}
	// A duplicate new token (the same hash) fails the whole transaction.
	third := storage.RefreshToken{Hash: hotHash("third"), ID: "third", GrantID: "grant", ClientID: "portal", ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, third); err != nil {
		t.Fatal(err)
	}
	_, err = s.ClaimRefreshTokenAndIssue(ctx, next.Hash, now, func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
		return hotAccessToken(now), &third, nil
	})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("issue of an existing refresh token = %v; want ErrAlreadyExists", err)
	}
	if n, err := s.GetRefreshToken(ctx, next.Hash); err != nil || n.UsedAt != nil {
		t.Errorf("after the failed issue, GetRefreshToken(next) = %+v, %v; want it unused", n, err)
	}
}

func testSaveAuthCode(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	pending := hotAuthRequest(now, nil)
	pending.Done = false
	pending.ExpiresAt = now.Add(time.Hour)
	done := hotAuthRequest(now, nil)
	done.ExpiresAt = now.Add(time.Hour)
	for _, r := range []storage.AuthRequest{pending, done} {
		if err := s.CreateAuthRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveAuthCode(ctx, pending.ID, hotHash("c0"), now.Add(time.Minute), now); !errors.Is(err, sqlstore.ErrNotCompleted) {
		t.Errorf("SaveAuthCode(not done) = %v; want ErrNotCompleted", err)
	}
	if err := s.SaveAuthCode(ctx, "unknown", hotHash("c0"), now.Add(time.Minute), now); !errors.Is(err, sqlstore.ErrNotCompleted) {
		t.Errorf("SaveAuthCode(unknown) = %v; want ErrNotCompleted", err)
	}
	exp := now.Add(time.Minute)
	if err := s.SaveAuthCode(ctx, done.ID, hotHash("c1"), exp, now); err != nil {
		t.Fatalf("SaveAuthCode(done) = %v", err)
	}
	got, err := s.GetAuthRequestByCode(ctx, hotHash("c1"))
	if err != nil || got.ID != done.ID || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("GetAuthRequestByCode = %q expires %v, %v; want %s expiring %v", got.ID, got.ExpiresAt, err, done.ID, exp)
	}
	other := hotAuthRequest(now, nil)
	other.ExpiresAt = now.Add(time.Hour)
	if err := s.CreateAuthRequest(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAuthCode(ctx, other.ID, hotHash("c1"), exp, now); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("SaveAuthCode(a code another request holds) = %v; want ErrAlreadyExists", err)
	}
	// A completed request yields one code, ever: a second code for the
	// same request is refused before the first is redeemed.
	if err := s.SaveAuthCode(ctx, done.ID, hotHash("c1b"), exp, now); !errors.Is(err, sqlstore.ErrNotCompleted) {
		t.Errorf("SaveAuthCode(a second code) = %v; want ErrNotCompleted", err)
	}
	if _, err := s.ClaimAuthCode(ctx, hotHash("c1"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAuthCode(ctx, done.ID, hotHash("c2"), exp, now); !errors.Is(err, sqlstore.ErrNotCompleted) {
		t.Errorf("SaveAuthCode(redeemed) = %v; want ErrNotCompleted", err)
	}
}

func testCompleteAuthRequest(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := hotAuthRequest(now, nil)
	r.Done, r.AccountID, r.SessionID, r.ACR, r.AMR = false, "", "", "", nil
	r.LoginState = []byte(`{"auth":{}}`)
	r.ExpiresAt = now.Add(time.Hour)
	if err := s.CreateAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	auth := now.Add(-time.Minute)
	if err := s.CompleteAuthRequest(ctx, r.ID, "acct", "sess", auth, "urn:cardsso:loa:1", []string{"pwd"}, now); err != nil {
		t.Fatalf("CompleteAuthRequest = %v", err)
	}
	got, err := s.GetAuthRequest(ctx, r.ID)
	if err != nil || !got.Done || got.AccountID != "acct" || got.SessionID != "sess" || !got.AuthTime.Equal(auth) ||
		got.ACR != "urn:cardsso:loa:1" || len(got.AMR) != 1 || got.LoginState != nil {
		t.Fatalf("completed request = %+v, %v", got, err)
	}
	// Again for the same account (another session): fine; for another: refused.
	if err := s.CompleteAuthRequest(ctx, r.ID, "acct", "sess2", auth, "urn:cardsso:loa:2", nil, now); err != nil {
		t.Errorf("CompleteAuthRequest(same account) = %v", err)
	}
	if err := s.CompleteAuthRequest(ctx, r.ID, "other", "sess3", auth, "urn:cardsso:loa:1", nil, now); !errors.Is(err, sqlstore.ErrOtherAccount) {
		t.Errorf("CompleteAuthRequest(other account) = %v; want ErrOtherAccount", err)
	}
	if got, _ := s.GetAuthRequest(ctx, r.ID); got.AccountID != "acct" || got.SessionID != "sess2" {
		t.Errorf("after the refused completion: account %q session %q; want acct, sess2", got.AccountID, got.SessionID)
	}
	if err := s.CompleteAuthRequest(ctx, "unknown", "acct", "s", auth, "", nil, now); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CompleteAuthRequest(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.CompleteAuthRequest(ctx, r.ID, "acct", "s", auth, "", nil, now.Add(2*time.Hour)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CompleteAuthRequest(expired) = %v; want ErrNotFound", err)
	}
}

// testRevokeIssuedGrant follows a grant from its code through refresh
// rotations and revokes it: every token issued on the way goes. On the way,
// grant_sessions holds the grant's session until after its last token
// expires, and a rotation whose tokens it covers leaves it alone.
func testRevokeIssuedGrant(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	code := hotHash("grant-code")
	req := hotAuthRequest(now, code)
	if err := s.CreateAuthRequest(ctx, req); err != nil {
		t.Fatal(err)
	}
	recordedUntil := func() time.Time {
		t.Helper()
		var ms []int64
		if err := s.DB().SelectContext(ctx, &ms, s.DB().Rebind("SELECT expires_at FROM grant_sessions WHERE grant_id = ? AND session_id = ?"),
			req.ID, req.SessionID); err != nil || len(ms) != 1 {
			t.Fatalf("grant_sessions rows of the grant = %v, %v; want one", ms, err)
		}
		return time.UnixMilli(ms[0]).UTC()
	}
	tokens := func(ttl time.Duration) (storage.AccessToken, *storage.RefreshToken) {
		at := hotAccessToken(now)
		at.GrantID, at.SessionID = req.ID, req.SessionID
		rt := &storage.RefreshToken{Hash: hotHash(hotID("rt")), ID: hotID("rt"), GrantID: req.ID, SessionID: req.SessionID,
			ClientID: "portal", CreatedAt: now, ExpiresAt: now.Add(ttl)}
		return at, rt
	}
	var issued []storage.AccessToken
	var refresh []*storage.RefreshToken
	at, rt := tokens(time.Hour)
	if _, err := s.ClaimAuthCodeAndIssue(ctx, code, now, now.Add(time.Hour), func(storage.AuthRequest) (storage.AccessToken, *storage.RefreshToken, error) {
		return at, rt, nil
	}); err != nil {
		t.Fatal(err)
	}
	issued, refresh = append(issued, at), append(refresh, rt)
	if got, want := recordedUntil(), rt.ExpiresAt.Add(sqlstore.GrantSessionSlack); !got.Equal(want) {
		t.Fatalf("grant_sessions expiry after the code = %v; want the refresh token's expiry and slack, %v", got, want)
	}

	rotate := func(ttl time.Duration) {
		t.Helper()
		at, rt := tokens(ttl)
		prev := refresh[len(refresh)-1]
		if _, err := s.ClaimRefreshTokenAndIssue(ctx, prev.Hash, now, func(storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
			return at, rt, nil
		}); err != nil {
			t.Fatal(err)
		}
		issued, refresh = append(issued, at), append(refresh, rt)
	}
	// Covered: nothing written.
	before := recordedUntil()
	rotate(2 * time.Hour)
	if got := recordedUntil(); !got.Equal(before) {
		t.Errorf("grant_sessions expiry after a rotation it covers = %v; want %v unchanged", got, before)
	}
	// A token that outlives it moves it on.
	rotate(2*time.Hour + sqlstore.GrantSessionSlack)
	if got, want := recordedUntil(), now.Add(2*time.Hour+2*sqlstore.GrantSessionSlack); !got.Equal(want) {
		t.Errorf("grant_sessions expiry after a longer-lived rotation = %v; want %v", got, want)
	}

	if err := s.RevokeGrant(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	for _, at := range issued {
		if _, err := s.GetAccessToken(ctx, at.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetAccessToken(%s) after RevokeGrant = %v; want ErrNotFound", at.ID, err)
		}
	}
	for _, rt := range refresh {
		if _, err := s.GetRefreshToken(ctx, rt.Hash); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("GetRefreshToken(%s) after RevokeGrant = %v; want ErrNotFound", rt.ID, err)
		}
	}
}
