package idp_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
)

// TestSeed seeds citizens, sessions and clients into a node's database and
// logs a seeded citizen in through the form, as cardsso-bench does.
func TestSeed(t *testing.T) {
	n := startNode(t)
	a := n.seeder(t)
	var citizens bytes.Buffer
	res, err := a.Seed(context.Background(), benchseed.Spec{
		Accounts: 30, Sessions: 50, Clients: 3, Password: "Seeded-pass-1",
		Citizens: &citizens, CitizensCount: 5, Batch: 7,
	})
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	if res.Accounts != 30 || res.Sessions != 50 || res.Clients != 3 || res.Citizens != 5 {
		t.Fatalf("Seed = %+v; want 30 accounts, 50 sessions, 3 clients, 5 citizens written", res)
	}
	lines := strings.Split(strings.TrimSpace(citizens.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("citizens file has %d lines; want 5:\n%s", len(lines), citizens.String())
	}
	seen := map[string]bool{}
	for _, l := range lines {
		num, pw, ok := strings.Cut(l, "\t")
		if _, err := citizenid.Parse(num); !ok || err != nil || pw != "Seeded-pass-1" || seen[num] {
			t.Errorf("citizens line %q: want a new valid number, TAB, the password (%v)", l, err)
		}
		seen[num] = true
	}
	clients, err := n.admin(t).ListClients(context.Background())
	if err != nil || len(clients) != 3 {
		t.Fatalf("ListClients = %d clients, %v; want the 3 seeded", len(clients), err)
	}

	// A seeded citizen logs in with the number and the password.
	const redirect = "http://127.0.0.1:9999/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "portal", RedirectURIs: []string{redirect}})
	r := newRP(t, n, "portal", secret, redirect)
	br := newBrowser(t, redirect)
	verifier := oauth2.GenerateVerifier()
	page := r.authorize(br, "s1", "n1", verifier)
	num, pw, _ := strings.Cut(lines[2], "\t")
	code := codeFrom(t, br.submit(n.issuer, formFor(t, page, "/login/password"), map[string]string{"ssn": num, "password": pw}), redirect, "s1")
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	r.verify(tok)

	// Seeding the same numbers again is refused; --first continues after them.
	if _, err := a.Seed(context.Background(), benchseed.Spec{Accounts: 2, Password: "Seeded-pass-1"}); !errors.Is(err, admin.ErrAlreadyExists) {
		t.Errorf("Seed of the same numbers = %v; want ErrAlreadyExists", err)
	}
	if res, err := a.Seed(context.Background(), benchseed.Spec{Accounts: 2, First: 30, Password: "Seeded-pass-1"}); err != nil || res.Accounts != 2 {
		t.Errorf("Seed(First: 30) = %+v, %v; want 2 more accounts", res, err)
	}
	// Sessions need accounts of the same run; a weak password is refused.
	var ie *idp.InvalidError
	if _, err := a.Seed(context.Background(), benchseed.Spec{Sessions: 1}); !errors.As(err, &ie) {
		t.Errorf("Seed(sessions without accounts) = %v; want an InvalidError", err)
	}
	if _, err := a.Seed(context.Background(), benchseed.Spec{Accounts: 1, First: 100, Password: "short"}); !errors.As(err, &ie) {
		t.Errorf("Seed(weak password) = %v; want an InvalidError", err)
	}
}

// SeedNumber makes valid, distinct numbers that never take the demo
// holders' sequences (001-099).
func TestSeedNumber(t *testing.T) {
	seen := map[string]bool{}
	for _, i := range []int{0, 1, 9, 10, 899, 900, 8999, 9000, 123456, 999999, 1_999_999} {
		s := benchseed.Number(i)
		if _, err := citizenid.Parse(s); err != nil {
			t.Errorf("SeedNumber(%d) = %s: %v", i, s, err)
		}
		if seen[s] {
			t.Errorf("SeedNumber(%d) = %s twice", i, s)
		}
		seen[s] = true
		if seq := s[14:17]; seq < "100" {
			t.Errorf("SeedNumber(%d) = %s: sequence %s is below 100", i, s, seq)
		}
	}
}
