package keys

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// KeyInfo describes a stored signing key for operators. Zero times are unset.
type KeyInfo struct {
	ID          string
	Use         string // storage.KeyUseOIDC or storage.KeyUseSAML
	Algorithm   string
	State       storage.KeyState
	CreatedAt   time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time
	ExpiresAt   time.Time // when a retired key leaves the JWKS
}

// List returns every stored key, read from the store (not memory), for
// operators: the active key first, then next keys, then retired keys, newest
// first within each.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	keys, err := m.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{
			ID:          k.ID,
			Use:         m.use,
			Algorithm:   k.Algorithm,
			State:       k.State,
			CreatedAt:   k.CreatedAt,
			ActivatedAt: deref(k.ActivatedAt),
			RetiredAt:   deref(k.RetiredAt),
			ExpiresAt:   deref(k.ExpiresAt),
		})
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int {
		if c := cmp.Compare(stateRank(a.State), stateRank(b.State)); c != 0 {
			return c
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return out, nil
}

func stateRank(s storage.KeyState) int {
	switch s {
	case storage.KeyActive:
		return 0
	case storage.KeyNext:
		return 1
	}
	return 2
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
