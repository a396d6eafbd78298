package login

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// The dimensions of the step decision.
var (
	// Required levels as the front ends store them: none asked (level 1),
	// levels 1 to 3, and one no policy defines.
	decisionLevels = []struct {
		name, acr string
		level     int // 4: not a level
	}{
		{"level0", "", 1}, {"level1", assurance.LoA1.ACR(), 1}, {"level2", assurance.LoA2.ACR(), 2},
		{"level3", assurance.LoA3.ACR(), 3}, {"level4", "urn:cardsso:loa:4", 4},
	}
	decisionCards   = []string{"fresh", "stale", "never"}        // the account's card check
	decisionConsent = []string{"given", "needed", "first-party"} // the client's consent
	decisionPrompts = []string{"", "none", "login", "consent", "select_account"}
	decisionMaxAges = []string{"absent", "zero", "exceeded", "not-exceeded"} // the session is 10 minutes old
)

// wantStep is the step machine's rule, stated on its own: the citizen is
// identified by the session unless max_age says it is too old; then, in
// order, a card check within CardTTL for level 2 and up, a face match in
// the authentication for level 3, and consent (unless the client is
// exempt) when none is stored or prompt=consent asks again. prompt=none
// turns a needed step into its error; prompt=login and select_account are
// not the decision's (the OIDC front end turns prompt=login into
// max_age=0; the fast path declines both, TestSingleSignOnDeclines).
func wantStep(level int, card string, face bool, consent, prompt, maxAge string) (step, code string, fails bool) {
	switch {
	case maxAge == "zero" || maxAge == "exceeded":
		step = "login"
	case level == 4:
		return "", "", true
	case level >= 2 && card != "fresh":
		step = "card"
	case level >= 3 && !face:
		step = "face"
	case consent == "needed" || (prompt == "consent" && consent != "first-party"):
		step = "consent"
	}
	if step != "" && prompt == "none" {
		code = "login_required"
		if step == "consent" {
			code = "consent_required"
		}
	}
	return step, code, false
}

