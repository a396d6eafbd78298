package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cardsso/cardsso/storage"
)

type serviceProviderRow struct {
	ID           string `db:"id"`
	EntityID     string `db:"entity_id"`
	Name         string `db:"name"`
	Metadata     []byte `db:"metadata"`
	MinACR       string `db:"min_acr"`
	Attributes   string `db:"attributes"`
	NameIDFormat string `db:"name_id_format"`
	IdPInitiated bool   `db:"idp_initiated"`
	RelayStates  string `db:"relay_states"`
	CreatedAt    int64  `db:"created_at"`
	UpdatedAt    int64  `db:"updated_at"`
}

var serviceProviders = newEntity(entity[storage.ServiceProvider, serviceProviderRow]{
	what:  "service provider",
	table: "service_providers",
	columns: []string{"id", "entity_id", "name", "metadata", "min_acr", "attributes", "name_id_format",
		"idp_initiated", "relay_states", "created_at", "updated_at"},
	fromRow: func(r serviceProviderRow) (storage.ServiceProvider, error) {
		sp := storage.ServiceProvider{
			ID: r.ID, EntityID: r.EntityID, Name: r.Name, Metadata: r.Metadata, MinACR: r.MinACR,
			NameIDFormat: r.NameIDFormat, IdPInitiated: r.IdPInitiated, CreatedAt: fromMillis(r.CreatedAt), UpdatedAt: fromMillis(r.UpdatedAt),
		}
		err := decodeLists(listColumn{"attributes", r.Attributes, &sp.Attributes},
			listColumn{"relay_states", r.RelayStates, &sp.RelayStates})
		return sp, err
	},
	args: func(sp storage.ServiceProvider) []any {
		return []any{sp.ID, sp.EntityID, sp.Name, sp.Metadata, sp.MinACR, encodeList(sp.Attributes),
			sp.NameIDFormat, sp.IdPInitiated, encodeList(sp.RelayStates), millis(sp.CreatedAt), millis(sp.UpdatedAt)}
	},
})

// CreateServiceProvider stores a new SAML service provider; the id and the
// entity id are each unique.
func (s *Store) CreateServiceProvider(ctx context.Context, sp storage.ServiceProvider) error {
	if sp.EntityID == "" {
		return fmt.Errorf("sqlstore: create service provider %q: empty entity id", sp.ID)
	}
	return serviceProviders.create(ctx, s, fmt.Sprintf("create service provider %q", sp.ID), sp)
}

// GetServiceProvider returns the service provider with this id.
func (s *Store) GetServiceProvider(ctx context.Context, id string) (storage.ServiceProvider, error) {
	return serviceProviders.get(ctx, s, nil, fmt.Sprintf("get service provider %q", id), "", "id = ?", id)
}

// GetServiceProviderByEntityID returns the service provider with this entity id.
func (s *Store) GetServiceProviderByEntityID(ctx context.Context, entityID string) (storage.ServiceProvider, error) {
	return serviceProviders.get(ctx, s, nil, fmt.Sprintf("get service provider by entity id %q", entityID), "", "entity_id = ?", entityID)
}

// ListServiceProviders lists every service provider by id.
func (s *Store) ListServiceProviders(ctx context.Context) ([]storage.ServiceProvider, error) {
	return serviceProviders.list(ctx, s, nil, "list service providers", "id")
}

// UpdateServiceProvider runs update on the service provider in a transaction.
func (s *Store) UpdateServiceProvider(ctx context.Context, id string, update func(storage.ServiceProvider) (storage.ServiceProvider, error)) error {
	return serviceProviders.updateByID(ctx, s, id, func(sp storage.ServiceProvider) string { return sp.ID }, update)
}

// DeleteServiceProvider deletes the service provider.
func (s *Store) DeleteServiceProvider(ctx context.Context, id string) error {
	return serviceProviders.deleteByKey(ctx, s, fmt.Sprintf("delete service provider %q", id), id)
}

type participantRow struct {
	SessionID       string `db:"session_id"`
	EntityID        string `db:"entity_id"`
	NameID          string `db:"name_id"`
	NameIDFormat    string `db:"name_id_format"`
	NameQualifier   string `db:"name_qualifier"`
	SPNameQualifier string `db:"sp_name_qualifier"`
	SessionIndex    string `db:"session_index"`
	CreatedAt       int64  `db:"created_at"`
}

// AddSessionParticipant records a SAML participant of a session; the same
// (session, entity id) again replaces the row.
func (s *Store) AddSessionParticipant(ctx context.Context, p storage.SessionParticipant) error {
	op := fmt.Sprintf("add session participant %q", p.EntityID)
	if p.SessionID == "" || p.EntityID == "" {
		return fmt.Errorf("sqlstore: %s: empty session or entity id", op)
	}
	q := `INSERT INTO session_participants (session_id, entity_id, name_id, name_id_format, name_qualifier,
		sp_name_qualifier, session_index, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session_id, entity_id) DO UPDATE SET name_id = excluded.name_id,
		name_id_format = excluded.name_id_format, name_qualifier = excluded.name_qualifier,
		sp_name_qualifier = excluded.sp_name_qualifier, session_index = excluded.session_index,
		created_at = excluded.created_at`
	_, err := s.exec(ctx, q, p.SessionID, p.EntityID, p.NameID, p.NameIDFormat,
		p.NameQualifier, p.SPNameQualifier, p.SessionIndex, millis(p.CreatedAt))
	if err != nil {
		return s.writeErr(op, err)
	}
	return nil
}

// ListSessionParticipants lists a session's SAML participants, oldest first.
func (s *Store) ListSessionParticipants(ctx context.Context, sessionID string) ([]storage.SessionParticipant, error) {
	var rows []participantRow
	q := `SELECT session_id, entity_id, name_id, name_id_format, name_qualifier, sp_name_qualifier,
		session_index, created_at FROM session_participants WHERE session_id = ? ORDER BY created_at, entity_id`
	if err := s.queryRows(ctx, nil, &rows, q, sessionID); err != nil {
		return nil, fmt.Errorf("sqlstore: list session participants: %w", err)
	}
	out := make([]storage.SessionParticipant, len(rows))
	for i, r := range rows {
		out[i] = storage.SessionParticipant{
			SessionID: r.SessionID, EntityID: r.EntityID, NameID: r.NameID, NameIDFormat: r.NameIDFormat,
			NameQualifier: r.NameQualifier, SPNameQualifier: r.SPNameQualifier, SessionIndex: r.SessionIndex,
			CreatedAt: fromMillis(r.CreatedAt),
		}
	}
	return out, nil
}

// RecordOnce records a single-use key until expiresAt in one statement: an
// insert, or the replacement of an expired record. A live record makes the
// statement change nothing, which is storage.ErrAlreadyUsed.
func (s *Store) RecordOnce(ctx context.Context, key string, expiresAt time.Time) error {
	op := "record single-use key"
	if key == "" {
		return fmt.Errorf("sqlstore: %s: empty key", op)
	}
	q := `INSERT INTO once_keys (id, expires_at) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE once_keys.expires_at <= ?`
	n, err := s.execCount(ctx, q, key, millis(expiresAt), millis(s.now()))
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrAlreadyUsed)
	}
	return nil
}
