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
	CreatedAt int64  `db:"created_at"`
	ExpiresAt int64  `db:"expires_at"`
}

var accessTokens = newEntity(entity[storage.AccessToken, accessTokenRow]{
	what:  "access token",
	table: "access_tokens",
	columns: []string{"id", "grant_id", "client_id", "account_id", "session_id", "scopes", "audience",
		"auth_time", "acr", "amr", "created_at", "expires_at"},
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
			encodeList(t.Audience), millis(t.AuthTime), t.ACR, encodeList(t.AMR), millis(t.CreatedAt),
			millis(t.ExpiresAt)}
	},
})

// Access token ids stay out of error messages: the token's value may carry
// its id, and errors end up in logs.

// CreateAccessToken stores a new access token.
func (s *Store) CreateAccessToken(ctx context.Context, t storage.AccessToken) error {
	return accessTokens.create(ctx, s, "create access token", t)
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
	UsedAt    *int64 `db:"used_at"`
	CreatedAt int64  `db:"created_at"`
	ExpiresAt int64  `db:"expires_at"`
}

var refreshTokens = newEntity(entity[storage.RefreshToken, refreshTokenRow]{
	what:  "refresh token",
	table: "refresh_tokens",
	columns: []string{"hash", "id", "grant_id", "client_id", "account_id", "session_id", "scopes",
		"audience", "auth_time", "acr", "amr", "used_at", "created_at", "expires_at"},
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
			encodeList(t.Audience), millis(t.AuthTime), t.ACR, encodeList(t.AMR), millisPtr(t.UsedAt),
			millis(t.CreatedAt), millis(t.ExpiresAt)}
	},
})

// CreateRefreshToken stores a new refresh token; a duplicate hash gives
// storage.ErrAlreadyExists.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	return refreshTokens.create(ctx, s, fmt.Sprintf("create refresh token %q", t.ID), t)
}

// GetRefreshToken returns the unexpired refresh token with this hash, used or
// not.
func (s *Store) GetRefreshToken(ctx context.Context, hash []byte) (storage.RefreshToken, error) {
	const op = "get refresh token"
	if len(hash) == 0 {
		return storage.RefreshToken{}, notFound(op)
	}
	return refreshTokens.get(ctx, s, nil, op, "", "hash = ?", hash)
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

// revokeGrantQueries delete a grant's tokens (by the grant_id indexes).
var revokeGrantQueries = []string{
	"DELETE FROM access_tokens WHERE grant_id = ?",
	"DELETE FROM refresh_tokens WHERE grant_id = ?",
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
			if _, err := s.txExec(ctx, tx, q, grantID); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", op, err)
			}
		}
		return nil
	})
}
