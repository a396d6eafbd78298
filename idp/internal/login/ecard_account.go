package login

import (
	"context"
	"errors"
	"net/http"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/storage"
)

// The account's e-card page (/account/ecard, linked from /account when the
// connector offers connectors.BindingAdmin) lists the citizen's app
// bindings and revokes one: only the citizen's own, since RevokeBinding is
// asked with the citizen's number as its owner. It is a page of its own so
// that viewing /account asks the platform nothing: a networked platform
// without the e-card answers every binding call with a fault, which its
// circuit breaker counts against the card checks.

const (
	accountECardPath = "/account/ecard"
	revokePath       = "/account/ecard/revoke"
)

// bindingView is one app binding on the page.
type bindingView struct {
	ID, Device, BoundAt, LastUsed string
	Revoked                       bool
}

// bindingsView is the account's e-card section: Shown when the connector
// has bindings (/account links to the page), Unavailable when the platform
// did not answer.
type bindingsView struct {
	Shown, Unavailable bool
	List               []bindingView
}

// getAccountECard is the bindings page.
func (h *Handler) getAccountECard(w http.ResponseWriter, r *http.Request) {
	s, ok := h.liveSession(w, r)
	if !ok {
		return
	}
	h.renderBindings(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) renderBindings(w http.ResponseWriter, r *http.Request, s storage.Session, status int, errKey, noticeKey string) {
	if h.cfg.Bindings == nil {
		h.message(w, r, http.StatusNotFound, "err.title", "ecard.none", selfPath)
		return
	}
	ctx := r.Context()
	acct, err := h.cfg.Store.GetAccount(ctx, s.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	p := h.newPage(w, r, nil)
	p.CSRF = h.csrfToken(w, r, "account:"+s.ID)
	v, err := h.accountBindings(ctx, p, acct)
	if err != nil {
		h.internal(w, r, "list e-card bindings", err)
		return
	}
	p.Account = &accountView{Name: acct.Name, Number: acct.SSNMasked, Bindings: v}
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if noticeKey != "" {
		p.Notice = p.T(noticeKey)
	}
	p.Link = selfPath
	h.render(w, status, "ecard_account", p)
}

// accountBindings lists the bindings of acct. The platform away is said on
// the page, not an error of it.
func (h *Handler) accountBindings(ctx context.Context, p *page, acct storage.Account) (bindingsView, error) {
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
		h.message(w, r, http.StatusNotFound, "err.title", "ecard.none", selfPath)
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
	err = connectors.ErrBindingNotFound
	if id != "" {
		cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
		err = h.cfg.Bindings.RevokeBinding(cctx, id, &num)
		cancel()
	}
	switch {
	case errors.Is(err, connectors.ErrBindingNotFound):
		h.cfg.Observer.Login("account", "binding_not_found")
		h.renderBindings(w, r, cur, http.StatusNotFound, "account.binding.unknown", "")
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "revoke e-card binding", "account", acct.ID, "error", err)
		w.Header().Set("Retry-After", "5")
		h.renderBindings(w, r, cur, http.StatusServiceUnavailable, "err.unavailable", "")
	default:
		h.cfg.Logger.InfoContext(ctx, "e-card binding revoked from the account page", "account", acct.ID, "binding", id)
		h.renderBindings(w, r, cur, http.StatusOK, "", "account.binding.revoked.notice")
	}
}
