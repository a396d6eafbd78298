package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

func testSigningKeys(t *testing.T, s storage.Store) {
	ctx := t.Context()
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	if len(keys) != 0 {
		t.Errorf("ListSigningKeys on an empty store = %+v; want none", keys)
	}

	older := newSigningKey("kid-old", created, storage.KeyActive)
	older.ActivatedAt = ptr(created.Add(time.Minute))
	newer := newSigningKey("kid-new", created.Add(time.Hour), storage.KeyNext)
	// Handed over newest first; listed oldest first.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		if len(old) != 0 {
			t.Errorf("updater's argument = %+v; want none", old)
		}
		return []storage.SigningKey{newer, older}, nil
	})
	checkErr(t, "UpdateSigningKeys", err, nil)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys", keys, []storage.SigningKey{older, newer})

	// Rotate: the next key signs, the active one retires, a new next key
	// appears, and an expired retired key (none yet) would go.
	retired := older
	retired.State = storage.KeyRetired
	retired.RetiredAt = ptr(created.Add(2 * time.Hour))
	retired.ExpiresAt = ptr(created.Add(3 * time.Hour))
	active := newer
	active.State = storage.KeyActive
	active.ActivatedAt = ptr(created.Add(2 * time.Hour))
	next := newSigningKey("kid-next", created.Add(2*time.Hour), storage.KeyNext)
	// A key of another use, with its certificate, is kept as it is.
	saml := newSigningKey("kid-saml", created.Add(3*time.Hour), storage.KeyActive)
	saml.Algorithm, saml.Use, saml.Certificate = "RS256", storage.KeyUseSAML, blob(9)
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		checkEqual(t, "updater's argument", old, []storage.SigningKey{older, newer})
		return []storage.SigningKey{retired, active, next, saml}, nil
	})
	checkErr(t, "UpdateSigningKeys(rotate)", err, nil)
	want := []storage.SigningKey{retired, active, next, saml}
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after rotation", keys, want)

	// A failing updater writes nothing.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		return nil, errUpdater
	})
	checkErr(t, "UpdateSigningKeys(failing updater)", err, errUpdater)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after a failing updater", keys, want)

	// Dropping a key removes it.
	err = s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		return old[1:], nil
	})
	checkErr(t, "UpdateSigningKeys(drop)", err, nil)
	keys, err = s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	checkEqual(t, "ListSigningKeys after dropping the retired key", keys, want[1:])
}

func testSigningKeysConcurrent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Each updater adds a key only if there are fewer than 2: if any of them
	// saw a stale set, the result has more than 2.
	const n = 8
	errs := race(n, func(i int) error {
		return s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
			if len(old) >= 2 {
				return old, nil
			}
			k := newSigningKey(fmt.Sprintf("kid-%d", i), created.Add(time.Duration(i)*time.Second), storage.KeyNext)
			return append(old, k), nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("UpdateSigningKeys #%d", i), err, nil)
	}
	keys, err := s.ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	if len(keys) != 2 {
		t.Errorf("after %d racing add-if-fewer-than-2 updates, ListSigningKeys = %+v; want 2 keys", n, keys)
	}
}
