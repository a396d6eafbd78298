package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// RunNodeTests runs the tests of several nodes sharing one database: what one
// node writes the others read, updates from several nodes are
// compare-and-swap (none is lost), a single-use value raced on every node is
// claimed once (through the Store and, when the stores have them, through
// the fast paths: one code saved per request, one claim and issue, one
// account completing a login), key rotation raced on every node happens
// once, and every node may collect expired rows at once.
//
// newNodes returns n (at least 2) stores opened on one fresh, empty database,
// as n CardSSO nodes would open it, and arranges (with t.Cleanup) for them to
// be closed. A backend whose stores cannot share a database (SQLite's
// ":memory:") does not run these tests.
func RunNodeTests(t *testing.T, newNodes func(t *testing.T, n int) []storage.Store) {
	t.Helper()
	tests := []struct {
		name  string
		nodes int
		run   func(t *testing.T, nodes []storage.Store)
	}{
		{"SeeEachOther", 2, testNodesSeeEachOther},
		{"UpdateSession", 2, testUpdateSessionRace},
		{"UpdateClient", 3, testUpdateClientRace},
		{"ClaimRefreshToken", 2, testClaimRefreshTokenRace},
		{"ClaimAuthCode", 3, testClaimAuthCodeRace},
		{"RotateSigningKeys", 3, testRotateSigningKeysRace},
		{"DeleteExpired", 3, testDeleteExpiredRace},
		{"SaveAuthCode", 2, testSaveAuthCodeRace},
		{"ClaimAndIssue", 3, testIssueRace},
		{"CompleteAuthRequest", 2, testCompleteAuthRequestRace},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			nodes := newNodes(t, test.nodes)
			if len(nodes) != test.nodes {
				t.Fatalf("newNodes(t, %d) returned %d stores", test.nodes, len(nodes))
			}
			test.run(t, nodes)
		})
	}
}

// raceNodes is race with call i on node i mod len(nodes).
func raceNodes(nodes []storage.Store, n int, fn func(i int, s storage.Store) error) []error {
	return race(n, func(i int) error { return fn(i, nodes[i%len(nodes)]) })
}

func testNodesSeeEachOther(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	a, b := nodes[0], nodes[1]

	c := newClient("client-1")
	checkErr(t, "a.CreateClient", a.CreateClient(ctx, c), nil)
	got, err := b.GetClient(ctx, c.ID)
	checkErr(t, "b.GetClient", err, nil)
	checkEqual(t, "b.GetClient(the client a created)", got, c)
	checkErr(t, "b.CreateClient(the client a created)", b.CreateClient(ctx, c), storage.ErrAlreadyExists)

	// Login on a, token exchange and refresh on b, logout on b ends it on a.
	sess := newSession("session-1", future)
	checkErr(t, "a.CreateSession", a.CreateSession(ctx, sess), nil)
	rt := newRefreshToken("rt-1", "grant-1", sess.ID, future)
	checkErr(t, "a.CreateRefreshToken", a.CreateRefreshToken(ctx, rt), nil)
	_, err = b.ClaimRefreshToken(ctx, rt.Hash, time.Now())
	checkErr(t, "b.ClaimRefreshToken", err, nil)
	_, err = a.ClaimRefreshToken(ctx, rt.Hash, time.Now())
	checkErr(t, "a.ClaimRefreshToken(claimed on b)", err, storage.ErrAlreadyUsed)
	err = b.UpdateSession(ctx, sess.ID, func(s storage.Session) (storage.Session, error) {
		s.Clients = append(s.Clients, "client-2")
		return s, nil
	})
	checkErr(t, "b.UpdateSession", err, nil)
	gotSess, err := a.GetSession(ctx, sess.ID)
	checkErr(t, "a.GetSession", err, nil)
	if !slices.Contains(gotSess.Clients, "client-2") {
		t.Errorf("a.GetSession after b.UpdateSession: Clients = %q; want client-2 among them", gotSess.Clients)
	}
	checkErr(t, "b.DeleteSession", b.DeleteSession(ctx, sess.ID), nil)
	_, err = a.GetSession(ctx, sess.ID)
	checkErr(t, "a.GetSession after b.DeleteSession", err, storage.ErrNotFound)
	_, err = a.GetRefreshToken(ctx, rt.Hash)
	checkErr(t, "a.GetRefreshToken after b.DeleteSession", err, storage.ErrNotFound)

	key := newSigningKey("kid-1", created, storage.KeyActive)
	checkErr(t, "a.UpdateSigningKeys", a.UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{key}, nil
	}), nil)
	keys, err := b.ListSigningKeys(ctx)
	checkErr(t, "b.ListSigningKeys", err, nil)
	checkEqual(t, "b.ListSigningKeys", keys, []storage.SigningKey{key})
}

