package sqlstore

import (
	"context"
	"fmt"

	"github.com/cardsso/cardsso/storage"
)

type counterVerificationRow struct {
	ID           string `db:"id"`
	ClientID     string `db:"client_id"`
	VerifiedAt   int64  `db:"verified_at"`
	Outcome      string `db:"outcome"`
	NumberMasked string `db:"number_masked"`
	BindingID    string `db:"binding_id"`
}

var counterVerifications = newEntity(entity[storage.CounterVerification, counterVerificationRow]{
	what:    "counter verification",
	table:   "counter_verifications",
	columns: []string{"id", "client_id", "verified_at", "outcome", "number_masked", "binding_id"},
	fromRow: func(r counterVerificationRow) (storage.CounterVerification, error) {
		return storage.CounterVerification{ID: r.ID, ClientID: r.ClientID, At: fromMillis(r.VerifiedAt),
			Outcome: r.Outcome, NumberMasked: r.NumberMasked, BindingID: r.BindingID}, nil
	},
	args: func(v storage.CounterVerification) []any {
		return []any{v.ID, v.ClientID, millis(v.At), v.Outcome, v.NumberMasked, v.BindingID}
	},
})

// RecordCounterVerification implements storage.CounterLog.
func (s *Store) RecordCounterVerification(ctx context.Context, v storage.CounterVerification) error {
	if v.Outcome == "" {
		return fmt.Errorf("sqlstore: record counter verification %q: empty outcome", v.ID)
	}
	return counterVerifications.create(ctx, s, fmt.Sprintf("record counter verification %q", v.ID), v)
}

// ListCounterVerifications implements storage.CounterLog.
func (s *Store) ListCounterVerifications(ctx context.Context, clientID string) ([]storage.CounterVerification, error) {
	const op = "list counter verifications"
	if clientID == "" {
		return counterVerifications.list(ctx, s, nil, op, "verified_at DESC, id")
	}
	return counterVerifications.listWhere(ctx, s, nil, op, "client_id = ? ORDER BY verified_at DESC, id", clientID)
}
