package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

type signingKeyRow struct {
	ID            string `db:"id"`
	Algorithm     string `db:"algorithm"`
	State         string `db:"state"`
	PrivateSealed []byte `db:"private_sealed"`
	PublicJWK     []byte `db:"public_jwk"`
	CreatedAt     int64  `db:"created_at"`
	ActivatedAt   *int64 `db:"activated_at"`
	RetiredAt     *int64 `db:"retired_at"`
	ExpiresAt     *int64 `db:"expires_at"`
	Use           string `db:"key_use"`
	Certificate   []byte `db:"certificate"`
}

var signingKeys = newEntity(entity[storage.SigningKey, signingKeyRow]{
	what:  "signing key",
	table: "signing_keys",
	columns: []string{"id", "algorithm", "state", "private_sealed", "public_jwk", "created_at",
		"activated_at", "retired_at", "expires_at", "key_use", "certificate"},
	fromRow: func(r signingKeyRow) (storage.SigningKey, error) {
		return storage.SigningKey{
			ID:            r.ID,
			Algorithm:     r.Algorithm,
			State:         storage.KeyState(r.State),
			PrivateSealed: r.PrivateSealed,
			PublicJWK:     r.PublicJWK,
			CreatedAt:     fromMillis(r.CreatedAt),
			ActivatedAt:   fromMillisPtr(r.ActivatedAt),
			RetiredAt:     fromMillisPtr(r.RetiredAt),
			ExpiresAt:     fromMillisPtr(r.ExpiresAt),
			Use:           r.Use,
			Certificate:   r.Certificate,
		}, nil
	},
	args: func(k storage.SigningKey) []any {
		return []any{k.ID, k.Algorithm, string(k.State), k.PrivateSealed, k.PublicJWK, millis(k.CreatedAt),
			millisPtr(k.ActivatedAt), millisPtr(k.RetiredAt), millisPtr(k.ExpiresAt), k.Use, k.Certificate}
	},
})

// upsertSigningKey inserts a key or overwrites the one with its id; both
// SQLite (3.24+) and PostgreSQL accept ON CONFLICT ... DO UPDATE.
var upsertSigningKey = func() string {
	set := make([]string, 0, len(signingKeys.columns)-1)
	for _, c := range signingKeys.columns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	return signingKeys.insert + " ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ", ")
}()

// signingKeyOrder is the order keys are listed and handed to updaters in.
const signingKeyOrder = "created_at, id"

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	return signingKeys.list(ctx, s, nil, "list signing keys", signingKeyOrder)
}

// UpdateSigningKeys runs update on the whole set (oldest first) inside one
// transaction that excludes every other UpdateSigningKeys on this database,
// then writes the returned set: keys no longer in it are deleted, the others
// inserted or overwritten. An update error aborts with nothing written. Keys
// in the returned set need distinct, non-empty ids.
//
// update runs while the database is locked for writing (SQLite) or while
// the key set is locked (PostgreSQL: the row of signing_key_lock, FOR
// UPDATE): it must be quick and must not call the store. It may run more than
// once (see inTx), so it must not have other effects.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	const op = "update signing keys"
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		if q := s.flavour.lockSigningKeys; q != "" {
			// No row would be no lock: an error, not a silent race.
			var id int64
			if err := s.queryRow(ctx, tx, &id, q); err != nil {
				return fmt.Errorf("sqlstore: %s: lock: %w", op, err)
			}
		}
		old, err := signingKeys.list(ctx, s, tx, op, signingKeyOrder)
		if err != nil {
			return err
		}
		keys, err := update(old)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		keep := make(map[string]bool, len(keys))
		for _, k := range keys {
			if k.ID == "" {
				return fmt.Errorf("sqlstore: %s: a key has an empty id", op)
			}
			if keep[k.ID] {
				return fmt.Errorf("sqlstore: %s: key id %q appears twice", op, k.ID)
			}
			keep[k.ID] = true
		}
		for _, k := range old {
			if keep[k.ID] {
				continue
			}
			if _, err := s.txExec(ctx, tx, "DELETE FROM signing_keys WHERE id = ?", k.ID); err != nil {
				return fmt.Errorf("sqlstore: %s: delete %q: %w", op, k.ID, err)
			}
		}
		for _, k := range keys {
			if _, err := s.txExec(ctx, tx, upsertSigningKey, signingKeys.args(k)...); err != nil {
				return s.writeErr(fmt.Sprintf("%s: write %q", op, k.ID), err)
			}
		}
		return nil
	})
}
