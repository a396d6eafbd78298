package sqlstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
	"github.com/cardsso/cardsso/storage/storagetest"
)

// Benchmarks of the store's hot paths, the statements every token, login
// and introspection request runs (docs/performance.md): a regression shows
// up here before it shows in cardsso-bench. Each runs on SQLite (a file in a
// temporary directory, as a node has it) and, when CARDSSO_TEST_POSTGRES is
// set, on PostgreSQL (a fresh schema). They run in parallel (b.RunParallel,
// GOMAXPROCS goroutines), as requests do.
//
//	go test ./storage/sqlstore -run '^$' -bench Hot -benchtime 2s
func BenchmarkHot(b *testing.B) {
	flavours := []struct {
		name string
		open func(b *testing.B) *sqlstore.Store
	}{
		{"sqlite", func(b *testing.B) *sqlstore.Store {
			return open(b, sqlstore.Config{DSN: tempFile(b)})
		}},
	}
	if storagetest.PostgresConfigured() {
		flavours = append(flavours, struct {
			name string
			open func(b *testing.B) *sqlstore.Store
		}{"postgres", func(b *testing.B) *sqlstore.Store {
			return openPostgres(b, storagetest.FreshPostgres(b))
		}})
	}
	for _, f := range flavours {
		b.Run(f.name, func(b *testing.B) {
			s := f.open(b)
			b.Run("GetSession", func(b *testing.B) { benchGetSession(b, s) })
			b.Run("GetAccessToken", func(b *testing.B) { benchGetAccessToken(b, s) })
			b.Run("CreateAccessToken", func(b *testing.B) { benchCreateAccessToken(b, s) })
			b.Run("ClaimAuthCode", func(b *testing.B) { benchClaimAuthCode(b, s) })
			b.Run("RefreshRotation", func(b *testing.B) { benchRefreshRotation(b, s) })
			b.Run("UpdateAuthRequest", func(b *testing.B) { benchUpdateAuthRequest(b, s) })
		})
	}
}

var hotSeq atomic.Int64

func hotID(prefix string) string { return fmt.Sprintf("%s-%d", prefix, hotSeq.Add(1)) }

func hotHash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