// testUpdateSessionRace has every node (or the one store) add a portal to one
// session at once: an update that read a stale session would drop another's
// portal.
func testUpdateSessionRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	sess := newSession("session-raced", future)
	sess.Clients = nil
	checkErr(t, "CreateSession", nodes[0].CreateSession(ctx, sess), nil)
	const n = 16
	errs := raceNodes(nodes, n, func(i int, s storage.Store) error {
		return s.UpdateSession(ctx, sess.ID, func(old storage.Session) (storage.Session, error) {
			old.Clients = append(old.Clients, fmt.Sprintf("client-%02d", i))
			return old, nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("UpdateSession #%d", i), err, nil)
	}
	got, err := nodes[len(nodes)-1].GetSession(ctx, sess.ID)
	checkErr(t, "GetSession", err, nil)
	checkAllAdded(t, fmt.Sprintf("after %d racing UpdateSession on %d stores, Clients", n, len(nodes)), got.Clients, "client-%02d", n)
}

// testUpdateClientRace is testUpdateSessionRace for a client's redirect URIs.
func testUpdateClientRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	c := newClient("client-raced")
	c.RedirectURIs = nil
	checkErr(t, "CreateClient", nodes[0].CreateClient(ctx, c), nil)
	const n = 16
	errs := raceNodes(nodes, n, func(i int, s storage.Store) error {
		return s.UpdateClient(ctx, c.ID, func(old storage.Client) (storage.Client, error) {
			old.RedirectURIs = append(old.RedirectURIs, fmt.Sprintf("https://p%02d.example/cb", i))
			return old, nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("UpdateClient #%d", i), err, nil)
	}
	got, err := nodes[len(nodes)-1].GetClient(ctx, c.ID)
	checkErr(t, "GetClient", err, nil)
	checkAllAdded(t, fmt.Sprintf("after %d racing UpdateClient on %d stores, RedirectURIs", n, len(nodes)), got.RedirectURIs, "https://p%02d.example/cb", n)
}

// checkAllAdded fails t unless got holds fmt.Sprintf(format, i) for every i
// below n, each once.
func checkAllAdded(t *testing.T, what string, got []string, format string, n int) {
	t.Helper()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf(format, i)
	}
	sorted := slices.Sorted(slices.Values(got))
	if !slices.Equal(sorted, want) {
		t.Errorf("%s = %q (%d); want all %d, each once (a lost update drops some)", what, sorted, len(sorted), n)
	}
}

func testClaimRefreshTokenRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	rt := newRefreshToken("rt-raced", "grant-1", "session-1", future)
	checkErr(t, "CreateRefreshToken", nodes[0].CreateRefreshToken(ctx, rt), nil)
	now := time.Now()
	errs := raceNodes(nodes, 16, func(_ int, s storage.Store) error {
		got, err := s.ClaimRefreshToken(ctx, rt.Hash, now)
		if (err == nil || errors.Is(err, storage.ErrAlreadyUsed)) && got.ID != rt.ID {
			return fmt.Errorf("claimed token %q; want %q (err %v)", got.ID, rt.ID, err)
		}
		return err
	})
	checkSingleWinner(t, fmt.Sprintf("ClaimRefreshToken on %d stores", len(nodes)), errs)
}

func testClaimAuthCodeRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	r := newAuthRequest("req-raced", []byte("code-raced"), future)
	checkErr(t, "CreateAuthRequest", nodes[0].CreateAuthRequest(ctx, r), nil)
	now := time.Now()
	errs := raceNodes(nodes, 16, func(_ int, s storage.Store) error {
		got, err := s.ClaimAuthCode(ctx, r.CodeHash, now)
		if (err == nil || errors.Is(err, storage.ErrAlreadyUsed)) && got.ID != r.ID {
			return fmt.Errorf("claimed request %q; want %q (err %v)", got.ID, r.ID, err)
		}
		return err
	})
	checkSingleWinner(t, fmt.Sprintf("ClaimAuthCode on %d stores", len(nodes)), errs)
}

