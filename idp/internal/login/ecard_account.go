package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/storage"
)

// The account page lists the citizen's e-card app bindings (when the
// connector offers connectors.BindingAdmin) and revokes one: only the
// citizen's own, since RevokeBinding is asked with the citizen's number as
// its owner.

// bindingView is one app binding on the account page.
type bindingView struct {
	ID, Device, BoundAt, LastUsed string
	Revoked                       bool
}

// bindingsView is the account page's e-card section: Shown when the
// connector has bindings, Unavailable when the platform did not answer.
type bindingsView struct {
	Shown, Unavailable bool
	List               []bindingView
}

// accountBindings lists the bindings of acct for the account page. The
// platform away is said on the page, not an error of it.
func (h *Handler) accountBindings(ctx context.Context, p *page, acct storage.Account) (bindingsView, error) {
	if h.cfg.Bindings == nil {
		return bindingsView{}, nil
	}
	num, err := h.number(acct)
	if err != nil {
		return bindingsView{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	defer cancel()
	bs, err := h.cfg.Bindings.Bindings(cctx, &num)
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "list e-card bindings", "account", acct.ID, "error", err)
		return bindingsView{Shown: true, Unavailable: true}, nil
	}
	v := bindingsView{Shown: true}
	for _, b := range bs {
		bv := bindingView{ID: b.ID, Device: b.DeviceName, BoundAt: b.BoundAt.Format(timeLayout),
			LastUsed: p.T("account.binding.never"), Revoked: !b.RevokedAt.IsZero()}
		if !b.LastUsedAt.IsZero() {
			bv.LastUsed = b.LastUsedAt.Format(timeLayout)
		}
		v.List = append(v.List, bv)
	}
	return v, nil
}

// postAccountRevokeBinding revokes one of the citizen's app bindings. A
// binding id that is not the citizen's (another's, an unknown one) is
// refused and revokes nothing.
func (h *Handler) postAccountRevokeBinding(w http.ResponseWriter, r *http.Request) {
	cur, ok := h.accountSession(w, r)
	if !ok {
		return
	}
	if h.cfg.Bindings == nil {
		h.renderAccount(w, r, cur, http.StatusNotFound, "account.binding.unknown", "")
		return
	}
	ctx := r.Context()
	acct, err := h.cfg.Store.GetAccount(ctx, cur.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	num, err := h.number(acct)
	if err != nil {
		h.internal(w, r, "open number", err)
		return
	}
	id := r.PostFormValue("binding")
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	err = h.cfg.Bindings.RevokeBinding(cctx, id, &num)
	cancel()
	switch {
	case errors.Is(err, connectors.ErrBindingNotFound) || (err == nil && id == ""):
		h.cfg.Observer.Login("account", "binding_not_found")
		h.renderAccount(w, r, cur, http.StatusNotFound, "account.binding.unknown", "")
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "revoke e-card binding", "account", acct.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		h.renderAccount(w, r, cur, http.StatusServiceUnavailable, "err.unavailable", "")
	default:
		h.cfg.Logger.InfoContext(ctx, "e-card binding revoked from the account page", "account", acct.ID, "binding", id)
		h.renderAccount(w, r, cur, http.StatusOK, "", "account.binding.revoked.notice")
	}
}
