package login

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/cardsso/cardsso/storage"
)

// Consenter is implemented by front ends whose requests release claims the
// citizen must agree to (found by type assertion on the Provider).
type Consenter interface {
	// ConsentScopes returns the scopes the request would release (after the
	// release policy) and whether the client is exempt from consent (a
	// first-party client).
	ConsentScopes(ctx context.Context, req storage.AuthRequest) (scopes []string, exempt bool, err error)
}

// consentNeeded reports whether the citizen must be asked: the client is
// not exempt, and the request asks for a scope not granted before, or
// prompt=consent.
func (h *Handler) consentNeeded(ctx context.Context, req storage.AuthRequest, accountID string) (bool, error) {
	c, ok := h.provider(req).(Consenter)
	if !ok || isSelf(req) {
		return false, nil
	}
	scopes, exempt, err := c.ConsentScopes(ctx, req)
	if err != nil || exempt {
		return false, err
	}
	if slices.Contains(req.Prompt, "consent") {
		st, _ := decodeState(req.LoginState)
		return st.Auth == nil || !st.Auth.Consented, nil
	}
	granted, err := h.cfg.Store.GetConsent(ctx, accountID, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return len(scopes) > 0, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(granted.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// getConsent lists, in plain words, what the portal will receive.
func (h *Handler) getConsent(w http.ResponseWriter, r *http.Request) {
	req, _, _, ok := h.authOf(w, r)
	if !ok {
		return
	}
	c, isConsenter := h.provider(req).(Consenter)
	if !isConsenter {
		h.next(w, r, req.ID)
		return
	}
	scopes, _, err := c.ConsentScopes(r.Context(), req)
	if err != nil {
		h.internal(w, r, "consent scopes", err)
		return
	}
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	p.ClientName = h.provider(req).DisplayName(r.Context(), req.ClientID)
	for _, s := range scopes {
		if key := "consent.scope." + s; p.T(key) != key {
			p.Items = append(p.Items, p.T(key))
		}
	}
	h.render(w, http.StatusOK, "consent", p)
}

// postConsent records the citizen's answer: allow remembers the grant per
// client and scope set; deny returns access_denied to the portal.
func (h *Handler) postConsent(w http.ResponseWriter, r *http.Request) {
	req, st, acct, ok := h.authOf(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	c, isConsenter := h.provider(req).(Consenter)
	if !isConsenter {
		h.next(w, r, req.ID)
		return
	}
	switch r.PostFormValue("consent") {
	case "allow":
	case "deny":
		h.cfg.Observer.Login("consent", "denied")
		h.provider(req).ReturnError(w, r, req.ID, "access_denied", "the citizen did not consent")
		return
	default:
		h.message(w, r, http.StatusBadRequest, "err.title", "err.consent.choose", stepURL("/login/consent", req.ID))
		return
	}
	ctx := r.Context()
	scopes, _, err := c.ConsentScopes(ctx, req)
	if err != nil {
		h.internal(w, r, "consent scopes", err)
		return
	}
	if prev, err := h.cfg.Store.GetConsent(ctx, acct.ID, req.ClientID); err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if err := h.cfg.Store.PutConsent(ctx, storage.Consent{AccountID: acct.ID, ClientID: req.ClientID, Scopes: scopes, GrantedAt: h.cfg.Now().UTC()}); err != nil {
		h.internal(w, r, "save consent", err)
		return
	}
	h.cfg.Observer.Login("consent", "granted")
	st.Auth.Consented = true
	if err := h.saveState(ctx, req.ID, st); err != nil {
		h.internal(w, r, "save login state", err)
		return
	}
	h.next(w, r, req.ID)
}
