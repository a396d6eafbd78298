package login

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// A Step is one stage of the login machine (doc.go): a page the citizen
// must pass before the request completes, with the rule that says when it
// is passed. The machine is the list steps, in order; nextStep picks the
// first step not Done.
type Step struct {
	// Name names the step in logs and tests ("login", "card", …).
	Name string
	// Path is the step's page; the dispatcher sends the browser there
	// (with the request's id) when the step is next.
	Path string
	// PromptNone is the error a request with prompt=none receives when the
	// step is next, since no page may be shown (OIDC Core §3.1.2.6):
	// login_required, or consent_required for the consent step.
	PromptNone string
	// Done is the completion rule: whether the step is satisfied for the
	// login f. It is asked only when every earlier step is done; an error
	// means it could not tell (a store fault, a bad stored level).
	Done func(ctx context.Context, h *Handler, f *flow) (bool, error)
	// Show, when set, answers the step in place instead of a redirect to
	// Path (the first page renders its forms at once).
	Show func(h *Handler, w http.ResponseWriter, r *http.Request, f *flow)
	// Mount registers the step's pages (its Path and its forms' targets).
	Mount func(h *Handler, mux Router)
}

// steps is the login machine in order: before the citizen is identified
// the registration's own pages (a reclaim, the password setup) and the
// first page; after it the checks the request's level needs, then
// consent. A new step is one file with its Step and pages, and one entry
// here. (New copies it into Handler.steps, so that the dispatcher does
// not refer to the list the steps' pages are in.)
var steps = []*Step{reclaimStep, setupStep, loginStep, cardStep, faceStep, consentStep}

// flow is one login as the step decision reads it: the stored request,
// its login state and, once the citizen is identified (st.Auth), their
// account.
type flow struct {
	req  storage.AuthRequest
	st   state
	acct storage.Account
}

// identified reports whether the citizen is known (by a password, a
// registration or the SSO session).
func (f *flow) identified() bool { return f.st.Auth != nil }

// required is the level the request needs, as its protocol front end
// decided when it stored the request (RequiredACR: the client's minimum
// and what the request asked for).
func (f *flow) required() (assurance.Level, error) {
	if f.req.RequiredACR == "" {
		return assurance.LoA1, nil
	}
	return assurance.ParseACR(f.req.RequiredACR)
}

// flowOf is the login of req with state st as the decision reads it. When
// the citizen is not identified yet and the browser's live session sess
// (nil: none) answers the request (satisfies: max_age, id_token_hint),
// the session's authentication identifies them: single sign-on. The
// account of an identified login is loaded (an error wraps the store's,
// storage.ErrNotFound included).
func (h *Handler) flowOf(ctx context.Context, req storage.AuthRequest, st state, sess *storage.Session) (*flow, error) {
	if st.Auth == nil && sess != nil && h.satisfies(ctx, req, *sess) {
		st.Auth = fromSession(*sess)
	}
	f := &flow{req: req, st: st}
	if st.Auth == nil {
		return f, nil
	}
	acct, err := h.cfg.Store.GetAccount(ctx, st.Auth.AccountID)
	if err != nil {
		return f, fmt.Errorf("load account: %w", err)
	}
	f.acct = acct
	return f, nil
}

// fromSession is the authentication a live SSO session brings to a new
// request: a face match counts when the session's authentication had one,
// and so does a device-bound e-card login (amr swk).
func fromSession(s storage.Session) *authState {
	return &authState{AccountID: s.AccountID, AuthTime: s.AuthTime, AMR: s.AMR,
		SessionID: s.ID, FromSession: true, FacePassed: slices.Contains(s.AMR, assurance.AMRFace),
		DeviceBound: slices.Contains(s.AMR, assurance.AMRSoftKey)}
}

// promptNoneError is the decision for a request with prompt=none that
// needs a page: the OAuth error code to return (login_required,
// consent_required) instead.
type promptNoneError struct {
	Code string
	Step string // the step that would have been shown
}

func (e *promptNoneError) Error() string {
	return "prompt=none, but the " + e.Step + " step is needed: " + e.Code
}

// nextStep is the step decision, the one place that says what a login
// still needs: the first step of the machine that is not Done for f, or
// nil when the request can complete. A request with prompt=none gets a
// *promptNoneError instead of a step. Both the login pages (proceed,
// start) and single sign-on at the protocol front ends (SingleSignOn)
// decide with it.
func (h *Handler) nextStep(ctx context.Context, f *flow) (*Step, error) {
	for _, s := range h.steps {
		done, err := s.Done(ctx, h, f)
		if err != nil {
			return nil, fmt.Errorf("%s step: %w", s.Name, err)
		}
		if done {
			continue
		}
		if slices.Contains(f.req.Prompt, "none") {
			return s, &promptNoneError{Code: s.PromptNone, Step: s.Name}
		}
		return s, nil
	}
	return nil, nil
}

// cardCheck is the account's last real-card check as the levels read it.
func cardCheck(a storage.Account) assurance.CardCheck {
	c := assurance.CardCheck{Status: connectors.CardStatus(a.CardStatus)}
	if a.CardCheckedAt != nil {
		c.CheckedAt = *a.CardCheckedAt
	}
	return c
}

// levelOf is the level an authentication of acct reaches now (with a face
// match or not): what the session records.
func (h *Handler) levelOf(acct storage.Account, facePassed bool) assurance.Level {
	return assurance.Compute(cardCheck(acct), h.cfg.CardTTL, facePassed, h.cfg.Now().UTC())
}
