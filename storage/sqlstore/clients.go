package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cardsso/cardsso/storage"
)

type clientRow struct {
	ID                     string `db:"id"`
	Name                   string `db:"name"`
	SecretHash             []byte `db:"secret_hash"`
	Public                 bool   `db:"is_public"`
	RedirectURIs           string `db:"redirect_uris"`
	PostLogoutRedirectURIs string `db:"post_logout_redirect_uris"`
	FirstParty             bool   `db:"first_party"`
	MinACR                 string `db:"min_acr"`
	AllowedClaims          string `db:"allowed_claims"`
	PublicSubject          bool   `db:"public_subject"`
	SectorIdentifierURI    string `db:"sector_identifier_uri"`
	BackchannelLogoutURI   string `db:"backchannel_logout_uri"`
	RefreshReuseGraceMS    int64  `db:"refresh_reuse_grace_ms"`
	CreatedAt              int64  `db:"created_at"`
	UpdatedAt              int64  `db:"updated_at"`
}

var clients = newEntity(entity[storage.Client, clientRow]{
	what:  "client",
	table: "clients",
	columns: []string{"id", "name", "secret_hash", "is_public", "redirect_uris",
		"post_logout_redirect_uris", "first_party", "min_acr", "allowed_claims", "public_subject",
		"sector_identifier_uri", "backchannel_logout_uri", "refresh_reuse_grace_ms", "created_at", "updated_at"},
	fromRow: func(r clientRow) (storage.Client, error) {
		c := storage.Client{
			ID:         r.ID,
			Name:       r.Name,
			SecretHash: r.SecretHash,
			Public:     r.Public,
			FirstParty: r.FirstParty,
			MinACR:     r.MinACR,
			CreatedAt:  fromMillis(r.CreatedAt),
			UpdatedAt:  fromMillis(r.UpdatedAt),

			PublicSubject:        r.PublicSubject,
			SectorIdentifierURI:  r.SectorIdentifierURI,
			BackchannelLogoutURI: r.BackchannelLogoutURI,
			RefreshReuseGrace:    time.Duration(r.RefreshReuseGraceMS) * time.Millisecond,
		}
		err := decodeLists(
			listColumn{"redirect_uris", r.RedirectURIs, &c.RedirectURIs},
			listColumn{"post_logout_redirect_uris", r.PostLogoutRedirectURIs, &c.PostLogoutRedirectURIs},
			listColumn{"allowed_claims", r.AllowedClaims, &c.AllowedClaims},
		)
		return c, err
	},
	args: func(c storage.Client) []any {
		return []any{c.ID, c.Name, c.SecretHash, c.Public, encodeList(c.RedirectURIs),
			encodeList(c.PostLogoutRedirectURIs), c.FirstParty, c.MinACR, encodeList(c.AllowedClaims), c.PublicSubject,
			c.SectorIdentifierURI, c.BackchannelLogoutURI, c.RefreshReuseGrace.Milliseconds(), millis(c.CreatedAt), millis(c.UpdatedAt)}
	},
})

// CreateClient stores a new client.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	return clients.create(ctx, s, fmt.Sprintf("create client %q", c.ID), c)
}

// GetClient returns the client with this id.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	return clients.get(ctx, s, nil, fmt.Sprintf("get client %q", id), "", "id = ?", id)
}

// ListClients returns every client, ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	return clients.list(ctx, s, nil, "list clients", "id")
}

// UpdateClient runs update on the client inside a transaction and writes the
// result; update must keep the id.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) error {
	return clients.updateByID(ctx, s, id, func(c storage.Client) string { return c.ID }, update)
}

// DeleteClient deletes the client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return clients.deleteByKey(ctx, s, fmt.Sprintf("delete client %q", id), id)
}
