package sqlstore

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

type sessionRow struct {
	ID         string `db:"id"`
	SecretHash []byte `db:"secret_hash"`
	AccountID  string `db:"account_id"`
	AuthTime   int64  `db:"auth_time"`
	ACR        string `db:"acr"`
	AMR        string `db:"amr"`
	Clients    string `db:"clients"`
	CreatedAt  int64  `db:"created_at"`
	LastSeenAt int64  `db:"last_seen_at"`
	ExpiresAt  int64  `db:"expires_at"`
}

var sessions = newEntity(entity[storage.Session, sessionRow]{
	what:    "session",
	table:   "sessions",
	columns: []string{"id", "secret_hash", "account_id", "auth_time", "acr", "amr", "clients", "created_at", "last_seen_at", "expires_at"},
	expires: true,
	fromRow: func(r sessionRow) (storage.Session, error) {
		s := storage.Session{
			ID:         r.ID,
			SecretHash: r.SecretHash,
			AccountID:  r.AccountID,
			AuthTime:   fromMillis(r.AuthTime),
			ACR:        r.ACR,
			CreatedAt:  fromMillis(r.CreatedAt),
			LastSeenAt: fromMillis(r.LastSeenAt),
			ExpiresAt:  fromMillis(r.ExpiresAt),
		}
		err := decodeLists(
			listColumn{"amr", r.AMR, &s.AMR},
			listColumn{"clients", r.Clients, &s.Clients},
		)
		return s, err
	},
	args: func(s storage.Session) []any {
		return []any{s.ID, s.SecretHash, s.AccountID, millis(s.AuthTime), s.ACR, encodeList(s.AMR), encodeList(s.Clients),
			millis(s.CreatedAt), millis(s.LastSeenAt), millis(s.ExpiresAt)}
	},
})

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess storage.Session) error {
	return sessions.create(ctx, s, fmt.Sprintf("create session %q", sess.ID), sess)
}

// GetSession returns the session with this id unless it has expired.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	return sessions.get(ctx, s, nil, fmt.Sprintf("get session %q", id), "", "id = ?", id)
}

// UpdateSession runs update on the (unexpired) session inside a transaction
// and writes the result; update must keep the id.
func (s *Store) UpdateSession(ctx context.Context, id string, update func(storage.Session) (storage.Session, error)) error {
	return sessions.updateByID(ctx, s, id, func(sess storage.Session) string { return sess.ID }, update)
}

// ListSessionsByAccount returns the account's unexpired sessions, newest
// first.
func (s *Store) ListSessionsByAccount(ctx context.Context, accountID string) ([]storage.Session, error) {
	return sessions.listWhere(ctx, s, nil, fmt.Sprintf("list sessions of %q", accountID), "account_id = ? AND expires_at > ? ORDER BY created_at DESC, id",
		accountID, millis(s.now()))
}

// deleteSessionQueries delete a session's tokens (by the prefix of the
// (session_id, grant_id) indexes) and then the session; the last one's row
// count says whether it existed.
var deleteSessionQueries = []string{
	"DELETE FROM access_tokens WHERE session_id = ?",
	"DELETE FROM refresh_tokens WHERE session_id = ?",
	"DELETE FROM session_participants WHERE session_id = ?",
	"DELETE FROM sessions WHERE id = ?",
}

// DeleteSession deletes the session and, in the same transaction, the access
// and refresh tokens issued within it. The tokens go even when the session
// row is already gone (expired and collected), and then the result is
// storage.ErrNotFound. An empty id matches nothing.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	op := fmt.Sprintf("delete session %q", id)
	if id == "" {
		return notFound(op)
	}
	var deleted int64
	err := s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		for _, q := range deleteSessionQueries {
			res, err := s.txExec(ctx, tx, q, id)
			if err != nil {
				return fmt.Errorf("sqlstore: %s: %w", op, err)
			}
			if deleted, err = res.RowsAffected(); err != nil {
				return fmt.Errorf("sqlstore: %s: %w", op, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if deleted == 0 {
		return notFound(op)
	}
	return nil
}
