package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

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
	if live && h.satisfies(ctx, req, sess) {
		// Single sign-on: the citizen is known from the session; the steps
		// decide whether anything is missing (a higher level, consent).
		st.Auth = &authState{AccountID: sess.AccountID, AuthTime: sess.AuthTime, AMR: sess.AMR,
			SessionID: sess.ID, FromSession: true, FacePassed: slices.Contains(sess.AMR, assurance.AMRFace)}
		h.proceed(w, r, req, st, true, &sess)
		return
	}
	if slices.Contains(req.Prompt, "none") {
		h.cfg.Observer.Login("sso", "login_required")
		h.provider(req).ReturnError(w, r, req.ID, "login_required", "")
		return
	}
	if st.Pending != nil && st.Pending.ReclaimHash != "" {
		http.Redirect(w, r, stepURL(reclaimPath, req.ID), http.StatusFound)
		return
	}
	if st.Pending != nil {
		http.Redirect(w, r, "/login/password-setup?"+url.Values{"authRequestID": {req.ID}}.Encode(), http.StatusFound)
		return
	}
	h.renderLogin(w, r, req, http.StatusOK, "", nil)
}

// SingleSignOn answers a new request from the browser's live SSO session
// when no page is needed: the session satisfies max_age, the account meets
// the required level as the session stands (no real-card re-check, no face
// step, no step-up), no consent is to be asked, and the level the session
// records is the one the account has now. It then records the request's
// client in the session and returns the request completed as complete()
// would store it, and the session, for the protocol front end to answer at
// once (one write instead of a login page and a callback). ok is false,
// with nothing written, when the request needs the login pages (start
// decides again).
func (h *Handler) SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error) {
	if isSelf(req) || slices.Contains(req.Prompt, "login") || slices.Contains(req.Prompt, "consent") ||
		slices.Contains(req.Prompt, "select_account") {
		return req, storage.Session{}, false, nil
	}
	ctx := r.Context()
	sess, live, err := h.cfg.Sessions.Current(r)
	if err != nil || !live || !h.satisfies(ctx, req, sess) {
		return req, storage.Session{}, false, err
	}
	acct, err := h.cfg.Store.GetAccount(ctx, sess.AccountID)
	if errors.Is(err, storage.ErrNotFound) {
		return req, storage.Session{}, false, nil // the login pages say what happened
	}
	if err != nil {
		return req, storage.Session{}, false, err
	}
	face := slices.Contains(sess.AMR, assurance.AMRFace) // as start sets FacePassed
	if step, err := h.stepNeeded(ctx, req, acct, face); err != nil || step != "" {
		return req, storage.Session{}, false, err
	}
	if h.levelOf(acct, face).ACR() != sess.ACR {
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
