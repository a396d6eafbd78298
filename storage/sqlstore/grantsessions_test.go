package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// TestGrantSessionRowsFollowTheirTokens: the grant_sessions row of an
// access token alone expires with the token (its grant gets no later
// tokens), so a code flow without offline_access leaves nothing behind;
// a grant with a refresh token keeps its row a day longer, so that its
// rotations find it and write nothing (issue #18 §7).
func TestGrantSessionRowsFollowTheirTokens(t *testing.T) {
	ctx := context.Background()
	s := open(t, sqlstore.Config{DSN: tempFile(t)})
	now := time.Now().Truncate(time.Millisecond)
	exp := now.Add(time.Minute)
	if err := s.CreateAccessToken(ctx, storage.AccessToken{ID: "at1", GrantID: "g-access", ClientID: "c", AccountID: "a", SessionID: "s",
		CreatedAt: now, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshToken(ctx, storage.RefreshToken{Hash: []byte("rt-hash-0123456789"), ID: "rt1", GrantID: "g-refresh", ClientID: "c", AccountID: "a", SessionID: "s",
		CreatedAt: now, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	until := func(grant string) time.Time {
		t.Helper()
		var ms int64
		if err := s.DB().Get(&ms, "SELECT expires_at FROM grant_sessions WHERE grant_id = ?", grant); err != nil {
			t.Fatalf("grant_sessions row of %s: %v", grant, err)
		}
		return time.UnixMilli(ms)
	}
	if got := until("g-access"); !got.Equal(exp) {
		t.Errorf("access-only grant: row until %s; want the token's expiry %s", got, exp)
	}
	if got := until("g-refresh"); got.Sub(exp) < 23*time.Hour {
		t.Errorf("refresh grant: row until %s; want a day past the token's expiry %s", got, exp)
	}
	// Once the access token has expired, the collector takes its row too.
	if _, err := s.DeleteExpired(ctx, exp.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().Get(&n, "SELECT COUNT(*) FROM grant_sessions WHERE grant_id = 'g-access'"); err != nil || n != 0 {
		t.Errorf("access-only grant's row after its token expired: %d, %v; want gone", n, err)
	}
}
