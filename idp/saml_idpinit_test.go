package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// optInIdPInitiated allows IdP-initiated SSO to a registered SP with these
// RelayState values, through the same code path as `cardsso sps update`.
func optInIdPInitiated(t *testing.T, n *node, id string, relayStates ...string) {
	t.Helper()
	on := true
	if relayStates == nil {
		relayStates = []string{}
	}
	if _, err := n.admin(t).UpdateServiceProvider(context.Background(), id, admin.SPUpdate{IdPInitiated: &on, RelayStates: relayStates}); err != nil {
		t.Fatalf("UpdateServiceProvider(%s): %v", id, err)
	}
}

func (s *crewSP) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.assertions)
}

// TestSAMLIdPInitiatedOptIn: a cross-site link to /saml/idp-initiated in a
// browser with a live SSO session, as an attacker would send it. An SP that
// did not opt in is refused (403, before any login or assertion), even with
// the session; an opted-in SP gets its unsolicited Response with an empty
// RelayState and with one on its allow-list (crewjam/saml's SP lands on
// a path); a RelayState off the list (another host, a longer or differently
// cased variant of an allowed one), an over-long one and a repeated one are
// refused, and switching the SP off refuses it again.
func TestSAMLIdPInitiatedOptIn(t *testing.T) {
	n := startNode(t)
	closed := newCrewSP(t, n, spOpts{id: "closed", noEncryption: true})
	open := newCrewSP(t, n, spOpts{id: "open", noEncryption: true})
	home := open.url + "/hello"
	optInIdPInitiated(t, n, "open", home, "/hello")
	start := func(sp string, relay ...string) string {
		q := url.Values{"sp": {sp}}
		for _, r := range relay {
			q.Add("RelayState", r)
		}
		return n.issuer + "/saml/idp-initiated?" + q.Encode()
	}
	refused := func(t *testing.T, br *browser, u string, status int, text string) {
		t.Helper()
		p := br.get(u)
		if p.status != status || p.url.Path != "/saml/idp-initiated" || !strings.Contains(p.body, text) {
			t.Errorf("GET %s = %d at %s; want %d there with %q\n%s", u, p.status, p.url, status, text, p.body)
		}
		if _, ok := samlForm(t, p); ok {
			t.Errorf("GET %s answered with a SAML form", u)
		}
	}

	// Before any login: refused, not sent to the login page.
	br := newBrowser(t)
	refused(t, br, start("closed"), http.StatusForbidden, "does not accept sign-ins started at CardSSO")

	// Opted in, empty RelayState: login, then an unsolicited Response.
	login := br.get(start("open"))
	if login.url.Path != "/login" {
		t.Fatalf("IdP-initiated SSO to an opted-in SP did not ask to log in: %d %s", login.status, login.url)
	}
	done := register(t, br, n, login, zhangSan, zhangSanSSN, goodPass)
	f, ok := samlForm(t, done)
	if !ok || f.fields.Get("RelayState") != "" {
		t.Fatalf("after the login: no SAML form, or a RelayState %q", f.fields.Get("RelayState"))
	}
	br.postSAML(done)
	if got := classRefOf(open.last()); got != loa1 {
		t.Errorf("IdP-initiated assertion class %q; want %s", got, loa1)
	}

	// With the live session, an allowed RelayState (by entity ID too):
	// answered at once, and the SP lands on it.
	for _, relay := range []string{home, "/hello"} {
		p := br.get(start(open.entityID(), relay))
		f, ok := samlForm(t, p)
		if !ok || f.fields.Get("RelayState") != relay {
			t.Fatalf("allowed RelayState %q: %d at %s, form %v; want a Response carrying it", relay, p.status, p.url, f.fields)
		}
		got := open.count()
		landed := br.postSAML(p)
		if open.count() != got+1 {
			t.Errorf("allowed RelayState %q: the SP accepted no assertion (%d at %s)", relay, landed.status, landed.url)
		}
		// crewjam/saml's SP follows an unsolicited RelayState only to a
		// path of its own.
		if relay == "/hello" && (landed.status != http.StatusOK || landed.url.String() != home) {
			t.Errorf("allowed RelayState %q: the SP landed on %d %s; want %s", relay, landed.status, landed.url, home)
		}
	}

	// The attacker's links, in the victim's live session.
	before := closed.count() + open.count()
	for _, tc := range []struct {
		name   string
		url    string
		status int
		text   string
	}{
		{"SP not opted in", start("closed"), http.StatusForbidden, "does not accept sign-ins started at CardSSO"},
		{"SP not opted in, by entity ID", start(closed.entityID(), "/hello"), http.StatusForbidden, "does not accept sign-ins started at CardSSO"},
		{"RelayState of another host", start("open", "https://evil.example/phish"), http.StatusForbidden, "did not register the return address"},
		{"RelayState extending an allowed one", start("open", home+"/../../evil"), http.StatusForbidden, "did not register the return address"},
		{"RelayState differently cased", start("open", strings.ToUpper(home)), http.StatusForbidden, "did not register the return address"},
		{"RelayState javascript", start("open", "javascript:alert(1)"), http.StatusForbidden, "did not register the return address"},
		{"RelayState over 80 bytes", start("open", "/"+strings.Repeat("a", 80)), http.StatusBadRequest, "RelayState of the request is too long"},
		{"RelayState repeated", start("open", home, "https://evil.example/"), http.StatusBadRequest, "not valid"},
		{"sp repeated", start("open") + "&sp=closed", http.StatusBadRequest, "not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) { refused(t, br, tc.url, tc.status, tc.text) })
	}
	if after := closed.count() + open.count(); after != before {
		t.Errorf("the SPs accepted %d assertions from refused requests", after-before)
	}
	if logs := n.logs.String(); strings.Count(logs, `"msg":"saml idp-initiated refused"`) < 7 ||
		!strings.Contains(logs, `"reason":"not_enabled"`) || !strings.Contains(logs, `"reason":"relay_state_not_allowed"`) {
		t.Errorf("the refusals are not logged as \"saml idp-initiated refused\" with their reason")
	}

	// Switched off again: refused in the live session.
	off := false
	info, err := n.admin(t).UpdateServiceProvider(context.Background(), "open", admin.SPUpdate{IdPInitiated: &off})
	if err != nil || info.IdPInitiated || len(info.RelayStates) != 0 {
		t.Fatalf("UpdateServiceProvider(off) = %+v, %v; want off with no RelayStates", info, err)
	}
	refused(t, br, start("open"), http.StatusForbidden, "does not accept sign-ins started at CardSSO")
}

// TestSAMLRelayStateRegistration: the allow-list is checked when it is
// registered: only with IdP-initiated SSO on, and no value a browser or an
// SP could misuse.
func TestSAMLRelayStateRegistration(t *testing.T) {
	n := startNode(t)
	newCrewSP(t, n, spOpts{id: "sp", noEncryption: true})
	on := true
	for _, tc := range []struct {
		name string
		upd  admin.SPUpdate
		want string // in the InvalidError's reason
	}{
		{"without idp-initiated", admin.SPUpdate{RelayStates: []string{"/home"}}, "need --idp-initiated"},
		{"javascript", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{"javascript:alert(1)"}}, `scheme "javascript"`},
		{"data", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{"data:text/html,x"}}, `scheme "data"`},
		{"scheme-relative", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{"//evil.example/"}}, "scheme-relative"},
		{"over 80 bytes", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{"/" + strings.Repeat("a", 80)}}, "1 to 80 bytes"},
		{"empty value", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{""}}, "1 to 80 bytes"},
		{"space", admin.SPUpdate{IdPInitiated: &on, RelayStates: []string{"/a b"}}, "printable ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.admin(t).UpdateServiceProvider(context.Background(), "sp", tc.upd)
			var ie *idp.InvalidError
			if !errors.As(err, &ie) || ie.Field != "relay-state" || !strings.Contains(ie.Reason, tc.want) {
				t.Errorf("UpdateServiceProvider(%+v) = %v; want an invalid relay-state saying %q", tc.upd, err, tc.want)
			}
		})
	}
	info, err := n.admin(t).GetServiceProvider(context.Background(), "sp")
	if err != nil || info.IdPInitiated || len(info.RelayStates) != 0 {
		t.Errorf("after refused updates the SP is %+v, %v; want unchanged (off)", info, err)
	}
}
