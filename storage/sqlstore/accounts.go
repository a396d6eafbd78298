package sqlstore

import (
	"context"
	"fmt"

	"github.com/cardsso/cardsso/storage"
)

type accountRow struct {
	ID                 string `db:"id"`
	Name               string `db:"name"`
	SSNSealed          []byte `db:"ssn_sealed"`
	SSNIndex           []byte `db:"ssn_index"`
	SSNMasked          string `db:"ssn_masked"`
	CardRegion         string `db:"card_region"`
	PasswordHash       string `db:"password_hash"`
	RealNameVerifiedAt int64  `db:"real_name_verified_at"`
	CardNumber         string `db:"card_number"`
	CardStatus         string `db:"card_status"`
	CardGeneration     int    `db:"card_generation"`
	CardCheckedAt      *int64 `db:"card_checked_at"`
	CardVerifiedAt     *int64 `db:"card_verified_at"`
	FaceVerifiedAt     *int64 `db:"face_verified_at"`
	FaceFailures       int    `db:"face_failures"`
	FaceFailuresSince  *int64 `db:"face_failures_since"`
	CreatedAt          int64  `db:"created_at"`
	UpdatedAt          int64  `db:"updated_at"`
}

var accounts = newEntity(entity[storage.Account, accountRow]{
	what:  "account",
	table: "accounts",
	columns: []string{"id", "name", "ssn_sealed", "ssn_index", "ssn_masked", "card_region",
		"password_hash", "real_name_verified_at", "card_number", "card_status", "card_generation",
		"card_checked_at", "card_verified_at", "face_verified_at", "face_failures", "face_failures_since", "created_at", "updated_at"},
	fromRow: func(r accountRow) (storage.Account, error) {
		return storage.Account{
			ID:                 r.ID,
			Name:               r.Name,
			SSNSealed:          r.SSNSealed,
			SSNIndex:           r.SSNIndex,
			SSNMasked:          r.SSNMasked,
			CardRegion:         r.CardRegion,
			PasswordHash:       r.PasswordHash,
			RealNameVerifiedAt: fromMillis(r.RealNameVerifiedAt),
			CardNumber:         r.CardNumber,
			CardStatus:         r.CardStatus,
			CardGeneration:     r.CardGeneration,
			CardCheckedAt:      fromMillisPtr(r.CardCheckedAt),
			CardVerifiedAt:     fromMillisPtr(r.CardVerifiedAt),
			FaceVerifiedAt:     fromMillisPtr(r.FaceVerifiedAt),
			FaceFailures:       r.FaceFailures,
			FaceFailuresSince:  fromMillisPtr(r.FaceFailuresSince),
			CreatedAt:          fromMillis(r.CreatedAt),
			UpdatedAt:          fromMillis(r.UpdatedAt),
		}, nil
	},
	args: func(a storage.Account) []any {
		return []any{a.ID, a.Name, a.SSNSealed, uniqueBytes(a.SSNIndex), a.SSNMasked, a.CardRegion,
			a.PasswordHash, millis(a.RealNameVerifiedAt), a.CardNumber, a.CardStatus, a.CardGeneration,
			millisPtr(a.CardCheckedAt), millisPtr(a.CardVerifiedAt), millisPtr(a.FaceVerifiedAt), a.FaceFailures, millisPtr(a.FaceFailuresSince),
			millis(a.CreatedAt), millis(a.UpdatedAt)}
	},
})

// CreateAccount stores a new account. A second account with the same id or
// the same (non-empty) SSNIndex gives storage.ErrAlreadyExists.
func (s *Store) CreateAccount(ctx context.Context, a storage.Account) error {
	return accounts.create(ctx, s, fmt.Sprintf("create account %q", a.ID), a)
}

// GetAccount returns the account with this id.
func (s *Store) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	return accounts.get(ctx, s, nil, fmt.Sprintf("get account %q", id), "", "id = ?", id)
}

// GetAccountBySSNIndex finds an account by the blind index of its number (a
// lookup in the unique index on ssn_index). An empty index matches nothing.
func (s *Store) GetAccountBySSNIndex(ctx context.Context, index []byte) (storage.Account, error) {
	const op = "get account by ssn index"
	if len(index) == 0 {
		return storage.Account{}, notFound(op)
	}
	return accounts.get(ctx, s, nil, op, "", "ssn_index = ?", index)
}

// UpdateAccount runs update on the account inside a transaction and writes
// the result; update must keep the id.
func (s *Store) UpdateAccount(ctx context.Context, id string, update func(storage.Account) (storage.Account, error)) error {
	return accounts.updateByID(ctx, s, id, func(a storage.Account) string { return a.ID }, update)
}

// DeleteAccount deletes the account. It leaves its sessions and tokens, which
// expire on their own.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	return accounts.deleteByKey(ctx, s, fmt.Sprintf("delete account %q", id), id)
}
