package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// required is the level the request needs, as its protocol front end
// decided when it stored the request (RequiredACR: the client's minimum and
// what the request asked for).
func (h *Handler) required(_ context.Context, req storage.AuthRequest) (assurance.Level, error) {
	if req.RequiredACR == "" {
		return assurance.LoA1, nil
	}
	return assurance.ParseACR(req.RequiredACR)
}

func cardCheck(a storage.Account) assurance.CardCheck {
	c := assurance.CardCheck{Status: connectors.CardStatus(a.CardStatus)}
	if a.CardCheckedAt != nil {
		c.CheckedAt = *a.CardCheckedAt
	}
	return c
}

func stepURL(path, id string) string {
	return path + "?" + url.Values{"authRequestID": {id}}.Encode()
}

// next runs the first step the request still needs, or finishes it. The
// steps, in order: real-card (level 2 and up), real-person (level 3).
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

// proceed is next for a request already loaded, with its login state st.
// When unsaved, st is not in storage yet: it is saved only if a step page
// follows (the step pages read it from storage); a login that finishes at
// once (single sign-on, a password login that needs nothing more) writes
// the request once, when it completes. sess, when not nil, is the
// browser's live session as the caller just read it.
func (h *Handler) proceed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, st state, unsaved bool, sess *storage.Session) {
	ctx := r.Context()
	id := req.ID
	if unsaved {
		b, err := encodeState(st)
		if err != nil {
			h.internal(w, r, "encode login state", err)
			return
		}
		req.LoginState = b // as the steps would read it back
	}
	acct, err := h.cfg.Store.GetAccount(ctx, st.Auth.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	step, err := h.stepNeeded(ctx, req, acct, st.Auth.FacePassed)
	if err != nil {
		h.internal(w, r, "next step", err)
		return
	}
	if step != "" {
		if slices.Contains(req.Prompt, "none") {
			// prompt=none: no page may be shown (OIDC Core §3.1.2.6). A
			// missing check needs the citizen to authenticate further
			// (login_required); missing consent is consent_required.
			code := "login_required"
			if step == "/login/consent" {
				code = "consent_required"
			}
			h.cfg.Observer.Login("sso", code)
			h.provider(req).ReturnError(w, r, req.ID, code, "")
			return
		}
		if unsaved {
			if err := h.saveState(ctx, id, st); err != nil {
				h.internal(w, r, "save login state", err)
				return
			}
		}
		if st.Auth.FromSession {
			h.cfg.Observer.Login("sso", "step_up")
		}
		http.Redirect(w, r, stepURL(step, id), http.StatusSeeOther)
		return
	}
	if st.Auth.FromSession {
		h.cfg.Observer.Login("sso", "success")
	}
	h.finish(w, r, req, st.Auth, acct, sess)
}

// stepNeeded is the first step page req still needs for the account, in
// order: real-card (level 2 and up, when the card check is older than
// CardTTL), real-person (level 3, without a face match in this
// authentication), consent; "" when none. Both the login (proceed) and
// single sign-on at the protocol front end (SingleSignOn) decide with it.
func (h *Handler) stepNeeded(ctx context.Context, req storage.AuthRequest, acct storage.Account, facePassed bool) (string, error) {
	required, err := h.required(ctx, req)
	if err != nil {
		return "", fmt.Errorf("required level: %w", err)
	}
	switch {
	case required >= assurance.LoA2 && !cardCheck(acct).Verified(h.cfg.Now(), h.cfg.CardTTL):
		return "/login/card", nil
	case required >= assurance.LoA3 && !facePassed:
		return "/login/face", nil
	}
	needed, err := h.consentNeeded(ctx, req, acct.ID)
	if err != nil {
		return "", fmt.Errorf("consent: %w", err)
	}
	if needed {
		return "/login/consent", nil
	}
	return "", nil
}

// levelOf is the level an authentication of acct reaches now (with a face
// match or not): what the session records.
func (h *Handler) levelOf(acct storage.Account, facePassed bool) assurance.Level {
	return assurance.Compute(cardCheck(acct), h.cfg.CardTTL, facePassed, h.cfg.Now().UTC())
}

// finish records the authentication in the SSO session (a new one, the
// citizen's current one, or the stepped-up one) with its level, and
// completes the request. known, when not nil, is the browser's live session
// as this request read it already.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, a *authState, acct storage.Account, known *storage.Session) {
	ctx := r.Context()
	acr, amr, authTime := h.levelOf(acct, a.FacePassed).ACR(), a.AMR, a.AuthTime
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
	if c, ok := h.cfg.Store.(Completer); ok {
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
