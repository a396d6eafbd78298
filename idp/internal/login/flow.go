package login

import (
	"errors"
	"net/http"
	"slices"

	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/storage"
)

// next continues a login after a step page: the request is loaded again
// (its state as the step saved it) and the dispatcher runs.
func (h *Handler) next(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	req, err := h.cfg.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return
	}
	if err != nil {
		h.internal(w, r, "load auth request", err)
		return
	}
	if !h.cfg.Sessions.BoundTo(r, req.BrowserHash) {
		h.OtherBrowser(w, r)
		return
	}
	st, err := decodeState(req.LoginState)
	if err != nil || st.Auth == nil {
		http.Redirect(w, r, LoginURL(id), http.StatusSeeOther)
		return
	}
	h.proceed(w, r, req, st, false, nil)
}

// proceed is next for a request already loaded, with its login state st
// and the citizen identified (st.Auth). When unsaved, st is not in
// storage yet: it is saved only if a step page follows (the step pages
// read it from storage); a login that finishes at once (single sign-on, a
// password login that needs nothing more) writes the request once, when
// it completes. sess, when not nil, is the browser's live session as the
// caller just read it.
func (h *Handler) proceed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, unsaved bool, sess *storage.Session) {
	f, err := h.flowOf(r.Context(), req, st, nil)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	h.dispatch(w, r, f, unsaved, sess)
}

// dispatch is the one dispatcher of the login machine: it asks the step
// decision (nextStep) what f still needs and goes there, or finishes the
// login when nothing is missing. A step before the citizen is identified
// is only ever reached from the first page (a GET): it is shown in place
// (Show) or redirected to with 302; a step after it with 303, the state
// saved first when unsaved.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, f *flow, unsaved bool, sess *storage.Session) {
	ctx := r.Context()
	step, err := h.nextStep(ctx, f)
	var none *promptNoneError
	switch {
	case errors.As(err, &none):
		// prompt=none: no page may be shown (OIDC Core §3.1.2.6). A
		// missing check needs the citizen to authenticate further
		// (login_required); missing consent is consent_required.
		h.cfg.Observer.Login("sso", none.Code)
		h.provider(f.req).ReturnError(w, r, f.req.ID, none.Code, "")
		return
	case err != nil:
		h.internal(w, r, "next step", err)
		return
	case step != nil && step.Show != nil:
		step.Show(h, w, r, f)
		return
	case step != nil && !f.identified():
		http.Redirect(w, r, stepURL(step.Path, f.req.ID), http.StatusFound)
		return
	case step != nil:
		if unsaved {
			if err := h.saveState(ctx, f.req.ID, f.st); err != nil {
				h.internal(w, r, "save login state", err)
				return
			}
		}
		if f.st.Auth.FromSession {
			h.cfg.Observer.Login("sso", "step_up")
		}
		http.Redirect(w, r, stepURL(step.Path, f.req.ID), http.StatusSeeOther)
		return
	}
	if !f.identified() { // the login step holds until someone is identified
		h.internal(w, r, "next step", errors.New("no step for a login nobody is identified in"))
		return
	}
	if f.st.Auth.FromSession {
		h.cfg.Observer.Login("sso", "success")
	}
	h.finish(w, r, f.req, f.st.Auth, f.acct, sess)
}

// finish records the authentication in the SSO session (a new one, the
// citizen's current one, or the stepped-up one) with its level, and
// completes the request. known, when not nil, is the browser's live session
// as this request read it already.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, a *authState, acct storage.Account, known *storage.Session) {
	ctx := r.Context()
	acr, amr, authTime := h.levelOf(acct, a.FacePassed || a.DeviceBound).ACR(), a.AMR, a.AuthTime
	var (
		cur  storage.Session
		live bool
		err  error
	)
	if known != nil {
		cur, live = *known, true
	} else if cur, live, err = h.cfg.Sessions.Current(r); err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	var s storage.Session
	switch {
	case live && cur.AccountID == a.AccountID && a.FromSession && !a.Stepped && cur.ACR == acr:
		s = cur // plain single sign-on: the session answers as it is
	case live && cur.AccountID == a.AccountID:
		s, err = h.cfg.Sessions.Reauthenticated(ctx, w, cur.ID, authTime, acr, amr)
	default:
		if live {
			// Another citizen was signed in on this browser: end that session.
			if _, _, err := h.cfg.Sessions.End(ctx, w, r); err != nil {
				h.internal(w, r, "end previous session", err)
				return
			}
		}
		s, err = h.cfg.Sessions.Start(ctx, w, a.AccountID, authTime, acr, amr)
	}
	if err != nil {
		h.internal(w, r, "start session", err)
		return
	}
	h.complete(w, r, req, s)
}

