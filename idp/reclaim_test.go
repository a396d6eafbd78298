package idp_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

const (
	zhaoLiu     = "赵六"
	zhaoLiuSSN  = "510104200002290046" // a demo holder nobody registers in these tests
	squatPass   = "squatter pass 99"
	zhangCard   = "A00000001"
	wrongCard   = "A00000004" // 赵六's card: valid form, not 张三's
	reclaimPath = "/login/reclaim"
)

// loginShape replaces the auth request id in a login URL, so that the
// shape of two answers can be compared.
func loginShape(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("Location %q: %v", location, err)
	}
	q := u.Query()
	if q.Get("authRequestID") == "" {
		t.Fatalf("Location %q names no auth request", location)
	}
	q.Set("authRequestID", "ID")
	u.RawQuery = q.Encode()
	return u.String()
}

// TestRegisterAnswersIdentical: at the real-name step a registered number
// and an unregistered one get the same answer, byte for byte, both when
// the name matches (303 to the password page) and when it does not (401).
// Before the fix the registered number answered 409 "already registered".
func TestRegisterAnswersIdentical(t *testing.T) {
	f := newFixture(t) // 张三 is registered
	n := f.n
	br := newBrowser(t, confRedirect, n.issuer+"/login/password-setup")
	p := f.conf.authorize(br, "s", "n", oauth2.GenerateVerifier())
	form := formFor(t, p, "/login/register")

	registered := br.submit(n.issuer, form, map[string]string{"name": zhangSan, "ssn": zhangSanSSN})
	unregistered := br.submit(n.issuer, form, map[string]string{"name": zhaoLiu, "ssn": zhaoLiuSSN})
	if registered.status != http.StatusSeeOther || !strings.HasPrefix(registered.location, "/login/password-setup?") {
		t.Fatalf("registered number, matching name: %d to %q; want 303 to the password page:\n%s", registered.status, registered.location, registered.body)
	}
	if registered.status != unregistered.status || registered.location != unregistered.location || registered.body != unregistered.body {
		t.Errorf("matching name: registered answers %d %q %q; unregistered %d %q %q",
			registered.status, registered.location, registered.body, unregistered.status, unregistered.location, unregistered.body)
	}
	// A fresh request: the answers' shape is the same, too.
	p2 := f.conf.authorize(br, "s", "n", oauth2.GenerateVerifier())
	other := br.submit(n.issuer, formFor(t, p2, "/login/register"), map[string]string{"name": zhaoLiu, "ssn": zhaoLiuSSN})
	if loginShape(t, other.location) != loginShape(t, registered.location) {
		t.Errorf("Location shapes differ: %q and %q", other.location, registered.location)
	}

	wrongReg := br.submit(n.issuer, form, map[string]string{"name": "钱八", "ssn": zhangSanSSN})
	wrongUnreg := br.submit(n.issuer, form, map[string]string{"name": "钱八", "ssn": zhaoLiuSSN})
	if wrongReg.status != http.StatusUnauthorized || wrongReg.status != wrongUnreg.status || wrongReg.body != wrongUnreg.body || wrongReg.location != wrongUnreg.location {
		t.Errorf("mismatching name: registered %d, unregistered %d, bodies equal: %v", wrongReg.status, wrongUnreg.status, wrongReg.body == wrongUnreg.body)
	}
}

