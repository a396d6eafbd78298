package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

type accessTokenRow struct {
	ID        string `db:"id"`
	GrantID   string `db:"grant_id"`
	ClientID  string `db:"client_id"`
	AccountID string `db:"account_id"`
	SessionID string `db:"session_id"`
	Scopes    string `db:"scopes"`
	Audience  string `db:"audience"`
	AuthTime  int64  `db:"auth_time"`
	ACR       string `db:"acr"`
	AMR       string `db:"amr"`
	Claims    []byte `db:"claims"`
	CreatedAt int64  `db:"created_at"`
	ExpiresAt int64  `db:"expires_at"`
}

var accessTokens = newEntity(entity[storage.AccessToken, accessTokenRow]{
	what:  "access token",
	table: "access_tokens",
	columns: []string{"id", "grant_id", "client_id", "account_id", "session_id", "scopes", "audience",
		"auth_time", "acr", "amr", "claims", "created_at", "expires_at"},
	expires: true,
	fromRow: func(r accessTokenRow) (storage.AccessToken, error) {
		t := storage.AccessToken{
			ID:        r.ID,
			GrantID:   r.GrantID,
			ClientID:  r.ClientID,
			AccountID: r.AccountID,
			SessionID: r.SessionID,
			AuthTime:  fromMillis(r.AuthTime),
			ACR:       r.ACR,
			Claims:    r.Claims,
			CreatedAt: fromMillis(r.CreatedAt),
			ExpiresAt: fromMillis(r.ExpiresAt),
		}
		err := decodeLists(
			listColumn{"scopes", r.Scopes, &t.Scopes},
			listColumn{"audience", r.Audience, &t.Audience},
			listColumn{"amr", r.AMR, &t.AMR},
		)
		return t, err
	},
	args: func(t storage.AccessToken) []any {
		return []any{t.ID, t.GrantID, t.ClientID, t.AccountID, t.SessionID, encodeList(t.Scopes),
			encodeList(t.Audience), millis(t.AuthTime), t.ACR, encodeList(t.AMR), t.Claims, millis(t.CreatedAt),
			millis(t.ExpiresAt)}
	},
})

// Access token ids stay out of error messages: the token's value may carry
// its id, and errors end up in logs.

// CreateAccessToken stores a new access token (and records its grant's
// session, grant_sessions).
func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	const op = "create access token"
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		return s.txInsertTokens(ctx, tx, op, t, nil, recorded{})
	})
}

// GetAccessToken returns the access token with this id unless it has expired.
func (s *Store) GetAccessToken(ctx context.Context, id string) (storage.AccessToken, error) {
	return accessTokens.get(ctx, s, nil, "get access token", "", "id = ?", id)
}

// DeleteAccessToken deletes the access token, expired or not.
func (s *Store) DeleteAccessToken(ctx context.Context, id string) error {
	return accessTokens.deleteByKey(ctx, s, "delete access token", id)
}

type refreshTokenRow struct {
	Hash      []byte `db:"hash"`
	ID        string `db:"id"`
	GrantID   string `db:"grant_id"`
	ClientID  string `db:"client_id"`
	AccountID string `db:"account_id"`
	SessionID string `db:"session_id"`
	Scopes    string `db:"scopes"`
	Audience  string `db:"audience"`
	AuthTime  int64  `db:"auth_time"`
	ACR       string `db:"acr"`
	AMR       string `db:"amr"`
	Claims    []byte `db:"claims"`
	UsedAt    *int64 `db:"used_at"`
	CreatedAt int64  `db:"created_at"`
	ExpiresAt int64  `db:"expires_at"`
}

