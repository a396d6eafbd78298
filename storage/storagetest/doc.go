// Package storagetest provides the conformance suite that every storage.Store
// implementation passes: RunTests, modelled on dex's storage/conformance.
//
// A backend's test calls it with a constructor for fresh, empty stores:
//
//	func TestStore(t *testing.T) {
//		storagetest.RunTests(t, func(t *testing.T) storage.Store {
//			s, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: filepath.Join(t.TempDir(), "db")})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite checks the contract in package storage's documentation: errors
// (ErrNotFound, ErrAlreadyExists, ErrAlreadyUsed, through errors.Is), updates
// as compare-and-swap, expiry, single use under concurrency, revocation, key
// rotation under concurrency, and the round trip of every field. Times are
// compared at millisecond precision and in any location, nil and empty slices
// count as equal, and rows use times far in the past or future, so a store
// whose clock is time.Now passes.
package storagetest
