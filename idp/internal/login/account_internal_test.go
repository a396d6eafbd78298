package login

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// TestAccountPage: without a session the account page starts its own
// login, which ends back at /account; the page shows the citizen masked,
// withdraws a consent, ends another session and verifies the card, each
// refusing a post without its CSRF token and a reference that is not the
// citizen's.
func TestAccountPage(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	if err := e.store.PutConsent(t.Context(), storage.Consent{AccountID: a.ID, ClientID: "portal", Scopes: []string{"openid", "profile"}, GrantedAt: e.now}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	res := b.get(selfPath)
	res.want(t, "account page without a session", http.StatusFound, "/login?")
	u, _ := url.Parse(res.location)
	id := u.Query().Get("authRequestID")
	if req := e.authRequest(id); req.ClientID != "" || req.RedirectURI != selfPath {
		t.Fatalf("account login request: client %q, redirect %q; want CardSSO's own", req.ClientID, req.RedirectURI)
	}
	b.login(id, zhangNumber, testPass).want(t, "account login", http.StatusSeeOther, selfPath)
	page := b.get(selfPath)
	page.want(t, "account page", http.StatusOK, "")
	if !strings.Contains(page.body, "110***********0017") || strings.Contains(page.body, zhangNumber) {
		t.Errorf("the account page does not show the number masked (only):\n%s", page.body)
	}
	if !strings.Contains(page.body, "Portal portal") {
		t.Errorf("the account page does not list the consent to Portal portal")
	}
	csrf := field(t, csrfField, page)

	res = b.post("/account/consent/withdraw", url.Values{"client": {"portal"}})
	res.want(t, "withdraw without csrf", http.StatusForbidden, "")
	res = b.post("/account/consent/withdraw", url.Values{"csrf_token": {csrf}, "client": {"other"}})
	res.want(t, "withdraw an unknown consent", http.StatusNotFound, "")
	res.shows(t, e, "withdraw an unknown consent", "err.account.consent")
	res = b.post("/account/consent/withdraw", url.Values{"csrf_token": {csrf}, "client": {"portal"}})
	res.want(t, "withdraw", http.StatusOK, "")
	res.shows(t, e, "withdraw", "account.consent.withdrawn")
	if _, err := e.store.GetConsent(t.Context(), a.ID, "portal"); err == nil {
		t.Errorf("the withdrawn consent is still stored")
	}

	elsewhere := e.browser()
	other := elsewhere.session(a.ID, e.now.Add(-time.Hour), "pwd")
	stranger := e.account(liName, liNumber, nil)
	foreign := e.browser().session(stranger.ID, e.now, "pwd")
	res = b.post("/account/session/end", url.Values{"csrf_token": {csrf}, "session": {e.h.sessionRef(foreign.ID)}})
	res.want(t, "end another citizen's session", http.StatusNotFound, "")
	res.shows(t, e, "end another citizen's session", "err.account.session")
	res = b.post("/account/session/end", url.Values{"csrf_token": {csrf}, "session": {e.h.sessionRef(other.ID)}})
	res.want(t, "end my other session", http.StatusOK, "")
	res.shows(t, e, "end my other session", "account.session.ended")
	if _, live, _ := e.sessions.Current(sessionRequest(elsewhere)); live {
		t.Errorf("the ended session is still live")
	}

	res = b.post("/account/card", url.Values{"csrf_token": {csrf}, "card_number": {"x"}})
	res.want(t, "malformed card", http.StatusBadRequest, "")
	res.shows(t, e, "malformed card", "err.card.form")
	res = b.post("/account/card", url.Values{"csrf_token": {csrf}, "card_number": {zhangCard}})
	res.want(t, "verify card", http.StatusOK, "")
	res.shows(t, e, "verify card", "account.card.verified")
}

// TestLogout: without a session /logout just ends; without a hint it
// asks and ends only on a post with its CSRF token; a signed link whose
// hint names the citizen ends at once and goes where the portal asked;
// a link with a bad signature loses its destination (no open redirect).
func TestLogout(t *testing.T) {
	var mu sync.Mutex
	var ended []string
	e := newEnv(t, func(c *Config) {
		c.SessionEnded = func(_ http.ResponseWriter, _ *http.Request, s storage.Session, _ string) string {
			mu.Lock()
			ended = append(ended, s.ID)
			mu.Unlock()
			return ""
		}
	})
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	b.get("/logout").want(t, "no session", http.StatusSeeOther, "/logout/done")
	done := b.get("/logout/done")
	done.want(t, "logged out page", http.StatusOK, "")
	done.shows(t, e, "logged out page", "logout.done")

	s := b.session(a.ID, e.now, "pwd")
	page := b.get("/logout")
	page.want(t, "confirm", http.StatusOK, "")
	page.shows(t, e, "confirm", "logout.confirm")
	b.post("/logout", url.Values{}).want(t, "post without csrf", http.StatusForbidden, "")
	if !e.h.HoldsSession(sessionRequest(b), s.ID) {
		t.Fatalf("a refused logout ended the session")
	}
	b.post("/logout", url.Values{"csrf_token": {field(t, csrfField, page)}}).want(t, "confirmed", http.StatusSeeOther, "/logout/done")
	if e.h.HoldsSession(sessionRequest(b), s.ID) {
		t.Errorf("the session is live after the logout")
	}

	s = b.session(a.ID, e.now, "pwd")
	link := e.h.LogoutURL("https://portal.example/bye", "sub:"+a.ID)
	b.get(link).want(t, "signed link with the citizen's hint", http.StatusSeeOther, "https://portal.example/bye")
	if e.h.HoldsSession(sessionRequest(b), s.ID) {
		t.Errorf("the session is live after the hinted logout")
	}
	mu.Lock()
	if len(ended) != 2 {
		t.Errorf("logout fan-out called for %v; want both sessions", ended)
	}
	mu.Unlock()

	forged := strings.Replace(link, "portal.example", "evil.example", 1)
	b.get(forged).want(t, "forged link", http.StatusSeeOther, "/logout/done")
}