// testRotateSigningKeysRace has every node decide at once that the active key
// is due and rotate it, as each node's key manager would: the rotation
// happens once, whoever wins, and the others see it done.
func testRotateSigningKeysRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	first := newSigningKey("kid-first", created, storage.KeyActive)
	first.ActivatedAt = ptr(created)
	checkErr(t, "UpdateSigningKeys(first key)", nodes[0].UpdateSigningKeys(ctx, func([]storage.SigningKey) ([]storage.SigningKey, error) {
		return []storage.SigningKey{first}, nil
	}), nil)

	const n = 12
	rotated := make([]bool, n)
	errs := raceNodes(nodes, n, func(i int, s storage.Store) error {
		return s.UpdateSigningKeys(ctx, func(keys []storage.SigningKey) ([]storage.SigningKey, error) {
			// The updater may run more than once; the last run counts.
			rotated[i] = false
			for _, k := range keys {
				if k.State == storage.KeyActive && k.ID != first.ID {
					return keys, nil // another node rotated already
				}
			}
			out := make([]storage.SigningKey, 0, len(keys)+1)
			for _, k := range keys {
				if k.State == storage.KeyActive {
					k.State = storage.KeyRetired
					k.RetiredAt = ptr(created.Add(time.Hour))
					k.ExpiresAt = ptr(created.Add(2 * time.Hour))
				}
				out = append(out, k)
			}
			next := newSigningKey(fmt.Sprintf("kid-%02d", i), created.Add(time.Duration(i+1)*time.Second), storage.KeyActive)
			next.ActivatedAt = ptr(created.Add(time.Hour))
			rotated[i] = true
			return append(out, next), nil
		})
	})
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("UpdateSigningKeys #%d", i), err, nil)
	}
	winner := -1
	for i, r := range rotated {
		if r {
			if winner >= 0 {
				t.Errorf("UpdateSigningKeys #%d and #%d both rotated", winner, i)
			}
			winner = i
		}
	}
	keys, err := nodes[len(nodes)-1].ListSigningKeys(ctx)
	checkErr(t, "ListSigningKeys", err, nil)
	var states []string
	for _, k := range keys {
		states = append(states, k.ID+"="+string(k.State))
	}
	want := []string{first.ID + "=" + string(storage.KeyRetired), fmt.Sprintf("kid-%02d=%s", winner, storage.KeyActive)}
	if winner < 0 || !slices.Equal(states, want) {
		t.Errorf("after %d racing rotations on %d stores, keys = %q; want %q (one rotation)", n, len(nodes), states, want)
	}
}

// testDeleteExpiredRace runs the collector on every node at once: no errors,
// every expired row counted once, every live row kept.
func testDeleteExpiredRace(t *testing.T, nodes []storage.Store) {
	ctx := t.Context()
	const perTable = 40
	for i := range perTable {
		id := fmt.Sprintf("%02d", i)
		checkErr(t, "CreateAuthRequest", nodes[0].CreateAuthRequest(ctx, newAuthRequest("req-"+id, []byte("code-"+id), past)), nil)
		checkErr(t, "CreateAccessToken", nodes[1].CreateAccessToken(ctx, newAccessToken("at-"+id, "grant-1", "session-1", past)), nil)
		checkErr(t, "CreateRefreshToken", nodes[0].CreateRefreshToken(ctx, newRefreshToken("rt-"+id, "grant-1", "session-1", past)), nil)
		checkErr(t, "CreateSession", nodes[1].CreateSession(ctx, newSession("session-"+id, past)), nil)
	}
	live := newSession("session-live", future)
	checkErr(t, "CreateSession(live)", nodes[0].CreateSession(ctx, live), nil)

	now := time.Now()
	counts := make([]int64, 2*len(nodes))
	errs := raceNodes(nodes, len(counts), func(i int, s storage.Store) error {
		var err error
		counts[i], err = s.DeleteExpired(ctx, now)
		return err
	})
	var total int64
	for i, err := range errs {
		checkErr(t, fmt.Sprintf("DeleteExpired #%d", i), err, nil)
		total += counts[i]
	}
	if total != 4*perTable {
		t.Errorf("DeleteExpired on %d stores at once deleted %d rows in all (%v); want %d", len(nodes), total, counts, 4*perTable)
	}
	// A collector that skipped rows another one held left them to it: once
	// all have finished, nothing is left.
	n, err := nodes[0].DeleteExpired(ctx, now)
	checkErr(t, "DeleteExpired after the race", err, nil)
	if n != 0 {
		t.Errorf("DeleteExpired after the race = %d; want 0", n)
	}
	_, err = nodes[2%len(nodes)].GetSession(ctx, live.ID)
	checkErr(t, "GetSession(live) after DeleteExpired", err, nil)
}
