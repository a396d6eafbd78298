package login

import (
	"crypto/rand"
	"errors"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// The account page (/account) is the citizen's own: it shows what CardSSO
// holds about them (masked) and lets them verify their card at any time.
// It lives with the login pages because it shares their templates,
// messages, CSRF protection and card check.
//
// A citizen without a session logs in through the same steps as for a
// portal, over an auth request of CardSSO's own: ClientID is empty and the
// login ends at /account instead of a protocol callback.

const selfPath = "/account"

func isSelf(req storage.AuthRequest) bool { return req.ClientID == "" }

// startSelf begins a login for the account page.
func (h *Handler) startSelf(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now().UTC()
	req := storage.AuthRequest{ID: rand.Text(), RedirectURI: selfPath, CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	if err := h.cfg.Store.CreateAuthRequest(r.Context(), req); err != nil {
		h.internal(w, r, "create account login", err)
		return
	}
	http.Redirect(w, r, LoginURL(req.ID), http.StatusFound)
}

// accountView is what the account page shows.
type accountView struct {
	Name, Number, Registered       string
	CardNumber, CardRegion         string
	CardStatus, CardChecked, Level string
}

func (h *Handler) getAccount(w http.ResponseWriter, r *http.Request) {
	s, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	if !live {
		h.startSelf(w, r)
		return
	}
	h.renderAccount(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, s storage.Session, status int, errKey, noticeKey string) {
	acct, err := h.cfg.Store.GetAccount(r.Context(), s.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	p := h.newPage(w, r, nil)
	p.CSRF = h.csrfToken(w, r, "account:"+s.ID)
	v := &accountView{
		Name: acct.Name, Number: acct.SSNMasked, Registered: acct.CreatedAt.Format("2006-01-02"),
		CardNumber: acct.CardNumber, CardRegion: acct.CardRegion,
	}
	if acct.CardStatus != "" {
		v.CardStatus = p.T("card.status." + acct.CardStatus)
	}
	if acct.CardCheckedAt != nil {
		v.CardChecked = acct.CardCheckedAt.Format("2006-01-02 15:04 MST")
	}
	v.Level = assurance.Compute(cardCheck(acct), h.cfg.CardTTL, false, h.cfg.Now()).ACR()
	p.Account = v
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	if noticeKey != "" {
		p.Notice = p.T(noticeKey)
	}
	h.render(w, status, "account", p)
}

// postAccountCard verifies the citizen's card from the account page.
func (h *Handler) postAccountCard(w http.ResponseWriter, r *http.Request) {
	s, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return
	}
	if !live {
		h.startSelf(w, r)
		return
	}
	if !h.checkCSRF(w, r, "account:"+s.ID) {
		return
	}
	if h.cfg.Card == nil {
		h.renderAccount(w, r, s, http.StatusServiceUnavailable, "err.level_unavailable", "")
		return
	}
	cn := normaliseCardNumber(r.PostFormValue("card_number"))
	if !connectors.ValidCardNumber(cn) {
		h.renderAccount(w, r, s, http.StatusBadRequest, "err.card.form", "")
		return
	}
	acct, err := h.cfg.Store.GetAccount(r.Context(), s.AccountID)
	if err != nil {
		h.internal(w, r, "load account", err)
		return
	}
	limits := h.cardLimits(r, acct.ID)
	if ok, err := h.cardAttempt(r, acct, limits); err != nil {
		h.internal(w, r, "count card attempt", err)
		return
	} else if !ok {
		h.renderAccount(w, r, s, http.StatusTooManyRequests, "err.card.locked", "")
		return
	}
	card, err := h.verifyCard(r.Context(), "account", acct, cn)
	if !errors.Is(err, errCardMismatch) {
		h.forgive(r.Context(), limits...)
	}
	switch {
	case errors.Is(err, errCardUnavailable):
		h.renderAccount(w, r, s, http.StatusServiceUnavailable, "err.unavailable", "")
	case errors.Is(err, errCardMismatch):
		h.renderAccount(w, r, s, http.StatusUnauthorized, "err.card.mismatch", "")
	case err != nil:
		h.internal(w, r, "card check", err)
	case !card.Status.Passes():
		h.renderAccount(w, r, s, http.StatusOK, "card.status."+string(card.Status), "")
	default:
		h.renderAccount(w, r, s, http.StatusOK, "", "account.card.verified")
	}
}
