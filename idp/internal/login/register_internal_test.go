package login

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/storage"
)

const newPass = "Neues-Passw0rt"

// register runs the registration's first form for request id.
func (b *browser) register(id, name, number string) response {
	b.e.t.Helper()
	page := b.get(LoginURL(id))
	return b.post("/login/register", form(b.e.t, id, page, "name", name, "ssn", number))
}

// TestRegister: a name and number the real-name check matches lead to
// the password page; a valid password creates the account (sealed number,
// blind index, the real-name check's time) and completes the request.
func TestRegister(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	id := b.request("first-party", "", nil)
	b.register(id, " "+zhangName+" ", zhangNumber).want(t, "register", http.StatusSeeOther, setupPath+"?")
	setup := b.get(stepURL(setupPath, id))
	setup.want(t, "password page", http.StatusOK, "")
	if !strings.Contains(setup.body, zhangName+" (110***********0017)") {
		t.Errorf("password page does not name the citizen with the masked number:\n%s", setup.body)
	}
	// The first page sends a pending registration back to its page.
	b.get(LoginURL(id)).want(t, "first page while pending", http.StatusFound, setupPath+"?")
	for _, tc := range []struct{ name, pw, confirm, key string }{
		{"mismatch", newPass, newPass + "x", "err.password.mismatch"},
		{"short", "Ab1!", "Ab1!", "err.password.short"},
		{"simple", "aaaaaaaaaaaa", "aaaaaaaaaaaa", "err.password.simple"},
	} {
		res := b.post(setupPath, form(t, id, setup, "password", tc.pw, "password_confirm", tc.confirm))
		res.want(t, tc.name, http.StatusBadRequest, "")
		res.shows(t, e, tc.name, tc.key)
	}
	b.post(setupPath, form(t, id, setup, "password", newPass, "password_confirm", newPass)).want(t, "set password", http.StatusSeeOther, "/callback?")
	a, err := e.store.GetAccountBySSNIndex(t.Context(), testSealer{}.BlindIndex(zhangNumber))
	if err != nil {
		t.Fatalf("account after registration: %v", err)
	}
	if a.Name != zhangName || !a.RealNameVerifiedAt.Equal(e.now) {
		t.Errorf("account: name %q, real-name check at %v; want %s at %v", a.Name, a.RealNameVerifiedAt, zhangName, e.now)
	}
	if ok, _ := password.Verify(newPass, a.PasswordHash); !ok {
		t.Errorf("the account's password is not the one set")
	}
	if got := e.authRequest(id); !got.Done || got.AccountID != a.ID {
		t.Errorf("request: done %v for %q; want done for %s", got.Done, got.AccountID, a.ID)
	}
}

// TestRegisterRefusals: a bad name, a bad number, a mismatch (the number
// not echoed), the real-name limit and a missing CSRF token.
func TestRegisterRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Lockout.RealNamePerNumber = 1 })
	b := e.browser()
	id := b.request("first-party", "", nil)
	page := b.get(LoginURL(id))
	res := b.post("/login/register", url.Values{"authRequestID": {id}, "name": {zhangName}, "ssn": {zhangNumber}})
	res.want(t, "no csrf", http.StatusForbidden, "")
	res.shows(t, e, "no csrf", "err.csrf")
	res = b.post("/login/register", form(t, id, page, "name", "", "ssn", zhangNumber))
	res.want(t, "empty name", http.StatusBadRequest, "")
	res.shows(t, e, "empty name", "err.name")
	res = b.post("/login/register", form(t, id, page, "name", strings.Repeat("张", 65), "ssn", zhangNumber))
	res.want(t, "long name", http.StatusBadRequest, "")
	res = b.post("/login/register", form(t, id, page, "name", zhangName, "ssn", "110105199013070017"))
	res.want(t, "bad birth date", http.StatusBadRequest, "")
	res.shows(t, e, "bad birth date", "err.number.birthdate")
	res = b.post("/login/register", form(t, id, page, "name", "王二", "ssn", zhangNumber))
	res.want(t, "wrong name", http.StatusUnauthorized, "")
	res.shows(t, e, "wrong name", "err.mismatch")
	if strings.Contains(res.body, zhangNumber) {
		t.Errorf("the mismatch page echoes the number")
	}
	res = b.post("/login/register", form(t, id, page, "name", zhangName, "ssn", zhangNumber))
	res.want(t, "over the real-name limit", http.StatusTooManyRequests, "")
	res.shows(t, e, "over the real-name limit", "err.locked.realname")
	// Without a pending registration the password page is the first page.
	b.get(stepURL(setupPath, id)).want(t, "password page without registration", http.StatusSeeOther, "/login?")
}

