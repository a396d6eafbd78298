package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// errNoChange aborts an UpdateSigningKeys whose updater found nothing to do,
// so nothing is written.
var errNoChange = errors.New("keys: no change")

// Init makes sure the store holds an active key and a next key of the
// configured algorithm, then loads the set into memory. On an empty store it
// generates both in one UpdateSigningKeys; the updater re-checks the fresh
// set, so nodes starting together end with one active key.
//
// When the active key's algorithm differs from the configured one, Init
// rotates at once to a key of the configured algorithm (the old key is
// retired and stays published for PublishFor). Nodes configured with
// different algorithms therefore rotate each other's keys at every start:
// change the algorithm on every node together.
func (m *Manager) Init(ctx context.Context) error {
	cur, err := m.list(ctx)
	if err != nil {
		return err
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return err
	}
	var rotated bool
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		rotated = false
		pre.reset()
		now := m.now().UTC()
		active, nexts, _ := classify(keys)
		if active == nil || active.Algorithm != m.alg {
			rotated = true
			return m.rotate(keys, now, pre)
		}
		if slices.ContainsFunc(nexts, func(k storage.SigningKey) bool { return k.Algorithm == m.alg }) {
			return nil, errNoChange
		}
		// An active key but no next of this algorithm: add one.
		nk, err := pre.take(m, now)
		if err != nil {
			return nil, err
		}
		nk.State = storage.KeyNext
		return append(slices.DeleteFunc(slices.Clone(keys), func(k storage.SigningKey) bool {
			return k.State == storage.KeyNext
		}), nk), nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("keys: initialise signing keys: %w", err)
	}
	if rotated && err == nil {
		m.log.Info("signing keys initialised or rotated to the configured algorithm", "use", m.use, "alg", m.alg)
	}
	return m.Refresh(ctx)
}

// Rotate makes the next key active now, retires the active key (published
// until now+PublishFor), generates a new next key and drops retired keys
// whose publication ended, all in one UpdateSigningKeys; then reloads. With
// no next key of the configured algorithm it generates and activates a fresh
// one (relying parties meet its kid before their cached JWKS does, and must
// refetch). Rotate always rotates; RotateIfDue rotates when the period is up.
func (m *Manager) Rotate(ctx context.Context) error {
	cur, err := m.list(ctx)
	if err != nil {
		return err
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return err
	}
	var old, act string
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		pre.reset()
		old, act = activeID(keys), ""
		out, err := m.rotate(keys, m.now().UTC(), pre)
		act = activeID(out)
		return out, err
	})
	if err != nil {
		return fmt.Errorf("keys: rotate signing keys: %w", err)
	}
	m.log.Info("signing key rotated", "use", m.use, "active", act, "retired", old, "alg", m.alg)
	if err := m.Refresh(ctx); err != nil {
		return fmt.Errorf("keys: reload after rotation: %w", err)
	}
	return nil
}

// errNotDue aborts RotateIfDue's update when the fresh set needs no rotation.
var errNotDue = errors.New("keys: rotation not due")

// RotateIfDue rotates as Rotate does when the active key was activated at
// least RotationPeriod ago (or there is none). The decision is taken inside
// the updater on the freshly read set, so when several nodes call it at once
// exactly one rotates; the others get rotated = false and write nothing.
func (m *Manager) RotateIfDue(ctx context.Context) (rotated bool, err error) {
	cur, err := m.list(ctx)
	if err != nil {
		return false, err
	}
	if !m.due(cur, m.now()) {
		return false, nil // cheap path: no transaction
	}
	pre, err := m.pregenerate(m.keysNeeded(cur))
	if err != nil {
		return false, err
	}
	var old, act string
	err = m.update(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
		now := m.now().UTC()
		if !m.due(keys, now) {
			return nil, errNotDue
		}
		pre.reset()
		old = activeID(keys)
		out, err := m.rotate(keys, now, pre)
		act = activeID(out)
		return out, err
	})
	if errors.Is(err, errNotDue) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("keys: rotate signing keys: %w", err)
	}
	m.log.Info("signing key rotated on schedule", "use", m.use, "active", act, "retired", old, "alg", m.alg)
	if err := m.Refresh(ctx); err != nil {
		return true, fmt.Errorf("keys: reload after rotation: %w", err)
	}
	return true, nil
}

// pregenerated holds keys made before a transaction; take generates more if
// the fresh set needs them. A store may run an updater more than once (a
// failed run writes nothing), so every run starts over with reset and can
// hand out the same keys again.
type pregenerated struct {
	keys []storage.SigningKey
	used int
}

func (p *pregenerated) reset() { p.used = 0 }

func (m *Manager) pregenerate(n int) (*pregenerated, error) {
	p := &pregenerated{}
	for range n {
		k, err := m.generate()
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, k)
	}
	return p, nil
}

// take returns a key not yet handed out in this run, stamped CreatedAt = now.
func (p *pregenerated) take(m *Manager, now time.Time) (storage.SigningKey, error) {
	if p.used == len(p.keys) {
		k, err := m.generate()
		if err != nil {
			return storage.SigningKey{}, err
		}
		p.keys = append(p.keys, k)
	}
	k := p.keys[p.used]
	p.used++
	k.CreatedAt = now
	return k, nil
}

// Run refreshes the set and rotates when due every interval (default one
// minute) until ctx is done, logging errors. Call it in its own goroutine
// after Init.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultRunInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("signing keys: refresh failed", "use", m.use, "err", err)
		}
		if _, err := m.RotateIfDue(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("signing keys: scheduled rotation failed", "use", m.use, "err", err)
		}
	}
}
