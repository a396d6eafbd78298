package idp_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAccountPage: a citizen registers straight from /account, sees only the
// masked number, and verifies the card there.
func TestAccountPage(t *testing.T) {
	n := startNode(t)
	br := newBrowser(t)
	p := br.get(n.issuer + "/account")
	if p.status != http.StatusOK || p.url.Path != "/login" {
		t.Fatalf("/account without a session: %d at %s; want the login page", p.status, p.url)
	}
	acct := register(t, br, n, p, zhangSan, zhangSanSSN, goodPass)
	if acct.status != http.StatusOK || acct.url.Path != "/account" {
		t.Fatalf("after registration: %d at %s; want /account", acct.status, acct.url)
	}
	if !strings.Contains(acct.body, "110***********0017") || strings.Contains(acct.body, zhangSanSSN) || !strings.Contains(acct.body, "Level 1 (real name)") {
		t.Errorf("account page does not show the masked number and level 1 (or shows the full number):\n%s", acct.body)
	}
	// A wrong card number changes nothing.
	bad := br.submit(n.issuer, formFor(t, acct, "/account/card"), map[string]string{"card_number": "A00000004"})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "does not match") {
		t.Errorf("wrong card number: %d", bad.status)
	}
	ok := br.submit(n.issuer, formFor(t, bad, "/account/card"), map[string]string{"card_number": "A00000001"})
	if ok.status != http.StatusOK || !strings.Contains(ok.body, "Your card is verified") || !strings.Contains(ok.body, "Level 2 (real card)") || !strings.Contains(ok.body, "110105") {
		t.Errorf("card verification from the account page: %d:\n%s", ok.status, ok.body)
	}
	// The form needs its CSRF token.
	f := formFor(t, ok, "/account/card")
	f.fields.Set("csrf_token", "")
	if got := br.submit(n.issuer, f, map[string]string{"card_number": "A00000001"}); got.status != http.StatusForbidden {
		t.Errorf("account form without CSRF token: %d; want 403", got.status)
	}
	assertNoPersonalData(t, n)
}