// authOf loads the request and its authentication in progress for a step
// page; without one the browser goes back to the first page.
func (h *Handler) authOf(w http.ResponseWriter, r *http.Request) (storage.AuthRequest, state, storage.Account, bool) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return req, state{}, storage.Account{}, false
	}
	st, err := decodeState(req.LoginState)
	if err != nil || st.Auth == nil {
		http.Redirect(w, r, LoginURL(req.ID), http.StatusSeeOther)
		return req, st, storage.Account{}, false
	}
	acct, err := h.cfg.Store.GetAccount(r.Context(), st.Auth.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return req, st, acct, false
	}
	return req, st, acct, true
}

// number opens the account's sealed social security number.
func (h *Handler) number(a storage.Account) (citizenid.Number, error) {
	b, err := h.cfg.Sealer.Open(a.SSNSealed, storage.SSNAssociatedData(a.ID))
	if err != nil {
		return citizenid.Number{}, err
	}
	return citizenid.Parse(string(b))
}

// addAMR appends methods not yet present.
func addAMR(amr []string, methods ...string) []string {
	out := slices.Clone(amr)
	for _, m := range methods {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// cancelPath is the link on the step pages that gives a login up.
const cancelPath = "/login/cancel"

// cancel ends a login the citizen cannot or will not finish: the portal
// receives access_denied.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	h.cfg.Observer.Login("form", "cancelled")
	if isSelf(req) {
		_ = h.cfg.Store.DeleteAuthRequest(r.Context(), req.ID)
		http.Redirect(w, r, "/logout/done", http.StatusSeeOther)
		return
	}
	h.provider(req).ReturnError(w, r, req.ID, "access_denied", "the citizen did not complete the required checks")
}

// the client in the session and continues to the protocol callback.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, s storage.Session) {
	ctx := r.Context()
	if isSelf(req) {
		// The account page's own login: nothing to hand to a protocol.
		_ = h.cfg.Store.DeleteAuthRequest(ctx, req.ID)
		http.Redirect(w, r, selfPath, http.StatusSeeOther)
		return
	}
	var err error
	if c, ok := h.cfg.Store.(storage.Completer); ok {
		err = c.CompleteAuthRequest(ctx, req.ID, s.AccountID, s.ID, s.AuthTime, s.ACR, s.AMR, h.cfg.Now())
	} else {
		err = h.cfg.Store.UpdateAuthRequest(ctx, req.ID, func(a storage.AuthRequest) (storage.AuthRequest, error) {
			if a.Done && a.AccountID != s.AccountID {
				return a, errors.New("auth request completed for another account")
			}
			a.Done = true
			a.AccountID, a.SessionID = s.AccountID, s.ID
			a.AuthTime, a.ACR, a.AMR = s.AuthTime, s.ACR, s.AMR
			a.LoginState = nil
			return a, nil
		})
	}
	if errors.Is(err, storage.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return
	}
	if err != nil {
		h.internal(w, r, "complete auth request", err)
		return
	}
	participant := req.ClientID
	if req.Protocol == ProtocolSAML {
		participant = "saml:" + req.ClientID
	}
	if err := h.cfg.Sessions.Touch(ctx, s, participant); err != nil {
		h.internal(w, r, "join session", err)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "login complete", "client", req.ClientID, "account", s.AccountID, "acr", s.ACR)
	http.Redirect(w, r, h.provider(req).CallbackURL(ctx, req.ID), http.StatusSeeOther)
}