// TestSquattedNumberReclaimed: a squatter who knows 张三's name and number
// registers first and signs in at a portal. The real holder registers with
// the same name and number, is offered the reclaim, passes the real-card
// check, and gets the account: the holder's password works, the
// squatter's fails, the squatter's session is dead, the portal received a
// back-channel logout for it, and the event is audited with the masked
// number only.
func TestSquattedNumberReclaimed(t *testing.T) {
	n := startNode(t)
	recA := newLogoutReceiver(t, n, "portal-a", 0)
	squatter := newBrowser(t)
	_, squatSub, _ := oidcClient(t, n, squatter, "portal-a", "http://127.0.0.1:9611/cb", recA, func(p page) page {
		return register(t, squatter, n, p, zhangSan, zhangSanSSN, squatPass)
	})
	if p := squatter.get(n.issuer + "/account"); p.url.Path != "/account" {
		t.Fatalf("the squatter has no session: %d at %s", p.status, p.url)
	}

	const redB = "http://127.0.0.1:9612/cb"
	rpB := newRP(t, n, "portal-b", registerClient(t, n, admin.ClientSpec{ID: "portal-b", RedirectURIs: []string{redB}}), redB)
	holder := newBrowser(t, redB)
	v := oauth2.GenerateVerifier()
	offer := register(t, holder, n, rpB.authorize(holder, "s", "n", v), zhangSan, zhangSanSSN, goodPass)
	if offer.status != http.StatusOK || offer.url.Path != reclaimPath || !strings.Contains(offer.body, "already registered") {
		t.Fatalf("registering a taken number: %d at %s; want the reclaim page:\n%s", offer.status, offer.url, offer.body)
	}
	if !strings.Contains(offer.body, "张*") || !strings.Contains(offer.body, "110***********0017") || strings.Contains(offer.body, zhangSanSSN) {
		t.Errorf("the reclaim page does not say whose number it is (masked):\n%s", offer.body)
	}
	// Nothing changed yet: the squatter's password still works.
	if !passwordWorks(t, n, squatPass) || passwordWorks(t, n, goodPass) {
		t.Fatalf("the account changed before the card check")
	}

	done := holder.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": zhangCard})
	tok, c := exchange(t, rpB, done, v, "s")
	if tok.AccessToken == "" || c.ACR != "urn:cardsso:loa:2" {
		t.Errorf("after the reclaim: acr %q; want urn:cardsso:loa:2 (the card check passed)", c.ACR)
	}
	if !passwordWorks(t, n, goodPass) {
		t.Error("the holder's new password does not work")
	}
	if passwordWorks(t, n, squatPass) {
		t.Error("the squatter's old password still works")
	}
	if p := squatter.get(n.issuer + "/account"); p.url.Path != "/login" {
		t.Errorf("the squatter's session survived the reclaim: %d at %s", p.status, p.url)
	}
	if lt := recA.wait(); lt.Subject != squatSub {
		t.Errorf("back-channel logout for sub %q; want the squatter's session's %q", lt.Subject, squatSub)
	}
	// The holder's session is the live one.
	if p := holder.get(n.issuer + "/account"); p.url.Path != "/account" {
		t.Errorf("the holder has no session after the reclaim: %d at %s", p.status, p.url)
	}
	var audited bool
	for _, line := range strings.Split(n.logs.String(), "\n") {
		if !strings.Contains(line, "account.reclaimed") {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		audited = ev["audit"] == true && ev["number"] == "110***********0017"
	}
	if !audited {
		t.Error("no audit line account.reclaimed with the masked number")
	}
	assertNoPersonalData(t, n)
	for _, secret := range []string{squatPass} {
		if strings.Contains(n.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// passwordWorks logs 张三 in with pass at a fresh browser and reports
// whether the password was accepted.
func passwordWorks(t *testing.T, n *node, pass string) bool {
	t.Helper()
	br := newBrowser(t)
	p := br.get(n.issuer + "/account")
	got := br.submit(n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": pass})
	switch {
	case got.status == http.StatusOK && got.url.Path == "/account":
		return true
	case got.status == http.StatusUnauthorized:
		return false
	}
	t.Fatalf("password login: %d at %s:\n%s", got.status, got.url, got.body)
	return false
}

// TestReclaimWrongCard: someone who knows the name and number but not the
// card cannot take the account: a wrong card number is refused, changes
// nothing, and is counted, so that after the limit even the right card is
// refused (429) until the window ends.
func TestReclaimWrongCard(t *testing.T) {
	f := newFixture(t) // 张三 registered with goodPass
	n := f.n
	attacker, p := f.loginPage(t)
	offer := register(t, attacker, n, p, zhangSan, zhangSanSSN, squatPass)
	if offer.url.Path != reclaimPath {
		t.Fatalf("no reclaim page: %d at %s", offer.status, offer.url)
	}
	for i := 1; i <= 5; i++ {
		got := attacker.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": wrongCard})
		if got.status != http.StatusUnauthorized || !strings.Contains(got.body, "does not match") {
			t.Fatalf("wrong card, attempt %d: %d; want 401:\n%s", i, got.status, got.body)
		}
		offer = got
	}
	// Over the limit: refused before any check, even with the right card.
	locked := attacker.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": zhangCard})
	if locked.status != http.StatusTooManyRequests {
		t.Errorf("reclaim after 5 wrong cards: %d; want 429:\n%s", locked.status, locked.body)
	}
	if !passwordWorks(t, n, goodPass) || passwordWorks(t, n, squatPass) {
		t.Error("a refused reclaim changed the password")
	}
	// A malformed card number is a form error, not a check.
	bad := attacker.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": "x"})
	if bad.status != http.StatusBadRequest {
		t.Errorf("malformed card number: %d; want 400", bad.status)
	}
	// Without the CSRF token: refused.
	nf := formFor(t, offer, reclaimPath)
	nf.fields.Set("csrf_token", "")
	if got := attacker.submit(n.issuer, nf, map[string]string{"card_number": zhangCard}); got.status != http.StatusForbidden {
		t.Errorf("reclaim without CSRF token: %d; want 403", got.status)
	}
}

// TestReclaimEndsLoginsInFlight: a squatter who stopped at a portal's
// consent page, already authenticated with the old password, cannot finish
// that login after the holder reclaimed the account; the holder's own
// logins are not affected.
func TestReclaimEndsLoginsInFlight(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9613/cb"
	r := newRP(t, n, "third", registerThirdParty(t, n, admin.ClientSpec{ID: "third", Name: "Third portal", RedirectURIs: []string{red}}), red)
	squatter := newBrowser(t, red)
	ask := register(t, squatter, n, r.authorize(squatter, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, squatPass)
	if ask.url.Path != "/login/consent" {
		t.Fatalf("squatter: no consent page: %d at %s", ask.status, ask.url)
	}

	holder := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	offer := register(t, holder, n, r.authorize(holder, "h", "n", v), zhangSan, zhangSanSSN, goodPass)
	consent := holder.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": zhangCard})
	if consent.url.Path != "/login/consent" {
		t.Fatalf("holder after the reclaim: %d at %s; want the consent page (a fresh login)", consent.status, consent.url)
	}

	// The squatter presses Allow on the page shown before the reclaim.
	allow := formFor(t, ask, "/login/consent")
	got := squatter.submit(n.issuer, allow, map[string]string{"decision": "allow"})
	if got.status != http.StatusOK || got.url.Path != "/login" || strings.HasPrefix(got.location, red) {
		t.Errorf("the squatter's login in flight finished after the reclaim: %d at %s (%q)", got.status, got.url, got.location)
	}
	if p := squatter.get(n.issuer + "/account"); p.url.Path != "/login" {
		t.Errorf("the squatter got a session: %d at %s", p.status, p.url)
	}
	// The holder's login goes on.
	exchange(t, r, holder.submit(n.issuer, formFor(t, consent, "/login/consent"), map[string]string{"decision": "allow"}), v, "h")
}

// TestReclaimEndsCardStepInFlight: a squatter who stopped at a level-2
// portal's card step cannot ride on the card check the holder passed
// in the reclaim.
func TestReclaimEndsCardStepInFlight(t *testing.T) {
	n := startNode(t)
	const red2, red1 = "http://127.0.0.1:9614/cb", "http://127.0.0.1:9615/cb"
	r2 := newRP(t, n, "l2", registerClient(t, n, admin.ClientSpec{ID: "l2", RedirectURIs: []string{red2}, MinACR: "urn:cardsso:loa:2"}), red2)
	r1 := newRP(t, n, "l1", registerClient(t, n, admin.ClientSpec{ID: "l1", RedirectURIs: []string{red1}}), red1)
	squatter := newBrowser(t, red2)
	card := register(t, squatter, n, r2.authorize(squatter, "s", "n", oauth2.GenerateVerifier()), zhangSan, zhangSanSSN, squatPass)
	if card.url.Path != "/login/card" {
		t.Fatalf("squatter: no card page: %d at %s", card.status, card.url)
	}
	holder := newBrowser(t, red1)
	v := oauth2.GenerateVerifier()
	offer := register(t, holder, n, r1.authorize(holder, "h", "n", v), zhangSan, zhangSanSSN, goodPass)
	exchange(t, r1, holder.submit(n.issuer, formFor(t, offer, reclaimPath), map[string]string{"card_number": zhangCard}), v, "h")

	for _, got := range []page{
		squatter.get(card.url.String()),
		squatter.submit(n.issuer, formFor(t, card, "/login/card"), map[string]string{"card_number": zhangCard}),
	} {
		if got.url.Path != "/login" || strings.HasPrefix(got.location, red2) {
			t.Errorf("the squatter's card step finished after the reclaim: %d at %s (%q)", got.status, got.url, got.location)
		}
	}
	if p := squatter.get(n.issuer + "/account"); p.url.Path != "/login" {
		t.Errorf("the squatter got a session: %d at %s", p.status, p.url)
	}
}
