package login

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// TestSingleSignOn: a live session that satisfies a new request answers
// it at the protocol front end without a page: the request comes back
// completed with the session's authentication, and the session records
// the portal.
func TestSingleSignOn(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	s := b.session(a.ID, e.now.Add(-time.Minute), assurance.AMRPassword)
	req := storage.AuthRequest{ID: "new", Protocol: ProtocolSAML, ClientID: "first-party"}
	done, sess, ok, err := e.h.SingleSignOn(sessionRequest(b), req)
	if err != nil || !ok {
		t.Fatalf("SingleSignOn = %v, %v; want answered", ok, err)
	}
	if !done.Done || done.AccountID != a.ID || done.SessionID != s.ID || done.ACR != s.ACR || !done.AuthTime.Equal(s.AuthTime) || sess.ID != s.ID {
		t.Errorf("answered request: done %v, account %q, session %q, acr %q, auth_time %v; want the session's %s", done.Done, done.AccountID, done.SessionID, done.ACR, done.AuthTime, s.ID)
	}
	got, _ := e.store.GetSession(t.Context(), s.ID)
	if !slices.Contains(got.Clients, "saml:first-party") {
		t.Errorf("session participants %v; want saml:https://sp.example", got.Clients)
	}
}

// TestSingleSignOnDeclines: every request that needs a page is left to
// the pages, with nothing written: the prompts that force one, the
// account page's own login, a session too old for max_age, any step the
// decision still wants (card, face, consent), a level the session does not
// record, and no session at all.
func TestSingleSignOnDeclines(t *testing.T) {
	e := newEnv(t, nil)
	plain := e.account(zhangName, zhangNumber, nil)
	checked := e.account(liName, liNumber, cardChecked(time.Now().Add(-time.Hour)))
	b, b2 := e.browser(), e.browser()
	b.session(plain.ID, e.now.Add(-10*time.Minute), assurance.AMRPassword)
	b2.session(checked.ID, e.now.Add(-10*time.Minute), assurance.AMRPassword) // records level 1; the account has 2 now
	for _, tc := range []struct {
		name string
		b    *browser
		req  storage.AuthRequest
	}{
		{"prompt=login", b, storage.AuthRequest{ClientID: "first-party", Prompt: []string{"login"}}},
		{"prompt=consent", b, storage.AuthRequest{ClientID: "first-party", Prompt: []string{"consent"}}},
		{"prompt=select_account", b, storage.AuthRequest{ClientID: "first-party", Prompt: []string{"select_account"}}},
		{"account page", b, storage.AuthRequest{}},
		{"max_age exceeded", b, storage.AuthRequest{ClientID: "first-party", MaxAge: ptr(int64(60))}},
		{"id_token_hint of someone else", b, storage.AuthRequest{ClientID: "first-party", IDTokenHint: "sub:" + checked.ID}},
		{"card step", b, storage.AuthRequest{ClientID: "first-party", RequiredACR: assurance.LoA2.ACR()}},
		{"face step", b2, storage.AuthRequest{ClientID: "first-party", RequiredACR: assurance.LoA3.ACR()}},
		{"consent step", b, storage.AuthRequest{ClientID: "portal"}},
		{"consent step, prompt=none", b, storage.AuthRequest{ClientID: "portal", Prompt: []string{"none"}}},
		{"level changes", b2, storage.AuthRequest{ClientID: "first-party"}},
		{"no session", e.browser(), storage.AuthRequest{ClientID: "first-party"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.ID, tc.req.Protocol = "r-"+tc.name, ProtocolOIDC
			got, _, ok, err := e.h.SingleSignOn(sessionRequest(tc.b), tc.req)
			if err != nil || ok || got.Done {
				t.Errorf("SingleSignOn = done %v, answered %v, %v; want left to the pages", got.Done, ok, err)
			}
		})
	}
	// The same session answers a request that needs nothing more.
	if _, _, ok, err := e.h.SingleSignOn(sessionRequest(b), storage.AuthRequest{ID: "r", ClientID: "first-party", IDTokenHint: "sub:" + plain.ID}); !ok || err != nil {
		t.Errorf("SingleSignOn with the citizen's own hint = %v, %v; want answered", ok, err)
	}
}

// TestSingleSignOnAtFirstPage: at the first page a session that answers
// the identity but not the level goes on to the missing step (counted as
// a step-up); with prompt=none a missing consent is consent_required.
func TestSingleSignOnAtFirstPage(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	b.session(a.ID, e.now.Add(-time.Minute), assurance.AMRPassword)
	id := b.request("first-party", assurance.LoA2.ACR(), nil)
	b.get(LoginURL(id)).want(t, "session below the level", http.StatusSeeOther, cardPath+"?")
	if !e.obs.saw("sso/step_up") {
		t.Errorf("step-up not counted: %v", e.obs.logins)
	}
	if st, _ := decodeState(e.authRequest(id).LoginState); st.Auth == nil || !st.Auth.FromSession {
		t.Errorf("the step page's state was not saved from the session: %+v", st.Auth)
	}
	id = b.request("portal", "", func(r *storage.AuthRequest) { r.Prompt = []string{"none"} })
	res := b.get(LoginURL(id))
	if res.status != http.StatusFound || !strings.Contains(res.location, "error=consent_required") {
		t.Errorf("prompt=none, consent missing: %d to %q; want consent_required", res.status, res.location)
	}
	id = b.request("first-party", "", nil)
	b.get(LoginURL(id)).want(t, "session answers", http.StatusSeeOther, "/callback?")
	if !e.obs.saw("sso/success") {
		t.Errorf("single sign-on not counted: %v", e.obs.logins)
	}
}
