package keys

import (
	"slices"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// due reports whether the set needs a scheduled rotation at now.
func (m *Manager) due(keys []storage.SigningKey, now time.Time) bool {
	active, _, _ := classify(keys)
	if active == nil {
		return true
	}
	return !activatedAt(*active).Add(m.period).After(now)
}

// rotate returns the set after one rotation at now; keys is not modified.
//
//	next (oldest of the configured algorithm) → active, ActivatedAt = now
//	active                                    → retired, RetiredAt = now, ExpiresAt = now+PublishFor
//	retired with ExpiresAt <= now             → dropped
//	other next keys                           → dropped (they never signed)
//	                                          + a new next key
func (m *Manager) rotate(keys []storage.SigningKey, now time.Time, pre *pregenerated) ([]storage.SigningKey, error) {
	var out []storage.SigningKey
	var promoted bool
	var nexts []storage.SigningKey
	for _, k := range keys {
		switch k.State {
		case storage.KeyActive:
			k.State = storage.KeyRetired
			k.RetiredAt = ptr(now)
			k.ExpiresAt = ptr(now.Add(m.keep))
			out = append(out, k)
		case storage.KeyNext:
			nexts = append(nexts, k)
		default: // retired, or a state this version does not know
			if k.ExpiresAt == nil {
				from := now
				if k.RetiredAt != nil {
					from = *k.RetiredAt
				}
				k.ExpiresAt = ptr(from.Add(m.keep))
			}
			if k.ExpiresAt.After(now) {
				out = append(out, k)
			}
		}
	}
	slices.SortStableFunc(nexts, func(a, b storage.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, k := range nexts {
		if k.Algorithm == m.alg && !promoted {
			k.State = storage.KeyActive
			k.ActivatedAt = ptr(now)
			out = append(out, k)
			promoted = true
		}
	}
	if !promoted {
		k, err := pre.take(m, now)
		if err != nil {
			return nil, err
		}
		k.State = storage.KeyActive
		k.ActivatedAt = ptr(now)
		out = append(out, k)
	}
	k, err := pre.take(m, now)
	if err != nil {
		return nil, err
	}
	k.State = storage.KeyNext
	return append(out, k), nil
}

// keysNeeded guesses from a (possibly stale) read how many keys a rotation
// or Init will generate, so they are made before the transaction rather than
// while it holds the store's lock.
func (m *Manager) keysNeeded(keys []storage.SigningKey) int {
	_, nexts, _ := classify(keys)
	n := 1 // the new next key
	if !slices.ContainsFunc(nexts, func(k storage.SigningKey) bool { return k.Algorithm == m.alg }) {
		n++ // no next key to promote
	}
	return n
}

// classify picks the active key (the most recently activated when a broken
// store holds several), the next keys and the retired keys.
func classify(keys []storage.SigningKey) (active *storage.SigningKey, nexts, retired []storage.SigningKey) {
	for i := range keys {
		k := &keys[i]
		switch k.State {
		case storage.KeyActive:
			if active == nil || activatedAt(*k).After(activatedAt(*active)) {
				active = k
			}
		case storage.KeyNext:
			nexts = append(nexts, *k)
		default:
			retired = append(retired, *k)
		}
	}
	return active, nexts, retired
}

func activatedAt(k storage.SigningKey) time.Time {
	if k.ActivatedAt != nil {
		return *k.ActivatedAt
	}
	return k.CreatedAt
}

func activeID(keys []storage.SigningKey) string {
	if a, _, _ := classify(keys); a != nil {
		return a.ID
	}
	return ""
}

func ptr[T any](v T) *T { return &v }
