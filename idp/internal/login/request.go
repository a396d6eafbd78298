package login

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/cardsso/cardsso/storage"
)

// LoginURL is the first page for an auth request.
func LoginURL(authRequestID string) string {
	return "/login?" + url.Values{"authRequestID": {authRequestID}}.Encode()
}

// loadRequest finds the auth request named by the form or query, or answers
// with the "expired" page.
func (h *Handler) loadRequest(w http.ResponseWriter, r *http.Request) (storage.AuthRequest, bool) {
	id := r.FormValue("authRequestID")
	if id == "" {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return storage.AuthRequest{}, false
	}
	req, err := h.cfg.Store.GetAuthRequest(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
		return req, false
	}
	if err != nil {
		h.internal(w, r, "load auth request", err)
		return req, false
	}
	if !h.cfg.Sessions.BoundTo(r, req.BrowserHash) {
		h.OtherBrowser(w, r)
		return req, false
	}
	return req, true
}

// A login belongs to the browser that started it (docs/security.md §1): the
// protocol front ends bind each new auth request to the browser's binding
// cookie (Bind), and every login step, and the protocol callback, refuses a
// request presented by another browser (BoundTo, OtherBrowser). Without it,
// a link to a half-finished login lets whoever follows it complete someone
// else's sign-in in their own browser.

// Bind returns the binding hash to store on a new auth request for the
// browser of r (setting its binding cookie when it has none).
func (h *Handler) Bind(w http.ResponseWriter, r *http.Request) []byte {
	return h.cfg.Sessions.Bind(w, r)
}

// BoundTo reports whether r comes from the browser with the binding hash.
func (h *Handler) BoundTo(r *http.Request, hash []byte) bool {
	return h.cfg.Sessions.BoundTo(r, hash)
}

// OtherBrowser answers a login step or callback for a request that another
// browser started: 403 and a page saying to start again from the portal.
func (h *Handler) OtherBrowser(w http.ResponseWriter, r *http.Request) {
	h.cfg.Observer.Login("form", "other_browser")
	h.cfg.Logger.WarnContext(r.Context(), "login step from another browser refused", "path", r.URL.Path)
	h.message(w, r, http.StatusForbidden, "err.title", "err.otherbrowser", "")
}

// HoldsSession reports whether the browser's live SSO session is the one
// with this id (a storage fault counts as no).
func (h *Handler) HoldsSession(r *http.Request, sessionID string) bool {
	s, live, err := h.cfg.Sessions.Current(r)
	return err == nil && live && sessionID != "" && s.ID == sessionID
}

// Expired answers a callback for an unknown, expired or already answered
// request.
func (h *Handler) Expired(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusBadRequest, "err.title", "err.expired", "")
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		// The database is away or hung: say "try again shortly", not
		// "something is wrong" (docs/operations.md, "When things fail").
		h.outages.Note(r.Context(), h.cfg.Logger, what, err)
		h.cfg.Observer.Login("form", "unavailable")
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "err.store_unavailable", "")
		return
	}
	h.cfg.Logger.ErrorContext(r.Context(), what, "error", err)
	h.message(w, r, http.StatusInternalServerError, "err.title", "err.internal", "")
}

// start is the first page: SSO when a session satisfies the request, the

// stepURL is a step's page for an auth request.
func stepURL(path, id string) string {
	return path + "?" + url.Values{"authRequestID": {id}}.Encode()
}