// TestRegisterTakenNumberReclaim: registering a registered number leads,
// after the password, to the reclaim page; the real card gives the
// account to the holder (new password, consents dropped, sessions ended),
// a wrong card changes nothing.
func TestRegisterTakenNumberReclaim(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	if err := e.store.PutConsent(t.Context(), storage.Consent{AccountID: a.ID, ClientID: "portal", Scopes: []string{"openid"}, GrantedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	squatter := e.browser()
	squatter.session(a.ID, e.now.Add(-time.Minute), "pwd")
	b := e.browser()
	id := b.request("first-party", "", nil)
	b.register(id, zhangName, zhangNumber).want(t, "register", http.StatusSeeOther, setupPath+"?")
	setup := b.get(stepURL(setupPath, id))
	b.post(setupPath, form(t, id, setup, "password", newPass, "password_confirm", newPass)).want(t, "password of a taken number", http.StatusSeeOther, reclaimPath+"?")
	b.get(LoginURL(id)).want(t, "first page while reclaiming", http.StatusFound, reclaimPath+"?")
	page := b.get(stepURL(reclaimPath, id))
	page.want(t, "reclaim page", http.StatusOK, "")
	res := b.post(reclaimPath, form(t, id, page, "card_number", zhaoCard))
	res.want(t, "another holder's card", http.StatusUnauthorized, "")
	res.shows(t, e, "another holder's card", "err.card.mismatch")
	if got, _ := e.store.GetAccount(t.Context(), a.ID); got.PasswordHash != a.PasswordHash {
		t.Fatalf("a failed reclaim changed the password")
	}
	b.post(reclaimPath, form(t, id, page, "card_number", " a0000 0001 ")).want(t, "the holder's card", http.StatusSeeOther, "/callback?")
	got, _ := e.store.GetAccount(t.Context(), a.ID)
	if ok, _ := password.Verify(newPass, got.PasswordHash); !ok {
		t.Errorf("after the reclaim the password is not the holder's")
	}
	if cs, _ := e.store.ListConsents(t.Context(), a.ID); len(cs) != 0 {
		t.Errorf("after the reclaim %d consents remain; want none", len(cs))
	}
	if _, live, _ := e.sessions.Current(sessionRequest(squatter)); live {
		t.Errorf("the squatter's session is still live after the reclaim")
	}
}

// TestReclaimLimit: the reclaim's card checks per account are limited
// (429 before the check, even for the holder's card).
func TestReclaimLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Reclaim.PerAccount = 1 })
	e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("first-party", "", nil)
	b.register(id, zhangName, zhangNumber)
	setup := b.get(stepURL(setupPath, id))
	b.post(setupPath, form(t, id, setup, "password", newPass, "password_confirm", newPass)).want(t, "taken number", http.StatusSeeOther, reclaimPath+"?")
	page := b.get(stepURL(reclaimPath, id))
	b.post(reclaimPath, form(t, id, page, "card_number", zhaoCard)).want(t, "first wrong card", http.StatusUnauthorized, "")
	res := b.post(reclaimPath, form(t, id, page, "card_number", zhangCard))
	res.want(t, "over the limit", http.StatusTooManyRequests, "")
	res.shows(t, e, "over the limit", "err.locked.reclaim")
}