// TestStepDecision runs the step decision (flowOf and nextStep, as start
// and SingleSignOn call them) for a browser with a live session over
// every combination of required level, card-check age, face in the
// session, consent, prompt and max_age, and checks the step chosen, the
// prompt=none error, or the failure a level no policy defines gives.
func TestStepDecision(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	accounts := map[string]storage.Account{
		"fresh": e.account(zhangName, zhangNumber, cardChecked(e.now.Add(-time.Hour))),
		"stale": e.account(liName, liNumber, cardChecked(e.now.Add(-25*time.Hour))), // CardTTL 24h
		"never": e.account("赵六", "510104200002290046", nil),
	}
	for _, a := range accounts {
		if err := e.store.PutConsent(ctx, storage.Consent{AccountID: a.ID, ClientID: "given",
			Scopes: []string{"openid", "profile"}, GrantedAt: e.now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	maxAges := map[string]*int64{"absent": nil, "zero": ptr(int64(0)), "exceeded": ptr(int64(300)), "not-exceeded": ptr(int64(3600))}
	n := 0
	for _, lv := range decisionLevels {
		for _, card := range decisionCards {
			for _, face := range []bool{false, true} {
				for _, consent := range decisionConsent {
					for _, prompt := range decisionPrompts {
						for _, maxAge := range decisionMaxAges {
							name := fmt.Sprintf("%s/card-%s/face-%v/consent-%s/prompt-%q/max_age-%s", lv.name, card, face, consent, prompt, maxAge)
							amr := []string{assurance.AMRPassword}
							if face {
								amr = append(amr, assurance.AMRFace, assurance.AMRMulti)
							}
							sess := storage.Session{ID: "sess-" + card, AccountID: accounts[card].ID,
								AuthTime: e.now.Add(-10 * time.Minute), AMR: amr}
							req := storage.AuthRequest{ID: "r", Protocol: ProtocolOIDC, ClientID: consent,
								RequiredACR: lv.acr, MaxAge: maxAges[maxAge]}
							if prompt != "" {
								req.Prompt = []string{prompt}
							}
							f, err := e.h.flowOf(ctx, req, state{}, &sess)
							if err != nil {
								t.Fatalf("%s: flowOf: %v", name, err)
							}
							step, err := e.h.nextStep(ctx, f)
							checkDecision(t, name, step, err)(wantStep(lv.level, card, face, consent, prompt, maxAge))
							n++
						}
					}
				}
			}
		}
	}
	if n != 5*3*2*3*5*4 {
		t.Errorf("%d combinations decided; want %d", n, 5*3*2*3*5*4)
	}
}

// checkDecision compares a decision with the one wanted.
func checkDecision(t *testing.T, name string, step *Step, err error) func(string, string, bool) {
	return func(wantName, wantCode string, wantFail bool) {
		t.Helper()
		var none *promptNoneError
		switch {
		case wantFail:
			if err == nil || errors.As(err, &none) {
				t.Errorf("%s: decided %v, %v; want a failure (no such level)", name, stepName(step), err)
			}
		case wantCode != "":
			if !errors.As(err, &none) || none.Code != wantCode || none.Step != wantName {
				t.Errorf("%s: decided %v, %v; want prompt=none error %s for step %s", name, stepName(step), err, wantCode, wantName)
			}
		case err != nil || stepName(step) != wantName:
			t.Errorf("%s: decided %q, %v; want %q", name, stepName(step), err, wantName)
		}
	}
}

func stepName(s *Step) string {
	if s == nil {
		return ""
	}
	return s.Name
}

func ptr[T any](v T) *T { return &v }

// TestStepDecisionInLogin: the decision over a login in progress (no
// session: the state alone) — the registration's pages before the first
// page, a face match and a consent given in this login, a level-3 login
// whose card check is missing, and the self login of the account page
// that never asks consent.
func TestStepDecisionInLogin(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	fresh := e.account(zhangName, zhangNumber, cardChecked(e.now.Add(-time.Hour)))
	never := e.account(liName, liNumber, nil)
	auth := func(a storage.Account, change func(*authState)) state {
		s := state{Auth: &authState{AccountID: a.ID, AuthTime: e.now, AMR: []string{assurance.AMRPassword}}}
		if change != nil {
			change(s.Auth)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		req    storage.AuthRequest
		st     state
		want   string
		wantPN string
	}{
		{name: "nothing yet", st: state{}, want: "login"},
		{name: "nothing yet, prompt=none", req: storage.AuthRequest{Prompt: []string{"none"}}, want: "login", wantPN: "login_required"},
		{name: "registration pending", st: state{Pending: &pending{Name: "x"}}, want: "setup"},
		{name: "registration of a taken number", st: state{Pending: &pending{ReclaimHash: "$argon2id$x"}}, want: "reclaim"},
		{name: "taken number, prompt=none", req: storage.AuthRequest{Prompt: []string{"none"}},
			st: state{Pending: &pending{ReclaimHash: "$argon2id$x"}}, want: "reclaim", wantPN: "login_required"},
		{name: "identified, level 1, first-party", req: storage.AuthRequest{ClientID: "first-party"}, st: auth(fresh, nil), want: ""},
		{name: "identified, pending left over", req: storage.AuthRequest{ClientID: "first-party"},
			st: func() state { s := auth(fresh, nil); s.Pending = &pending{}; return s }(), want: ""},
		{name: "consent not given yet", req: storage.AuthRequest{ClientID: "portal"}, st: auth(fresh, nil), want: "consent"},
		{name: "prompt=consent, asked in this login", req: storage.AuthRequest{ClientID: "portal", Prompt: []string{"consent"}},
			st: auth(fresh, func(a *authState) { a.Consented = true }), want: ""}, // answered here, stored or not
		{name: "level 3, face passed in this login", req: storage.AuthRequest{ClientID: "first-party", RequiredACR: assurance.LoA3.ACR()},
			st: auth(fresh, func(a *authState) { a.FacePassed = true }), want: ""},
		{name: "level 3, no face yet", req: storage.AuthRequest{ClientID: "first-party", RequiredACR: assurance.LoA3.ACR()},
			st: auth(fresh, nil), want: "face"},
		{name: "level 3, card never checked, face passed", req: storage.AuthRequest{ClientID: "first-party", RequiredACR: assurance.LoA3.ACR()},
			st: auth(never, func(a *authState) { a.FacePassed = true }), want: "card"},
		{name: "account page, level 1", req: storage.AuthRequest{}, st: auth(never, nil), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := e.h.flowOf(ctx, tc.req, tc.st, nil)
			if err != nil {
				t.Fatal(err)
			}
			step, err := e.h.nextStep(ctx, f)
			checkDecision(t, tc.name, step, err)(tc.want, tc.wantPN, false)
		})
	}
}

// TestStepMachine: the list is what doc.go draws, every step has a page,
// a completion rule and a prompt=none answer, and Register mounts each
// step's page.
func TestStepMachine(t *testing.T) {
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
		if s.Path == "" || s.Done == nil || s.Mount == nil || s.PromptNone == "" {
			t.Errorf("step %s: path %q, done %v, mount %v, prompt=none %q; want all set", s.Name, s.Path, s.Done != nil, s.Mount != nil, s.PromptNone)
		}
	}
	if want := []string{"reclaim", "setup", "login", "card", "face", "consent"}; !slices.Equal(names, want) {
		t.Errorf("steps = %v; want %v", names, want)
	}
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	e.h.Register(mux)
	for _, s := range steps {
		if _, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, s.Path, nil)); pattern == "" {
			t.Errorf("step %s: GET %s is not mounted", s.Name, s.Path)
		}
	}
}

// TestStepPagesRefuse: every step's page refuses a request another
// browser started (403, the page says to start again from the portal),
// and every step's form refuses a post without its CSRF token (403), for
// a login in progress.
func TestStepPagesRefuse(t *testing.T) {
	e := newEnv(t, nil)
	e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("portal", assurance.LoA3.ACR(), nil)
	b.login(id, zhangNumber, testPass).want(t, "password", http.StatusSeeOther, cardPath+"?")
	other := e.browser()
	for _, s := range steps {
		res := other.get(stepURL(s.Path, id))
		res.want(t, s.Name+" page in another browser", http.StatusForbidden, "")
		res.shows(t, e, s.Name+" page in another browser", "err.otherbrowser")
	}
	for _, path := range []string{"/login/password", "/login/register", setupPath, reclaimPath, cardPath, facePath + "/consent", consentPath} {
		res := b.post(path, url.Values{"authRequestID": {id}})
		res.want(t, "POST "+path+" without csrf", http.StatusForbidden, "")
		res.shows(t, e, "POST "+path+" without csrf", "err.csrf")
	}
}