var refreshTokens = newEntity(entity[storage.RefreshToken, refreshTokenRow]{
	what:  "refresh token",
	table: "refresh_tokens",
	columns: []string{"hash", "id", "grant_id", "client_id", "account_id", "session_id", "scopes",
		"audience", "auth_time", "acr", "amr", "claims", "used_at", "created_at", "expires_at"},
	expires: true,
	fromRow: func(r refreshTokenRow) (storage.RefreshToken, error) {
		t := storage.RefreshToken{
			Hash:      r.Hash,
			ID:        r.ID,
			GrantID:   r.GrantID,
			ClientID:  r.ClientID,
			AccountID: r.AccountID,
			SessionID: r.SessionID,
			AuthTime:  fromMillis(r.AuthTime),
			ACR:       r.ACR,
			Claims:    r.Claims,
			UsedAt:    fromMillisPtr(r.UsedAt),
			CreatedAt: fromMillis(r.CreatedAt),
			ExpiresAt: fromMillis(r.ExpiresAt),
		}
		err := decodeLists(
			listColumn{"scopes", r.Scopes, &t.Scopes},
			listColumn{"audience", r.Audience, &t.Audience},
			listColumn{"amr", r.AMR, &t.AMR},
		)
		return t, err
	},
	args: func(t storage.RefreshToken) []any {
		return []any{t.Hash, t.ID, t.GrantID, t.ClientID, t.AccountID, t.SessionID, encodeList(t.Scopes),
			encodeList(t.Audience), millis(t.AuthTime), t.ACR, encodeList(t.AMR), t.Claims, millisPtr(t.UsedAt),
			millis(t.CreatedAt), millis(t.ExpiresAt)}
	},
})

// CreateRefreshToken stores a new refresh token; a duplicate hash gives
// storage.ErrAlreadyExists.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	op := fmt.Sprintf("create refresh token %q", t.ID)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		return s.txInsertRefreshToken(ctx, tx, op, t)
	})
}

func (s *Store) txInsertRefreshToken(ctx context.Context, tx *sqlx.Tx, op string, t storage.RefreshToken) error {
	if err := txInsert(ctx, s, tx, refreshTokens, op, t); err != nil {
		return err
	}
	return s.recordGrantSession(ctx, tx, op, t.GrantID, t.SessionID, t.ExpiresAt, grantSessionSlack)
}

// GetRefreshToken returns the unexpired refresh token with this hash, used or
// not.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (storage.RefreshToken, error) {
	return refreshTokens.getByHash(ctx, s, "get refresh token", "hash", hash)
}

// ClaimRefreshToken marks the token with this hash used at now, in one
// statement that only an unused token unexpired at now matches, and returns
// it. A token used before gives it back with storage.ErrAlreadyUsed; an
// unknown token, or one expired at now, gives storage.ErrNotFound.
func (s *Store) ClaimRefreshToken(ctx context.Context, hash []byte, now time.Time) (storage.RefreshToken, error) {
	return refreshTokens.claim(ctx, s, "claim refresh token", "hash", "used_at", hash, now)
}

// DeleteRefreshToken deletes the refresh token, expired or not.
func (s *Store) DeleteRefreshToken(ctx context.Context, hash []byte) error {
	const op = "delete refresh token"
	if len(hash) == 0 {
		return notFound(op)
	}
	return refreshTokens.deleteByKey(ctx, s, op, hash)
}

// Revocation. A token row is found by its grant and session through one
// index per table, (session_id, grant_id) (migration 00005): DeleteSession
// uses its prefix; RevokeGrant first looks up the sessions the grant's
// tokens were issued in, which grant_sessions records. Every token insert
// makes sure its (grant, session) is there until at least the token
// expires, in the same transaction.

// grantSessionSlack is how long a grant_sessions row outlives the token
// that last moved its expiry on, so that a grant's later tokens (refresh
// rotation) find it covering them and leave it alone: it is rewritten at
// most once per grant and session in that time.
const grantSessionSlack = 24 * time.Hour

// recordGrantSessionQuery records that tokens of grant arg 1 were issued in
// session arg 2 until arg 3 (a token's expiry plus grantSessionSlack); a
// row there already is moved on only when it expires before arg 4 (the
// token's expiry), so it never loses time and is rarely written.
const recordGrantSessionQuery = "INSERT INTO grant_sessions (grant_id, session_id, expires_at) VALUES (?, ?, ?) " +
	"ON CONFLICT (grant_id, session_id) DO UPDATE SET expires_at = excluded.expires_at WHERE grant_sessions.expires_at < ?"

