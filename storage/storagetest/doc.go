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
//
// RunTests also checks every capability beyond Store (storage's
// capabilities.go) that the store has, found by type assertion as its
// callers find it: the fast paths idp runs in production (CodeSaver: one
// code per completed request; Completer: completion, step-up, another
// account refused, races; TokenIssuer: claim and issue together or not at
// all, replays answered with the claimed value, single use under
// concurrency, revocation of what was issued) and those for operations
// (Health, Migrator, Backuper, BulkCreator). A store without a capability
// has nothing to check there: its callers use the Store methods.
//
// RunNodeTests is the second half, for backends whose stores can share a
// database: it opens several stores on one database, as several CardSSO nodes
// would, and checks that they see each other's writes, that concurrent
// updates from different nodes are compare-and-swap (none is lost), that a
// refresh token or code raced on every node is claimed once (through the
// Store methods and through TokenIssuer), that an auth request completed
// on every node at once for different accounts is completed once, that key
// rotation raced on every node happens once, and that every node may collect
// expired rows at once.
//
// PostgreSQL tests run when CARDSSO_TEST_POSTGRES (PostgresEnv) holds the URL
// of a database the tests may use. PostgresConfigured says whether it does,
// and FreshPostgres gives each test an empty schema of its own in that
// database (a DSN with search_path set), dropped at cleanup:
//
//	if storagetest.PostgresConfigured() {
//		dsn := storagetest.FreshPostgres(t)
//		a, _ := sqlstore.Open(ctx, sqlstore.Config{Flavour: "postgres", DSN: dsn}) // node A
//		b, _ := sqlstore.Open(ctx, sqlstore.Config{Flavour: "postgres", DSN: dsn}) // node B, same database
//	}
package storagetest
