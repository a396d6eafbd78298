package login

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/policies/assurance"
)

// fakeECard is a platform whose tickets, licence answer and bindings a
// test sets.
type fakeECard struct {
	mu      sync.Mutex
	made    []connectors.TicketRequest
	state   connectors.TicketState
	number  citizenid.Number
	down    bool // every call fails with ErrUnavailable
	status  connectors.CardStatus
	found   bool
	binds   []connectors.Binding
	revoked []string
}

var errDown = fmt.Errorf("fake platform: %w", connectors.ErrUnavailable)

func (f *fakeECard) CreateLoginTicket(_ context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return connectors.LoginTicket{}, errDown
	}
	f.made = append(f.made, req)
	id := fmt.Sprintf("ticket-%016d", len(f.made))
	return connectors.LoginTicket{ID: id, ExpiresAt: time.Now().Add(time.Minute), Payload: "https://platform.example/v1/tickets/" + id}, nil
}

func (f *fakeECard) LoginTicketStatus(context.Context, string) (connectors.TicketStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return connectors.TicketStatus{}, errDown
	}
	return connectors.TicketStatus{State: f.state, Number: f.number, BindingID: "b1", ConfirmedAt: time.Now()}, nil
}

func (f *fakeECard) Licence(_ context.Context, n citizenid.Number) (connectors.Licence, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return connectors.Licence{}, false, errDown
	}
	return connectors.Licence{Number: n, Status: f.status}, f.found, nil
}

func (f *fakeECard) Bindings(_ context.Context, n *citizenid.Number) ([]connectors.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []connectors.Binding
	for _, b := range f.binds {
		if n == nil || b.Number == *n {
			out = append(out, b)
		}
	}
	return out, nil
}

func (f *fakeECard) RevokeBinding(_ context.Context, id string, owner *citizenid.Number) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.binds {
		if b.ID == id && (owner == nil || b.Number == *owner) {
			f.revoked = append(f.revoked, id)
			return nil
		}
	}
	return connectors.ErrBindingNotFound
}

func (f *fakeECard) set(change func(*fakeECard)) {
	f.mu.Lock()
	change(f)
	f.mu.Unlock()
}

// ecardEnv is a login node whose connector has the fake e-card; licences
// false leaves the connector without LicenceFetcher.
func ecardEnv(t *testing.T, licences bool) (*env, *fakeECard) {
	t.Helper()
	num, _ := citizenid.Parse(zhangNumber)
	f := &fakeECard{state: connectors.TicketPending, number: num, status: connectors.CardNormal, found: true}
	e := newEnv(t, func(c *Config) {
		c.Tickets, c.Bindings = f, f
		if licences {
			c.Licences = f
		}
	})
	return e, f
}

var scriptRE = regexp.MustCompile(`<script>([^<]*)</script>`)

