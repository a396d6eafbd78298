package login

import (
	"encoding/base64"
	"net/http"
	"net/url"
)

// LogoutURL returns our logout page for an RP-initiated logout whose
// post-logout redirect the protocol layer validated. subject is the id_token
// hint's subject in the form Config.HintMatches reads ("" without a hint).
// The link is signed so that our page is no open redirector.
func (h *Handler) LogoutURL(redirect, subject string) string {
	v := url.Values{"to": {redirect}, "sub": {subject}, "sig": {h.linkSig(redirect, subject)}}
	return "/logout?" + v.Encode()
}

func (h *Handler) linkSig(to, sub string) string {
	return base64.RawURLEncoding.EncodeToString(h.cfg.Links.Sum([]byte("logout\x00" + to + "\x00" + sub)))
}

func (h *Handler) linkOK(to, sub, sig string) bool {
	b, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && len(b) > 0 && h.cfg.Links.Equal([]byte("logout\x00"+to+"\x00"+sub), b)
}

// getLogout ends the session at once when an id_token hint names the
// signed-in citizen; otherwise it asks (OIDC RP-Initiated Logout §2: without
// a hint the OP should confirm, so a stray link cannot log people out).
func (h *Handler) getLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, sub, sig := q.Get("to"), q.Get("sub"), q.Get("sig")
	if !h.linkOK(to, sub, sig) {
		to, sub, sig = "", "", ""
	}
	s, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	if !live {
		h.finishLogout(w, r, to)
		return
	}
	if sub != "" && h.cfg.HintMatches != nil && h.cfg.HintMatches(r.Context(), sub, s.AccountID) {
		h.endSession(w, r, to)
		return
	}
	p := h.newPage(w, r, nil)
	p.CSRF = h.csrfToken(w, r, "logout")
	p.Values = map[string]string{"to": to, "sub": sub, "sig": sig}
	h.render(w, http.StatusOK, "logout", p)
}

func (h *Handler) postLogout(w http.ResponseWriter, r *http.Request) {
	if !h.checkCSRF(w, r, "logout") {
		return
	}
	to := r.PostFormValue("to")
	if !h.linkOK(to, r.PostFormValue("sub"), r.PostFormValue("sig")) {
		to = ""
	}
	h.endSession(w, r, to)
}

func (h *Handler) endSession(w http.ResponseWriter, r *http.Request, to string) {
	s, ended, err := h.cfg.Sessions.End(r.Context(), w, r)
	if err != nil {
		h.internal(w, r, "end session", err)
		return
	}
	if ended {
		h.cfg.Logger.InfoContext(r.Context(), "logout", "account", s.AccountID, "clients", s.Clients)
		if h.cfg.SessionEnded != nil {
			next := to
			if next == "" {
				next = "/logout/done"
			}
			if via := h.cfg.SessionEnded(w, r, s, next); via != "" {
				http.Redirect(w, r, via, http.StatusSeeOther)
				return
			}
		}
	}
	h.finishLogout(w, r, to)
}

func (h *Handler) finishLogout(w http.ResponseWriter, r *http.Request, to string) {
	if to == "" {
		to = "/logout/done"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) loggedOut(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusOK, "logout.title", "logout.done", "")
}
