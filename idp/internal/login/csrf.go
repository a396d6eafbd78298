package login

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/cardsso/cardsso/idp/internal/session"
)

const csrfCookie = "cardsso_csrf"

// csrfToken returns the token for a form bound to this browser (a random
// cookie) and to its purpose (the auth request id, or "logout"), setting the
// cookie when the browser has none.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, purpose string) string {
	c, err := r.Cookie(h.csrfName())
	value := ""
	if err == nil && len(c.Value) >= 32 {
		value = c.Value
	} else {
		value = rand.Text() + rand.Text()
		http.SetCookie(w, &http.Cookie{Name: h.csrfName(), Value: value, Path: "/",
			HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode})
		// Later reads in this request see the new value.
		r.AddCookie(&http.Cookie{Name: h.csrfName(), Value: value})
	}
	return base64.RawURLEncoding.EncodeToString(h.cfg.CSRF.Sum([]byte(purpose + "\x00" + value)))
}

// checkCSRF verifies the form's token; a missing or wrong token answers 403
// with a page saying what to do.
func (h *Handler) checkCSRF(w http.ResponseWriter, r *http.Request, purpose string) bool {
	c, err := r.Cookie(h.csrfName())
	tok, derr := base64.RawURLEncoding.DecodeString(r.PostFormValue("csrf_token"))
	if err != nil || derr != nil || len(tok) == 0 || !h.cfg.CSRF.Equal([]byte(purpose+"\x00"+c.Value), tok) {
		h.cfg.Observer.Login("form", "csrf_rejected")
		h.message(w, r, http.StatusForbidden, "err.title", "err.csrf", "")
		return false
	}
	return true
}

// csrfName is the CSRF cookie's name: __Host- prefixed under an https
// issuer (session.CookieName).
func (h *Handler) csrfName() string { return session.CookieName(csrfCookie, h.cfg.Secure) }