// TestECardPage: the first page offers the e-card (only with a connector
// that has login tickets); the e-card page makes one ticket for the
// portal's name, shows it as QR image, text and link, and runs only the
// script whose hash its CSP names; a reload shows the same ticket.
func TestECardPage(t *testing.T) {
	e, f := ecardEnv(t, true)
	b := e.browser()
	id := b.request("tax", "", nil)
	first := b.get(LoginURL(id))
	if !strings.Contains(first.body, "/login/ecard?authRequestID="+id) {
		t.Fatalf("the first page does not offer the e-card login:\n%s", first.body)
	}
	r, _ := http.NewRequest(http.MethodGet, e.srv.URL+stepURL(ecardPath, id), nil)
	res, err := b.c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	page := b.get(stepURL(ecardPath, id))
	page.want(t, "e-card page", http.StatusOK, "")
	if len(f.made) != 1 || f.made[0].Portal != "Portal tax" || f.made[0].ClientID != "tax" {
		t.Errorf("tickets made: %+v; want one for Portal tax (a reload makes none)", f.made)
	}
	for _, want := range []string{`src="data:image/png;base64,`, "https://platform.example/v1/tickets/ticket-0000000000000001", `http-equiv="refresh"`, `action="/login/ecard"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the e-card page lacks %q:\n%s", want, page.body)
		}
	}
	m := scriptRE.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no script on the e-card page")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		!strings.Contains(csp, "img-src data:") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q does not allow the page's script by its hash, its image and its poll", csp)
	}

	none := newEnv(t, nil)
	nb := none.browser()
	nid := nb.request("tax", "", nil)
	if strings.Contains(nb.get(LoginURL(nid)).body, ecardPath) {
		t.Error("the first page offers the e-card login without a connector that has it")
	}
	nb.get(stepURL(ecardPath, nid)).want(t, "e-card page without the e-card", http.StatusNotFound, "")
}

// TestECardConfirmed: a confirmed ticket logs the citizen in at level 3
// (amr swk, device-bound: no card or face page) and records the card
// check; pending, refused and expired tickets, the missing CSRF token, the
// other browser and the spent poll budget do not.
func TestECardConfirmed(t *testing.T) {
	e, f := ecardEnv(t, true)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("first-party", assurance.LoA3.ACR(), nil)
	page := b.get(stepURL(ecardPath, id))
	page.want(t, "e-card page", http.StatusOK, "")

	b.post(ecardPath, form(t, id, page)).shows(t, e, "pending ticket", "ecard.not_yet")
	b.post(ecardPath, url.Values{"authRequestID": {id}}).want(t, "no CSRF token", http.StatusForbidden, "")
	if st := status(t, b, id); st != "pending" {
		t.Errorf("status = %q; want pending", st)
	}
	other := e.browser()
	other.get(stepURL(ecardStatusPath, id)).want(t, "another browser's status", http.StatusForbidden, "")
	other.get(stepURL(ecardPath, id)).want(t, "another browser's page", http.StatusForbidden, "")

	f.set(func(f *fakeECard) { f.state = connectors.TicketConfirmed })
	other.post(ecardPath, form(t, id, page)).want(t, "another browser posts a confirmed ticket", http.StatusForbidden, "")
	b.post(ecardPath, form(t, id, page)).want(t, "confirmed", http.StatusSeeOther, "/callback?")
	req := e.authRequest(id)
	if !req.Done || req.ACR != assurance.LoA3.ACR() || len(req.AMR) != 1 || req.AMR[0] != assurance.AMRSoftKey || req.AccountID != a.ID {
		t.Errorf("completed request: done %v, acr %q, amr %v, account %q; want loa:3 [swk] %s", req.Done, req.ACR, req.AMR, req.AccountID, a.ID)
	}
	acct, _ := e.store.GetAccount(t.Context(), a.ID)
	if acct.CardStatus != string(connectors.CardNormal) || acct.CardVerifiedAt == nil || !acct.CardVerifiedAt.Equal(e.now) {
		t.Errorf("card check on the account: %q at %v; want normal now", acct.CardStatus, acct.CardVerifiedAt)
	}
	b.post(ecardPath, form(t, id, page)).want(t, "the ticket once more", http.StatusBadRequest, "")

	for _, tc := range []struct {
		state  connectors.TicketState
		status int
		key    string
	}{
		{connectors.TicketRefused, http.StatusForbidden, "ecard.refused"},
		{connectors.TicketExpired, http.StatusGone, "ecard.expired"},
	} {
		id := b.request("first-party", "", nil)
		page := b.get(stepURL(ecardPath, id))
		f.set(func(f *fakeECard) { f.state = tc.state })
		res := b.post(ecardPath, form(t, id, page))
		res.want(t, string(tc.state), tc.status, "")
		res.shows(t, e, string(tc.state), tc.key)
		if !strings.Contains(res.body, "new=1") {
			t.Errorf("%s: no try-again link", tc.state)
		}
		if e.authRequest(id).Done {
			t.Errorf("%s ticket completed the login", tc.state)
		}
	}

	f.set(func(f *fakeECard) { f.state = connectors.TicketPending })
	id = b.request("first-party", "", nil)
	b.get(stepURL(ecardPath, id)).want(t, "e-card page", http.StatusOK, "")
	if _, err := e.h.updateState(t.Context(), id, func(st *state) error { st.ECard.Polls = ecardMaxPolls; return nil }); err != nil {
		t.Fatal(err)
	}
	b.get(stepURL(ecardStatusPath, id)).want(t, "status past the poll budget", http.StatusTooManyRequests, "")
	b.get(stepURL(ecardPath, id)).want(t, "page past the poll budget", http.StatusTooManyRequests, "")
}

func status(t *testing.T, b *browser, id string) string {
	t.Helper()
	res := b.get(stepURL(ecardStatusPath, id))
	var out struct{ State string }
	if err := json.Unmarshal([]byte(res.body), &out); err != nil {
		t.Fatalf("status: %d %q", res.status, res.body)
	}
	return out.State
}

// TestECardCardStatus: the card's status now decides: from the licence
// data when the connector has it (a lost card, no card, the platform
// away: nothing written), else from the account's stored card check.
func TestECardCardStatus(t *testing.T) {
	confirmed := func(e *env, f *fakeECard) (response, string) {
		b := e.browser()
		id := b.request("first-party", "", nil)
		page := b.get(stepURL(ecardPath, id))
		f.set(func(f *fakeECard) { f.state = connectors.TicketConfirmed })
		return b.post(ecardPath, form(e.t, id, page)), id
	}
	t.Run("reported lost", func(t *testing.T) {
		e, f := ecardEnv(t, true)
		a := e.account(zhangName, zhangNumber, nil)
		f.set(func(f *fakeECard) { f.status = connectors.CardReportedLost })
		res, _ := confirmed(e, f)
		res.want(t, "lost card", http.StatusForbidden, "")
		res.shows(t, e, "lost card", "card.status.reported_lost")
		if acct, _ := e.store.GetAccount(t.Context(), a.ID); acct.CardStatus != string(connectors.CardReportedLost) || acct.CardVerifiedAt != nil {
			t.Errorf("account card status %q verified %v; want reported_lost, not verified", acct.CardStatus, acct.CardVerifiedAt)
		}
	})
	t.Run("no card", func(t *testing.T) {
		e, f := ecardEnv(t, true)
		e.account(zhangName, zhangNumber, nil)
		f.set(func(f *fakeECard) { f.found = false })
		res, _ := confirmed(e, f)
		res.want(t, "no card", http.StatusForbidden, "")
		res.shows(t, e, "no card", "card.status.unknown")
	})
	t.Run("platform away", func(t *testing.T) {
		e, f := ecardEnv(t, true)
		a := e.account(zhangName, zhangNumber, nil)
		b := e.browser()
		id := b.request("first-party", "", nil)
		page := b.get(stepURL(ecardPath, id))
		f.set(func(f *fakeECard) { f.state, f.down = connectors.TicketConfirmed, true })
		res := b.post(ecardPath, form(t, id, page))
		res.want(t, "platform away", http.StatusServiceUnavailable, "")
		res.shows(t, e, "platform away", "err.unavailable")
		if acct, _ := e.store.GetAccount(t.Context(), a.ID); acct.CardCheckedAt != nil || e.authRequest(id).Done {
			t.Error("the platform away left a card check or a completed login")
		}
		f.set(func(f *fakeECard) { f.down = false })
		b.post(ecardPath, form(t, id, page)).want(t, "platform back", http.StatusSeeOther, "/callback?")
	})
	t.Run("no licence data: the stored check", func(t *testing.T) {
		e, f := ecardEnv(t, false)
		e.account(zhangName, zhangNumber, cardChecked(e.now.Add(-time.Hour)))
		res, _ := confirmed(e, f)
		res.want(t, "stored normal card", http.StatusSeeOther, "/callback?")
		e2, f2 := ecardEnv(t, false)
		e2.account(zhangName, zhangNumber, nil)
		res, _ = confirmed(e2, f2)
		res.want(t, "never checked card", http.StatusForbidden, "")
	})
	t.Run("no account", func(t *testing.T) {
		e, f := ecardEnv(t, true)
		res, id := confirmed(e, f)
		res.want(t, "no account", http.StatusForbidden, "")
		res.shows(t, e, "no account", "ecard.noaccount")
		if e.authRequest(id).Done {
			t.Error("a holder without an account completed the login")
		}
	})
}

// TestECardTicketLimit: five tickets per request; a platform that cannot
// make one counts none of them.
func TestECardTicketLimit(t *testing.T) {
	e, f := ecardEnv(t, true)
	b := e.browser()
	id := b.request("first-party", "", nil)
	f.set(func(f *fakeECard) { f.down = true })
	b.get(stepURL(ecardPath, id)).want(t, "platform away", http.StatusServiceUnavailable, "")
	f.set(func(f *fakeECard) { f.down = false })
	for i := 1; i <= ecardMaxTickets; i++ {
		b.get(ecardRetryURL(id)).want(t, fmt.Sprintf("ticket %d", i), http.StatusOK, "")
	}
	b.get(ecardRetryURL(id)).want(t, "one ticket too many", http.StatusTooManyRequests, "")
	if len(f.made) != ecardMaxTickets {
		t.Errorf("%d tickets made; want %d", len(f.made), ecardMaxTickets)
	}
}

// TestECardAccountBindings: the account page lists the citizen's own
// bindings and revokes one only as its owner.
func TestECardAccountBindings(t *testing.T) {
	e, f := ecardEnv(t, true)
	a := e.account(zhangName, zhangNumber, nil)
	zhang, _ := citizenid.Parse(zhangNumber)
	li, _ := citizenid.Parse(liNumber)
	f.set(func(f *fakeECard) {
		f.binds = []connectors.Binding{
			{ID: "bind-zhang", Number: zhang, DeviceName: "Zhang phone", BoundAt: e.now.Add(-time.Hour)},
			{ID: "bind-li", Number: li, DeviceName: "Li phone", BoundAt: e.now.Add(-time.Hour)},
		}
	})
	b := e.browser()
	b.session(a.ID, e.now, assurance.AMRPassword)
	if home := b.get(selfPath); !strings.Contains(home.body, accountECardPath) {
		t.Errorf("the account page does not link to the e-card page:\n%s", home.body)
	}
	page := b.get(accountECardPath)
	page.want(t, "account e-card page", http.StatusOK, "")
	if !strings.Contains(page.body, "Zhang phone") || strings.Contains(page.body, "Li phone") {
		t.Fatalf("the account page does not list exactly the citizen's binding:\n%s", page.body)
	}
	tok := field(t, csrfField, page)
	b.post("/account/ecard/revoke", url.Values{"csrf_token": {tok}, "binding": {"bind-li"}}).want(t, "another's binding", http.StatusNotFound, "")
	b.post("/account/ecard/revoke", url.Values{"binding": {"bind-zhang"}}).want(t, "no CSRF token", http.StatusForbidden, "")
	if len(f.revoked) != 0 {
		t.Fatalf("revoked %v; want none yet", f.revoked)
	}
	res := b.post("/account/ecard/revoke", url.Values{"csrf_token": {tok}, "binding": {"bind-zhang"}})
	res.want(t, "own binding", http.StatusOK, "")
	res.shows(t, e, "own binding", "account.binding.revoked.notice")
	if len(f.revoked) != 1 || f.revoked[0] != "bind-zhang" {
		t.Errorf("revoked %v; want [bind-zhang]", f.revoked)
	}
}

// TestECardUsedOnce: two requests that both loaded the login state and
// both saw the ticket confirmed identify the citizen once: the second's
// compare-and-swap finds the ticket used (here the first stopped at the
// consent page, so the state is still there) and logs nobody in.
func TestECardUsedOnce(t *testing.T) {
	e, f := ecardEnv(t, true)
	e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("tax", "", nil) // not exempt: the login stops at consent
	b.get(stepURL(ecardPath, id)).want(t, "e-card page", http.StatusOK, "")
	f.set(func(f *fakeECard) { f.state = connectors.TicketConfirmed })
	stale := e.authRequest(id)
	st, err := decodeState(stale.LoginState)
	if err != nil || st.ECard == nil {
		t.Fatalf("login state %+v, %v; want a ticket", st, err)
	}
	ts := connectors.TicketStatus{State: connectors.TicketConfirmed, Number: f.number, BindingID: "b1"}
	confirm := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, e.srv.URL+ecardPath, nil)
		for _, c := range b.c.Jar.Cookies(b.u("/")) {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		e.h.ecardConfirmed(w, r, stale, *st.ECard, ts)
		return w
	}
	if w := confirm(); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), consentPath) {
		t.Fatalf("first: %d %q; want 303 to the consent page", w.Code, w.Header().Get("Location"))
	}
	if w := confirm(); w.Code != http.StatusConflict {
		t.Errorf("second, with the same stale state: %d %q; want 409 (the ticket is used)", w.Code, w.Header().Get("Location"))
	}
}