// recordGrantSession makes sure grant_sessions holds (grantID, sessionID)
// until at least expiresAt. A token without a grant (none is stored today)
// needs no row: RevokeGrant("") revokes nothing.
//
// slack is how long the row outlives expiresAt: grantSessionSlack for a
// grant with a refresh token (its rotations then find the row covering
// them and write nothing), none for an access token alone, whose grant
// gets no later tokens: a code flow without offline_access leaves no row
// behind its token (a soak at 1,000 flows/s grew the database by a row per
// flow kept 24 h, issue #18 §7).
func (s *Store) recordGrantSession(ctx context.Context, tx *sqlx.Tx, op, grantID, sessionID string, expiresAt time.Time, slack time.Duration) error {
	if grantID == "" {
		return nil
	}
	exp := millis(expiresAt)
	if _, err := s.txExec(ctx, tx, recordGrantSessionQuery, grantID, sessionID, exp+slack.Milliseconds(), exp); err != nil {
		return fmt.Errorf("sqlstore: %s: record grant session: %w", op, err)
	}
	return nil
}

// recorded is what grant_sessions holds for a claimed refresh token's grant
// and session, as the claim read it: until is the row's expiry, nil when
// there is none (or it was not read).
type recorded struct {
	grantID, sessionID string
	until              *int64
}

// covers reports whether the recorded row covers a token of grantID and
// sessionID that expires at expiresAt.
func (r recorded) covers(grantID, sessionID string, expiresAt time.Time) bool {
	return r.until != nil && r.grantID == grantID && r.sessionID == sessionID && *r.until >= millis(expiresAt)
}

// txInsertTokens inserts an access token and, when rt is not nil, a
// refresh token in tx, and records their grant's session unless rec
// already covers them (one statement per distinct grant and session).
func (s *Store) txInsertTokens(ctx context.Context, tx *sqlx.Tx, op string, at storage.AccessToken, rt *storage.RefreshToken, rec recorded) error {
	if err := txInsert(ctx, s, tx, accessTokens, op, at); err != nil {
		return err
	}
	if rt != nil {
		if err := txInsert(ctx, s, tx, refreshTokens, op, *rt); err != nil {
			return err
		}
	}
	type pair struct {
		grantID, sessionID string
		expiresAt          time.Time
		slack              time.Duration
	}
	pairs := []pair{{at.GrantID, at.SessionID, at.ExpiresAt, 0}}
	if rt != nil {
		if rt.GrantID == at.GrantID && rt.SessionID == at.SessionID {
			if rt.ExpiresAt.After(at.ExpiresAt) {
				pairs[0].expiresAt = rt.ExpiresAt
			}
			pairs[0].slack = grantSessionSlack
		} else {
			pairs = append(pairs, pair{rt.GrantID, rt.SessionID, rt.ExpiresAt, grantSessionSlack})
		}
	}
	for _, p := range pairs {
		if rec.covers(p.grantID, p.sessionID, p.expiresAt) {
			continue
		}
		if err := s.recordGrantSession(ctx, tx, op, p.grantID, p.sessionID, p.expiresAt, p.slack); err != nil {
			return err
		}
	}
	return nil
}

// revokeGrantQueries delete a grant's tokens (arg 1 and 2: the grant id)
// in every session grant_sessions records for it, by the (session_id,
// grant_id) indexes. The grant_sessions rows stay until they expire.
var revokeGrantQueries = []string{
	"DELETE FROM access_tokens WHERE session_id IN (SELECT session_id FROM grant_sessions WHERE grant_id = ?) AND grant_id = ?",
	"DELETE FROM refresh_tokens WHERE session_id IN (SELECT session_id FROM grant_sessions WHERE grant_id = ?) AND grant_id = ?",
}

// RevokeGrant deletes every access and refresh token of the grant, in one
// transaction. An empty grant id matches nothing (client-credentials tokens
// have none).
func (s *Store) RevokeGrant(ctx context.Context, grantID string) error {
	if grantID == "" {
		return nil
	}
	op := fmt.Sprintf("revoke grant %q", grantID)
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		for _, q := range revokeGrantQueries {
			if _, err := s.txExec(ctx, tx, q, grantID, grantID); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", op, err)
			}
		}
		return nil
	})
}
