package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/cardsso/cardsso/storage"
)

// start is the first page: SSO when a session satisfies the request, the
// login and registration forms otherwise.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if req.Done {
		http.Redirect(w, r, h.provider(req).CallbackURL(ctx, req.ID), http.StatusFound)
		return
	}
	sess, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	st, err := decodeState(req.LoginState)
	if err != nil {
		h.internal(w, r, "decode login state", err)
		return
	}
	if st.Auth != nil {
		h.next(w, r, req.ID)
		return
	}
	var known *storage.Session
	if live {
		known = &sess
	}
	// Single sign-on: a live session that satisfies the request identifies
	// the citizen (flowOf); the steps decide whether anything is missing (a
	// higher level, consent). Otherwise the first page or the
	// registration's pending page, or login_required for prompt=none.
	f, err := h.flowOf(ctx, req, st, known)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	h.dispatch(w, r, f, true, known)
}

// SingleSignOn answers a new request from the browser's live SSO session
// when no page is needed: the session satisfies max_age, the account meets
// the required level as the session stands (no real-card re-check, no face
// step, no step-up), no consent is to be asked, and the level the session
// records is the one the account has now. It then records the request's
// client in the session and returns the request completed as complete()
// would store it, and the session, for the protocol front end to answer at
// once (one write instead of a login page and a callback). The decision
// is the pages' own (flowOf, nextStep); the prompts login, consent and
// select_account, and the account page's own login, always go to the
// pages. ok is false, with nothing written, when the request needs the
// login pages (start decides again).
func (h *Handler) SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error) {
	if isSelf(req) || slices.Contains(req.Prompt, "login") || slices.Contains(req.Prompt, "consent") ||
		slices.Contains(req.Prompt, "select_account") {
		return req, storage.Session{}, false, nil
	}
	ctx := r.Context()
	sess, live, err := h.cfg.Sessions.Current(r)
	if err != nil || !live {
		return req, storage.Session{}, false, err
	}
	f, err := h.flowOf(ctx, req, state{}, &sess)
	if errors.Is(err, storage.ErrNotFound) {
		return req, storage.Session{}, false, nil // the login pages say what happened
	}
	if err != nil || !f.identified() { // not identified: the session does not satisfy the request
		return req, storage.Session{}, false, err
	}
	// The same decision as the pages': any step still needed (or, with
	// prompt=none, the error it would be) is for the pages to answer.
	var none *promptNoneError
	if step, err := h.nextStep(ctx, f); errors.As(err, &none) || step != nil {
		return req, storage.Session{}, false, nil
	} else if err != nil {
		return req, storage.Session{}, false, err
	}
	if h.levelOf(f.acct, f.st.Auth.FacePassed).ACR() != sess.ACR {
		return req, storage.Session{}, false, nil // the session's level changes: finish records it
	}
	participant := req.ClientID
	if req.Protocol == ProtocolSAML {
		participant = "saml:" + req.ClientID
	}
	if err := h.cfg.Sessions.Touch(ctx, sess, participant); err != nil {
		return req, storage.Session{}, false, err
	}
	h.cfg.Observer.Login("sso", "success")
	h.cfg.Logger.InfoContext(ctx, "login complete", "client", req.ClientID, "account", sess.AccountID, "acr", sess.ACR)
	req.Done = true
	req.AccountID, req.SessionID = sess.AccountID, sess.ID
	req.AuthTime, req.ACR, req.AMR = sess.AuthTime, sess.ACR, sess.AMR
	req.LoginState = nil
	return req, sess, true, nil
}

// satisfies reports whether an existing session may answer the request
// without a new authentication (max_age; prompt=login arrives as max_age=0).
func (h *Handler) satisfies(ctx context.Context, req storage.AuthRequest, s storage.Session) bool {
	if req.MaxAge != nil && h.cfg.Now().Sub(s.AuthTime) > time.Duration(*req.MaxAge)*time.Second {
		return false
	}
	// An id_token_hint names the citizen the portal expects (OIDC Core
	// §3.1.2.1): a session of somebody else does not answer; with
	// prompt=none that is login_required.
	if req.IDTokenHint != "" && (h.cfg.HintMatches == nil || !h.cfg.HintMatches(ctx, req.IDTokenHint, s.AccountID)) {
		return false
	}
	return true
}
