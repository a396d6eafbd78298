package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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

const timeLayout = "2006-01-02 15:04 MST"

func isSelf(req storage.AuthRequest) bool { return req.ClientID == "" }

// startSelf begins a login for the account page.
func (h *Handler) startSelf(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now().UTC()
	req := storage.AuthRequest{ID: rand.Text(), RedirectURI: selfPath, BrowserHash: h.Bind(w, r),
		CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
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
	Sessions                       []sessionView
	Consents                       []consentView
	Bindings                       bindingsView // the e-card apps (ecard_account.go)
}

// sessionView is one live session of the citizen. Ref names it in the end
// form: a MAC of its id, so the page shows no session id, and a reference
// is only ever looked up among the citizen's own sessions.
type sessionView struct {
	Ref, Started, LastSeen, Level string
	Portals                       []string
	Current                       bool
}

// consentView is one remembered consent.
type consentView struct {
	ClientID, Portal, Granted string
	Items                     []string
}

// levelWords names a level for the citizen ("二级（实卡）").
func levelWords(p *page, acr string) string {
	l, err := assurance.ParseACR(acr)
	if err != nil {
		return acr
	}
	if key := fmt.Sprintf("level.%d", l); p.T(key) != key {
		return p.T(key)
	}
	return acr
}

// sessionRef is the reference of a session on the account page.
func (h *Handler) sessionRef(id string) string {
	return base64.RawURLEncoding.EncodeToString(h.cfg.CSRF.Sum([]byte("account-session\x00" + id))[:16])
}

// portalName is the name of a session participant (an OIDC client id, or
// "saml:" and a SAML entity id).
func (h *Handler) portalName(ctx context.Context, participant string) string {
	if entity, ok := strings.CutPrefix(participant, "saml:"); ok {
		if p := h.cfg.Providers[ProtocolSAML]; p != nil {
			return p.DisplayName(ctx, entity)
		}
		return entity
	}
	if p := h.cfg.Providers[ProtocolOIDC]; p != nil {
		return p.DisplayName(ctx, participant)
	}
	return participant
}

func (h *Handler) getAccount(w http.ResponseWriter, r *http.Request) {
	s, ok := h.liveSession(w, r)
	if !ok {
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
		v.CardChecked = acct.CardCheckedAt.Format(timeLayout)
	}
	v.Level = levelWords(p, assurance.Compute(cardCheck(acct), h.cfg.CardTTL, false, h.cfg.Now()).ACR())
	ctx := r.Context()
	sessions, err := h.cfg.Store.ListSessionsByAccount(ctx, acct.ID)
	if err != nil {
		h.internal(w, r, "list sessions", err)
		return
	}
	for _, ss := range sessions {
		if !h.cfg.Sessions.Live(ss) {
			continue
		}
		sv := sessionView{
			Ref: h.sessionRef(ss.ID), Started: ss.AuthTime.Format(timeLayout),
			LastSeen: ss.LastSeenAt.Format(timeLayout), Level: levelWords(p, ss.ACR), Current: ss.ID == s.ID,
		}
		for _, c := range ss.Clients {
			if name := h.portalName(ctx, c); !slices.Contains(sv.Portals, name) {
				sv.Portals = append(sv.Portals, name)
			}
		}
		v.Sessions = append(v.Sessions, sv)
	}
	consents, err := h.cfg.Store.ListConsents(ctx, acct.ID)
	if err != nil {
		h.internal(w, r, "list consents", err)
		return
	}
	for _, c := range consents {
		v.Consents = append(v.Consents, consentView{
			ClientID: c.ClientID, Portal: h.portalName(ctx, c.ClientID),
			Granted: c.GrantedAt.Format("2006-01-02"), Items: consentLabels(p, c.Scopes),
		})
	}
	v.Bindings.Shown = h.cfg.Bindings != nil // a link to /account/ecard (ecard_account.go)
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
	s, ok := h.accountSession(w, r)
	if !ok {
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

// accountSession is the live session of an account-page post whose CSRF
// token holds; otherwise it has answered.
func (h *Handler) accountSession(w http.ResponseWriter, r *http.Request) (storage.Session, bool) {
	s, ok := h.liveSession(w, r)
	if !ok || !h.checkCSRF(w, r, "account:"+s.ID) {
		return s, false
	}
	return s, true
}

// liveSession is the browser's live session for an account page; without
// one it has sent the citizen to log in to the account (or answered the
// fault).
func (h *Handler) liveSession(w http.ResponseWriter, r *http.Request) (storage.Session, bool) {
	s, live, err := h.cfg.Sessions.Current(r)
	if err != nil {
		h.internal(w, r, "read session", err)
		return s, false
	}
	if !live {
		h.startSelf(w, r)
		return s, false
	}
	return s, true
}

// postAccountEndSession ends one of the citizen's own sessions, with the
// same fan-out as a logout (back-channel logout to its OIDC portals, the
// SAML logout chain through this browser). Ending the current session is
// logging out. A reference that names none of the citizen's live sessions
// (another citizen's, a stale one) is refused and ends nothing.
func (h *Handler) postAccountEndSession(w http.ResponseWriter, r *http.Request) {
	cur, ok := h.accountSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	sessions, err := h.cfg.Store.ListSessionsByAccount(ctx, cur.AccountID)
	if err != nil {
		h.internal(w, r, "list sessions", err)
		return
	}
	ref := r.PostFormValue("session")
	var target *storage.Session
	for i := range sessions {
		if ref != "" && hmac.Equal([]byte(h.sessionRef(sessions[i].ID)), []byte(ref)) {
			target = &sessions[i]
			break
		}
	}
	if target == nil || target.AccountID != cur.AccountID {
		h.cfg.Observer.Login("account", "session_not_found")
		h.renderAccount(w, r, cur, http.StatusNotFound, "err.account.session", "")
		return
	}
	if target.ID == cur.ID {
		h.endSession(w, r, "")
		return
	}
	ended, live, err := h.cfg.Sessions.EndID(ctx, target.ID)
	if err != nil {
		h.internal(w, r, "end session", err)
		return
	}
	if live {
		h.cfg.Logger.InfoContext(ctx, "session ended from the account page", "account", cur.AccountID, "clients", ended.Clients)
		if h.cfg.SessionEnded != nil {
			if via := h.cfg.SessionEnded(w, r, ended, selfPath); via != "" {
				http.Redirect(w, r, via, http.StatusSeeOther)
				return
			}
		}
	}
	h.renderAccount(w, r, cur, http.StatusOK, "", "account.session.ended")
}

// postAccountWithdraw withdraws a remembered consent: the portal asks
// again at the citizen's next login there.
func (h *Handler) postAccountWithdraw(w http.ResponseWriter, r *http.Request) {
	cur, ok := h.accountSession(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	client := r.PostFormValue("client")
	if _, err := h.cfg.Store.GetConsent(ctx, cur.AccountID, client); errors.Is(err, storage.ErrNotFound) || client == "" {
		h.renderAccount(w, r, cur, http.StatusNotFound, "err.account.consent", "")
		return
	} else if err != nil {
		h.internal(w, r, "load consent", err)
		return
	}
	if err := h.cfg.Store.DeleteConsent(ctx, cur.AccountID, client); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.internal(w, r, "withdraw consent", err)
		return
	}
	h.cfg.Logger.InfoContext(ctx, "consent withdrawn", "account", cur.AccountID, "client", client)
	h.renderAccount(w, r, cur, http.StatusOK, "", "account.consent.withdrawn")
}
