package sqlstore

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

// Internals for the tests in package sqlstore_test.

// DB is the store's pool.
func (s *Store) DB() *sqlx.DB { return s.db }

// InTx is inTx.
func (s *Store) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.inTx(ctx, "test", func(_ context.Context, tx *sqlx.Tx) error { return fn(tx) })
}

// GrantSessionSlack is grantSessionSlack.
const GrantSessionSlack = grantSessionSlack

// MigrationLockKey is the PostgreSQL advisory lock key of a schema's
// migrations.
var MigrationLockKey = migrationLockKey

// Lookup is a statement the store runs that must find its rows through an
// index, with arguments of the right types.
type Lookup struct {
	Query string // with ? placeholders
	Args  []any
}

// Lookups are the statements of the hot paths (every lookup by a key, and
// the statements that delete by a secondary key), as the store's flavour
// writes them. ListClients and ListSigningKeys read whole (small) tables and
// are left out.
func (s *Store) Lookups() []Lookup {
	var (
		id    = "id"
		key   = []byte("key")
		ms    = int64(1)
		live  = " AND expires_at > ?"
		lock  = s.flavour.forUpdate
		batch = int64(expireBatch)
	)
	// An update's arguments: every column but the key, then the key.
	update := func(args []any) []any { return append(args[1:], args[0]) }
	l := []Lookup{
		{accounts.selectFrom + " WHERE id = ?", []any{id}},
		{accounts.selectFrom + " WHERE id = ?" + lock, []any{id}},
		{accounts.selectFrom + " WHERE ssn_index = ?", []any{key}},
		{accounts.update, update(accounts.args(storage.Account{ID: id}))},
		{clients.selectFrom + " WHERE id = ?" + lock, []any{id}},
		{clients.update, update(clients.args(storage.Client{ID: id}))},
		{authRequests.selectFrom + " WHERE id = ?" + live, []any{id, ms}},
		{authRequests.selectFrom + " WHERE id = ?" + live + lock, []any{id, ms}},
		{authRequests.selectFrom + " WHERE code_hash = ?" + live, []any{key, ms}},
		{authRequests.selectFrom + " WHERE code_hash = ? AND code_used_at IS NOT NULL" + live, []any{key, ms}},
		{authRequests.claimQuery("code_hash", "code_used_at"), []any{ms, key, ms}},
		{authRequests.update, update(authRequests.args(storage.AuthRequest{ID: id}))},
		{accessTokens.selectFrom + " WHERE id = ?" + live, []any{id, ms}},
		{refreshTokens.selectFrom + " WHERE hash = ?" + live, []any{key, ms}},
		{refreshTokens.selectFrom + " WHERE hash = ? AND used_at IS NOT NULL" + live, []any{key, ms}},
		{refreshTokens.claimQuery("hash", "used_at"), []any{ms, key, ms}},
		{claimRefreshQuery, []any{ms, key, ms}},
		{sessions.selectFrom + " WHERE id = ?" + live, []any{id, ms}},
		{sessions.selectFrom + " WHERE id = ?" + live + lock, []any{id, ms}},
		{sessions.update, update(sessions.args(storage.Session{ID: id}))},
		{"DELETE FROM signing_keys WHERE id = ?", []any{id}},
		{claimCodeKeepQuery, []any{ms, ms, key, ms}},
		{saveAuthCodeQuery, []any{key, ms, id, true, ms}},
		{completeAuthRequestQuery, []any{true, id, id, ms, id, id, id, ms, false, id}},
	}
	if q := s.flavour.lockSigningKeys; q != "" {
		l = append(l, Lookup{q, nil})
	}
	for _, q := range revokeGrantQueries {
		l = append(l, Lookup{q, []any{id, id}})
	}
	for _, q := range deleteSessionQueries {
		l = append(l, Lookup{q, []any{id}})
	}
	for _, e := range expiring {
		l = append(l, Lookup{s.flavour.deleteExpired(e.table, e.key), []any{ms, batch}})
	}
	for i := range l {
		if n := strings.Count(l[i].Query, "?"); n != len(l[i].Args) {
			panic("Lookups: " + l[i].Query + ": wrong number of arguments")
		}
	}
	return l
}
