package storagetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// RunTests runs the conformance suite on the stores newStore returns. Every
// subtest gets a fresh, empty store from newStore, which also arranges (with
// t.Cleanup) for the store to be closed.
func RunTests(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"Ping", testPing},
		{"AccountCRUD", testAccountCRUD},
		{"AccountUpdate", testAccountUpdate},
		{"ClientCRUD", testClientCRUD},
		{"AuthRequestCRUD", testAuthRequestCRUD},
		{"AuthRequestByCode", testAuthRequestByCode},
		{"AuthRequestExpired", testAuthRequestExpired},
		{"ClaimAuthCode", testClaimAuthCode},
		{"ClaimAuthCodeConcurrent", oneStore(testClaimAuthCodeRace)},
		{"AccessTokenCRUD", testAccessTokenCRUD},
		{"RefreshTokenCRUD", testRefreshTokenCRUD},
		{"ClaimRefreshToken", testClaimRefreshToken},
		{"ClaimRefreshTokenConcurrent", oneStore(testClaimRefreshTokenRace)},
		{"RevokeGrant", testRevokeGrant},
		{"RevokeRotatedGrant", testRevokeRotatedGrant},
		{"SessionCRUD", testSessionCRUD},
		{"SessionExpired", testSessionExpired},
		{"SessionUpdateConcurrent", oneStore(testUpdateSessionRace)},
		{"ClientUpdateConcurrent", oneStore(testUpdateClientRace)},
		{"DeleteSessionRevokesTokens", testDeleteSessionRevokesTokens},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysConcurrent", testSigningKeysConcurrent},
		{"DeleteExpired", testDeleteExpired},
		{"ServiceProviderCRUD", testServiceProviderCRUD},
		{"SessionParticipants", testSessionParticipants},
		{"RecordOnce", testRecordOnce},
		{"RecordOnceConcurrent", testRecordOnceConcurrent},
		{"Consents", testConsents},
		{"Counters", testCounters},
		{"CountersConcurrent", testCountersConcurrent},
		{"DecrementCounter", testDecrementCounter},
		{"ListSessionsByAccount", testListSessionsByAccount},
		{"ListConsents", testListConsents},
		{"DeleteExpiredKeysCountersParticipants", testDeleteExpiredExtras},
		// The capabilities beyond Store (storage/capabilities.go), each
		// run when the store has it.
		{"SaveAuthCode", capability(testSaveAuthCode)},
		{"SaveAuthCodeConcurrent", oneStore(testSaveAuthCodeRace)},
		{"CompleteAuthRequest", capability(testCompleteAuthRequest)},
		{"CompleteAuthRequestConcurrent", oneStore(testCompleteAuthRequestRace)},
		{"ClaimAuthCodeAndIssue", capability(testClaimAuthCodeAndIssue)},
		{"ClaimRefreshTokenAndIssue", capability(testClaimRefreshTokenAndIssue)},
		{"IssueConcurrent", oneStore(testIssueRace)},
		{"LoginFlow", testLoginFlow},
		{"Health", capability(testHealth)},
		{"Migrator", capability(testMigrator)},
		{"Backuper", capability(testBackuper)},
		{"BulkCreator", capability(testBulkCreator)},
		{"CounterLog", capability(testCounterLog)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			test.run(t, newStore(t))
		})
	}
}

// capability turns a test of capability C into a suite test, run when the
// store has C. A store without it has nothing to check: its callers use
// the Store methods, which the rest of the suite checks.
func capability[C any](test func(t *testing.T, s storage.Store, c C)) func(t *testing.T, s storage.Store) {
	return func(t *testing.T, s storage.Store) {
		c, ok := s.(C)
		if !ok {
			t.Logf("the store is no %v: nothing to check", reflect.TypeFor[C]())
			return
		}
		test(t, s, c)
	}
}

// capabilityOf returns capability C of every node, or false (having said
// so) when the stores do not have it.
func capabilityOf[C any](t *testing.T, nodes []storage.Store) ([]C, bool) {
	cs := make([]C, len(nodes))
	for i, s := range nodes {
		c, ok := s.(C)
		if !ok {
			t.Logf("the stores are no %v: nothing to check", reflect.TypeFor[C]())
			return nil, false
		}
		cs[i] = c
	}
	return cs, true
}

// oneStore runs a test of several nodes (RunNodeTests) on one store.
func oneStore(test func(t *testing.T, nodes []storage.Store)) func(t *testing.T, s storage.Store) {
	return func(t *testing.T, s storage.Store) { test(t, []storage.Store{s}) }
}

// Times far from now, with sub-millisecond parts and outside UTC, so that the
// suite checks millisecond precision and UTC normalisation.
var (
	cst     = time.FixedZone("CST", 8*60*60)
	past    = time.Date(2001, 2, 3, 4, 5, 6, 789_123_456, cst)      // long expired
	future  = time.Date(2199, 12, 30, 23, 58, 57, 456_789_012, cst) // far from expiring
	created = time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, cst)
)

// errUpdater is what the suite's failing updaters return.
var errUpdater = errors.New("storagetest: updater refuses")

// Binary values with every kind of byte that a careless encoding mangles.
func blob(tag byte) []byte {
	return []byte{0x00, tag, 0xff, 0x80, '\'', '"', '\\', 0x00, 0x7f, '%', '?'}
}

func ptr[T any](v T) *T { return &v }

// Comparison.

// normalize returns v with its times rounded down to the millisecond in UTC,
// and empty slices set to nil, so that two values are equal when a store kept
// everything the contract asks it to keep. It descends into struct fields and
// slices of structs.
func normalize[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	normalizeValue(rv)
	return v
}

var timeType = reflect.TypeOf(time.Time{})

func normalizeValue(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(normalTime(v.Interface().(time.Time))))
	case v.Kind() == reflect.Pointer && v.Type().Elem() == timeType:
		if !v.IsNil() {
			t := normalTime(v.Elem().Interface().(time.Time))
			v.Set(reflect.ValueOf(&t))
		}
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := range c.Len() {
				normalizeValue(c.Index(i))
			}
			v.Set(c)
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				normalizeValue(v.Field(i))
			}
		}
	}
}

func normalTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Millisecond).UTC()
}

// checkEqual fails t when got and want differ after normalize.
func checkEqual[T any](t *testing.T, call string, got, want T) {
	t.Helper()
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %+v\nwant %+v", call, g, w)
	}
}

// checkErr fails t unless errors.Is(err, want); want nil means no error.
func checkErr(t *testing.T, call string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v", call, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: err = %v; want %v", call, err, want)
	}
}

// checkSingleWinner fails t unless exactly one of errs is nil and all the
// others are ErrAlreadyUsed.
func checkSingleWinner(t *testing.T, call string, errs []error) {
	t.Helper()
	checkOneWinner(t, call, errs, storage.ErrAlreadyUsed)
}

// checkOneWinner fails t unless exactly one of errs is nil and all the
// others are lost (errors.Is), and returns the winner's index (-1 for
// none).
func checkOneWinner(t *testing.T, call string, errs []error, lost error) int {
	t.Helper()
	winner, wins := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			winner, wins = i, wins+1
		case !errors.Is(err, lost):
			t.Errorf("%s: %v; want nil or %v", call, err, lost)
		}
	}
	if wins != 1 {
		t.Errorf("%s raced by %d: %d won; want exactly 1", call, len(errs), wins)
	}
	return winner
}

// race runs n copies of fn at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testPing(t *testing.T, s storage.Store) {
	checkErr(t, "Ping", s.Ping(t.Context()), nil)
}