// hotRows creates n rows with create and returns their keys.
func hotRows(b *testing.B, n int, create func(i int) (string, error)) []string {
	b.Helper()
	keys := make([]string, n)
	for i := range keys {
		k, err := create(i)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	return keys
}

func benchGetSession(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	keys := hotRows(b, 1000, func(int) (string, error) {
		sum := sha256.Sum256([]byte(hotID("cookie")))
		id := hex.EncodeToString(sum[:])
		return id, s.CreateSession(ctx, storage.Session{
			ID: id, AccountID: hotID("acct"), AuthTime: now, ACR: "urn:cardsso:loa:1", AMR: []string{"pwd"},
			Clients: []string{"portal"}, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour),
		})
	})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := s.GetSession(ctx, keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func hotAccessToken(now time.Time) storage.AccessToken {
	return storage.AccessToken{
		ID: hotID("at"), GrantID: hotID("grant"), ClientID: "portal", AccountID: "ACCOUNTACCOUNTACCOUNTACCOU",
		SessionID: hotID("session"), Scopes: []string{"openid", "profile"}, Audience: []string{"portal"},
		AuthTime: now, ACR: "urn:cardsso:loa:1", AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
}

func benchGetAccessToken(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	keys := hotRows(b, 1000, func(int) (string, error) {
		t := hotAccessToken(now)
		return t.ID, s.CreateAccessToken(ctx, t)
	})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := s.GetAccessToken(ctx, keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchCreateAccessToken(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.CreateAccessToken(ctx, hotAccessToken(now)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func hotAuthRequest(now time.Time, code []byte) storage.AuthRequest {
	return storage.AuthRequest{
		ID: hotID("ar"), Protocol: "oidc", ClientID: "portal", RedirectURI: "https://portal.example.gov.cn/cb",
		State: "state-state-state", Nonce: "nonce-nonce-nonce", Scopes: []string{"openid", "profile"},
		ResponseType: "code", CodeChallenge: "challenge-challenge-challenge-challenge-chall", CodeChallengeMethod: "S256",
		Done: true, AccountID: "ACCOUNTACCOUNTACCOUNTACCOU", SessionID: hotID("session"), AuthTime: now,
		ACR: "urn:cardsso:loa:1", AMR: []string{"pwd"}, CodeHash: code, CreatedAt: now, ExpiresAt: now.Add(time.Minute),
	}
}

// benchClaimAuthCode: the single-use claim of a code at the token endpoint
// (UPDATE … RETURNING); the requests are created outside the timer.
func benchClaimAuthCode(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	codes := make([][]byte, b.N)
	for i := range codes {
		codes[i] = hotHash(hotID("code"))
		if err := s.CreateAuthRequest(ctx, hotAuthRequest(now, codes[i])); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			if _, err := s.ClaimAuthCode(ctx, codes[i], time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchRefreshRotation: what a refresh costs the store, as the token
// endpoint does it: read the presented token; claim it and store the new
// access and refresh tokens of its grant and session in one transaction.
// Each goroutine (4 per GOMAXPROCS) rotates a family of its own (a grant
// in a session), and
// keys are made as idp/internal/oidc makes them (tokenkeys.go: the time of issue,
// then SHA-256 or random bytes).
func benchRefreshRotation(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	var families atomic.Int64
	b.SetParallelism(4) // 8 requests at once on 2 cores, as cardsso-bench's 8 workers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		grant := hotID("grant")
		sum := sha256.Sum256([]byte(grant))
		family := storage.RefreshToken{Hash: hotTimedKey(), ID: hotID("rtid"), GrantID: grant, ClientID: "portal",
			AccountID: "ACCOUNTACCOUNTACCOUNTACCOU", SessionID: hex.EncodeToString(sum[:]), Scopes: []string{"openid", "profile", "offline_access"},
			Audience: []string{"portal"}, AuthTime: now, ACR: "urn:cardsso:loa:1", AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		if err := s.CreateRefreshToken(ctx, family); err != nil {
			b.Error(err)
			return
		}
		families.Add(1)
		h := family.Hash
		for pb.Next() {
			_, err := s.GetRefreshToken(ctx, h)
			if err == nil {
				_, err = s.ClaimRefreshTokenAndIssue(ctx, h, time.Now(), func(old storage.RefreshToken) (storage.AccessToken, *storage.RefreshToken, error) {
					at, rt := old, old
					rt.Hash, rt.ID, rt.UsedAt, rt.ExpiresAt = hotTimedKey(), hotID("rtid"), nil, time.Now().Add(30*24*time.Hour)
					h = rt.Hash
					return storage.AccessToken{ID: hotTimedID(), GrantID: at.GrantID, ClientID: at.ClientID, AccountID: at.AccountID,
						SessionID: at.SessionID, Scopes: at.Scopes, Audience: at.Audience, AuthTime: at.AuthTime, ACR: at.ACR,
						AMR: at.AMR, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(15 * time.Minute)}, &rt, nil
				})
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(families.Load()), "families")
}

// hotTimedKey is a refresh token key as idp/internal/oidc makes it: 6 bytes of unix
// milliseconds, then a SHA-256.
func hotTimedKey() []byte {
	var k [6 + sha256.Size]byte
	putMillis(k[:6])
	sum := sha256.Sum256([]byte(hotID("rt")))
	copy(k[6:], sum[:])
	return k[:]
}

// hotTimedID is an access token id as idp/internal/oidc makes it: the same time
// prefix and 16 random bytes, in base32 (extended hex).
func hotTimedID() string {
	var k [6 + 16]byte
	putMillis(k[:6])
	_, _ = rand.Read(k[6:])
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(k[:])
}

func putMillis(b []byte) {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(b, ms[2:])
}

// benchUpdateAuthRequest: the compare-and-swap update the login and the
// code issue make (transaction: read, update, write).
func benchUpdateAuthRequest(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now().UTC()
	keys := hotRows(b, 1000, func(int) (string, error) {
		r := hotAuthRequest(now, nil)
		r.ExpiresAt = now.Add(time.Hour)
		return r.ID, s.CreateAuthRequest(ctx, r)
	})
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			err := s.UpdateAuthRequest(ctx, keys[i%len(keys)], func(r storage.AuthRequest) (storage.AuthRequest, error) {
				r.LoginState = []byte(`{"auth":{"account_id":"x"}}`)
				return r, nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
