package login

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// TestPasswordLogin: the right number and password complete a level-1
// request of an exempt client at once: the request is done for the
// account with pwd, and the browser goes to the protocol callback.
func TestPasswordLogin(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("first-party", "", nil)
	// Full-width digits from a Chinese input method are folded.
	res := b.login(id, "１１０１０５ 199003070017", testPass)
	res.want(t, "password login", http.StatusSeeOther, "/callback?")
	got := e.authRequest(id)
	if !got.Done || got.AccountID != a.ID || got.ACR != assurance.LoA1.ACR() || strings.Join(got.AMR, " ") != assurance.AMRPassword {
		t.Errorf("request after login: done %v, account %q, acr %q, amr %v; want done for %s at level 1 with pwd", got.Done, got.AccountID, got.ACR, got.AMR, a.ID)
	}
	if !e.h.HoldsSession(sessionRequest(b), got.SessionID) {
		t.Errorf("the browser does not hold the session %q the request was completed with", got.SessionID)
	}
	// The first page again: the request is done, on to the callback.
	b.get(LoginURL(id)).want(t, "first page of a done request", http.StatusFound, "/callback?")
}

// sessionRequest is a request carrying b's cookies.
func sessionRequest(b *browser) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+"/", nil)
	for _, c := range b.c.Jar.Cookies(b.u("/")) {
		r.AddCookie(c)
	}
	return r
}

// TestPasswordLoginRefusals: what the password form refuses, each with a
// page that says why and nothing completed.
func TestPasswordLoginRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Lockout.PasswordFailures = 2 })
	e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("first-party", "", nil)
	page := b.get(LoginURL(id))
	page.want(t, "first page", http.StatusOK, "")
	page.shows(t, e, "first page", "register.title")

	t.Run("csrf missing", func(t *testing.T) {
		res := b.post("/login/password", url.Values{"authRequestID": {id}, "ssn": {zhangNumber}, "password": {testPass}})
		res.want(t, "no csrf token", http.StatusForbidden, "")
		res.shows(t, e, "no csrf token", "err.csrf")
	})
	t.Run("other browser", func(t *testing.T) {
		other := e.browser()
		res := other.post("/login/password", form(t, id, page, "ssn", zhangNumber, "password", testPass))
		res.want(t, "another browser", http.StatusForbidden, "")
		res.shows(t, e, "another browser", "err.otherbrowser")
	})
	t.Run("unknown request", func(t *testing.T) {
		res := b.get(LoginURL("no-such-request"))
		res.want(t, "unknown request", http.StatusBadRequest, "")
		res.shows(t, e, "unknown request", "err.expired")
	})
	for _, tc := range []struct{ name, number, key string }{
		{"short number", "11010519900307", "err.number.length"},
		{"letters", "11010519900307001A", "err.number.characters"},
		{"wrong check character", "110105199003070018", "err.number.check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post("/login/password", form(t, id, page, "ssn", tc.number, "password", testPass))
			res.want(t, tc.name, http.StatusBadRequest, "")
			res.shows(t, e, tc.name, tc.key)
		})
	}
	t.Run("wrong password, then locked", func(t *testing.T) {
		for i := range 2 {
			res := b.post("/login/password", form(t, id, page, "ssn", zhangNumber, "password", "wrong"))
			res.want(t, "wrong password "+string(rune('1'+i)), http.StatusUnauthorized, "")
			res.shows(t, e, "wrong password", "err.credentials")
		}
		// The limit holds even for the right password.
		res := b.post("/login/password", form(t, id, page, "ssn", zhangNumber, "password", testPass))
		res.want(t, "third attempt", http.StatusTooManyRequests, "")
		res.shows(t, e, "third attempt", "err.locked")
	})
	t.Run("unregistered number answers as a wrong password", func(t *testing.T) {
		res := b.post("/login/password", form(t, id, page, "ssn", liNumber, "password", testPass))
		res.want(t, "unregistered", http.StatusUnauthorized, "")
		res.shows(t, e, "unregistered", "err.credentials")
	})
	if e.authRequest(id).Done {
		t.Errorf("a refused login completed the request")
	}
}

// TestFormRate: login form posts beyond the per-address bucket get 429
// before any check.
func TestFormRate(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Lockout.FormRate, c.Lockout.FormBurst = 0.001, 2 })
	b := e.browser()
	id := b.request("first-party", "", nil)
	page := b.get(LoginURL(id))
	for range 2 {
		b.post("/login/password", form(t, id, page, "ssn", "1", "password", "x")).want(t, "within the burst", http.StatusBadRequest, "")
	}
	res := b.post("/login/password", form(t, id, page, "ssn", "1", "password", "x"))
	res.want(t, "over the burst", http.StatusTooManyRequests, "")
	res.shows(t, e, "over the burst", "err.rate")
}

// TestPromptNoneWithoutSession: prompt=none without a session that
// answers goes back to the portal with login_required, no page.
func TestPromptNoneWithoutSession(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	id := b.request("first-party", "", func(r *storage.AuthRequest) { r.Prompt = []string{"none"} })
	b.get(LoginURL(id)).want(t, "prompt=none", http.StatusFound, "/rp-error?")
	if res := b.get(LoginURL(id)); !strings.Contains(res.location, "error=login_required") {
		t.Errorf("prompt=none: location %q; want error=login_required", res.location)
	}
	if !e.obs.saw("sso/login_required") {
		t.Errorf("prompt=none not counted as sso/login_required: %v", e.obs.logins)
	}
}

// TestBodies: a form over the cap is refused with 413 before a handler
// reads it, a multipart body (but the photo upload) with 415, each with a
// page saying what to do.
func TestBodies(t *testing.T) {
	e := newEnv(t, nil)
	b := e.browser()
	id := b.request("first-party", "", nil)
	page := b.get(LoginURL(id))
	res := b.post("/login/password", form(t, id, page, "ssn", zhangNumber, "password", strings.Repeat("x", MaxFormBytes)))
	res.want(t, "form over the cap", http.StatusRequestEntityTooLarge, "")
	res.shows(t, e, "form over the cap", "err.form.size")
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login/password", strings.NewReader("--x--\r\n"))
	r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	res = b.do(r)
	res.want(t, "multipart login form", http.StatusUnsupportedMediaType, "")
	res.shows(t, e, "multipart login form", "err.form.type")
}
