package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cardsso/cardsso/storage"
)

type consentRow struct {
	AccountID string `db:"account_id"`
	ClientID  string `db:"client_id"`
	Scopes    string `db:"scopes"`
	GrantedAt int64  `db:"granted_at"`
}

// GetConsent returns what the account allowed the client.
func (s *Store) GetConsent(ctx context.Context, accountID, clientID string) (storage.Consent, error) {
	op := fmt.Sprintf("get consent of %q for %q", accountID, clientID)
	var r consentRow
	err := s.queryRow(ctx, nil, &r,
		"SELECT account_id, client_id, scopes, granted_at FROM consents WHERE account_id = ? AND client_id = ?",
		accountID, clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Consent{}, notFound(op)
	}
	if err != nil {
		return storage.Consent{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	c := storage.Consent{AccountID: r.AccountID, ClientID: r.ClientID, GrantedAt: fromMillis(r.GrantedAt)}
	if err := decodeLists(listColumn{"scopes", r.Scopes, &c.Scopes}); err != nil {
		return storage.Consent{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return c, nil
}

// PutConsent creates or replaces the consent of (account, client).
func (s *Store) PutConsent(ctx context.Context, c storage.Consent) error {
	op := fmt.Sprintf("put consent of %q for %q", c.AccountID, c.ClientID)
	if c.AccountID == "" || c.ClientID == "" {
		return fmt.Errorf("sqlstore: %s: empty account or client id", op)
	}
	_, err := s.exec(ctx, `INSERT INTO consents (account_id, client_id, scopes, granted_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes,
		granted_at = excluded.granted_at`, c.AccountID, c.ClientID, encodeList(c.Scopes), millis(c.GrantedAt))
	if err != nil {
		return s.writeErr(op, err)
	}
	return nil
}

// ListConsents returns every consent of the account, by client id.
func (s *Store) ListConsents(ctx context.Context, accountID string) ([]storage.Consent, error) {
	op := fmt.Sprintf("list consents of %q", accountID)
	var rows []consentRow
	if err := s.queryRows(ctx, nil, &rows,
		"SELECT account_id, client_id, scopes, granted_at FROM consents WHERE account_id = ? ORDER BY client_id", accountID); err != nil {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	out := make([]storage.Consent, len(rows))
	for i, r := range rows {
		out[i] = storage.Consent{AccountID: r.AccountID, ClientID: r.ClientID, GrantedAt: fromMillis(r.GrantedAt)}
		if err := decodeLists(listColumn{"scopes", r.Scopes, &out[i].Scopes}); err != nil {
			return nil, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
	}
	return out, nil
}

// DeleteConsent removes the consent of (account, client).
func (s *Store) DeleteConsent(ctx context.Context, accountID, clientID string) error {
	op := fmt.Sprintf("delete consent of %q for %q", accountID, clientID)
	res, err := s.exec(ctx, "DELETE FROM consents WHERE account_id = ? AND client_id = ?", accountID, clientID)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(op)
	}
	return nil
}

// IncrementCounter adds one to key's count in one statement (an upsert that
// starts a new window when the last one is over), so concurrent increments
// on any number of nodes are all counted.
func (s *Store) IncrementCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	op := "increment counter"
	if key == "" || window <= 0 {
		return 0, time.Time{}, fmt.Errorf("sqlstore: %s: empty key or window", op)
	}
	n, w := millis(now), window.Milliseconds()
	cutoff := n - w
	q := `INSERT INTO counters (id, count, since, expires_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
		count = CASE WHEN counters.since <= ? THEN 1 ELSE counters.count + 1 END,
		since = CASE WHEN counters.since <= ? THEN ? ELSE counters.since END,
		expires_at = CASE WHEN counters.since <= ? THEN ? ELSE counters.since + ? END
		RETURNING count, since`
	var out struct {
		Count int   `db:"count"`
		Since int64 `db:"since"`
	}
	err := s.writeRow(ctx, &out, q, key, n, n+w, cutoff, cutoff, n, cutoff, n+w, w)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return out.Count, fromMillis(out.Since), nil
}

// GetCounter returns key's count in its current window.
func (s *Store) GetCounter(ctx context.Context, key string, window time.Duration, now time.Time) (int, time.Time, error) {
	var out struct {
		Count int   `db:"count"`
		Since int64 `db:"since"`
	}
	err := s.queryRow(ctx, nil, &out, "SELECT count, since FROM counters WHERE id = ? AND since > ?",
		key, millis(now)-window.Milliseconds())
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlstore: get counter: %w", err)
	}
	return out.Count, fromMillis(out.Since), nil
}

// DecrementCounter takes one back from key's count, in one statement, never
// below zero.
func (s *Store) DecrementCounter(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, "UPDATE counters SET count = count - 1 WHERE id = ? AND count > 0", key); err != nil {
		return fmt.Errorf("sqlstore: decrement counter: %w", err)
	}
	return nil
}

// ResetCounter forgets key's count.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, "DELETE FROM counters WHERE id = ?", key); err != nil {
		return fmt.Errorf("sqlstore: reset counter: %w", err)
	}
	return nil
}
