package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// QR-code login with the e-card app (电子社保卡扫码登录) is a way to
// identify the citizen on the first page, beside the password: it ends as
// postPassword does, with the citizen identified (amr swk), and the steps
// after it (card, face, consent) decide as for any login.
//
//	GET  /login/ecard?authRequestID=…   a ticket for this request (made once,
//	   │                                 kept in the login state), its QR code,
//	   │                                 payload, "I have scanned", meta refresh
//	   │  app: GET <payload>, shows the portal, POST …/confirm (connectors/ecardapp)
//	   ▼
//	GET  /login/ecard/status            {"state": …} for the page's script
//	POST /login/ecard                   "I have scanned" (CSRF)
//	   │  (GET, POST and status all ask the platform; confirmed →)
//	   ▼
//	account by the number's blind index → card status (Licence, else the
//	stored check) → ticket used + citizen identified in one compare-and-swap
//	→ next
//
// The ticket lives in the auth request's login state, and the auth request
// is bound to the browser that started it (request.go): every route here
// refuses another browser's request, so a QR code shown in one browser
// cannot log in another. The app shows the portal name given at
// CreateLoginTicket, so a ticket relayed from a phishing page names the
// real portal.

const (
	ecardPath       = "/login/ecard"
	ecardStatusPath = "/login/ecard/status"

	// ecardMaxTickets bounds the tickets one auth request may make.
	ecardMaxTickets = 5
	// ecardMaxPolls bounds how often one auth request may ask a ticket's
	// state (page refreshes, the script's polls, "I have scanned").
	ecardMaxPolls = 300
	// ecardRefresh is the page's meta refresh, in seconds.
	ecardRefresh = 5
)

// ecardTicket is the e-card ticket of one login attempt, in its login state.
type ecardTicket struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	Payload   string    `json:"payload"`
	// Issued counts the tickets this request made; Polls the platform
	// asked about them.
	Issued int `json:"issued"`
	Polls  int `json:"polls"`
	// Used marks a confirmed ticket that identified the citizen: it
	// identifies nobody again.
	Used bool `json:"used,omitempty"`
}

// Outcomes of the login state's compare-and-swap updates.
var (
	errECardTickets = errors.New("e-card: ticket limit reached")
	errECardPolls   = errors.New("e-card: poll budget spent")
	errECardGone    = errors.New("e-card: the ticket was replaced or used")
)

// ecardRoutes mounts the e-card login's pages (beside the first page's
// forms: loginStep.Mount).
func (h *Handler) ecardRoutes(mux Router) {
	mux.HandleFunc("GET "+ecardPath, h.getECard)
	mux.HandleFunc("POST "+ecardPath, h.limitForms(h.postECard))
	mux.HandleFunc("GET "+ecardStatusPath, h.getECardStatus)
}

// ecardRequest loads the request of an e-card page and its login state;
// false when it answered (another browser, unknown request, no e-card, the
// citizen identified already: on to the next step).
func (h *Handler) ecardRequest(w http.ResponseWriter, r *http.Request) (storage.AuthRequest, state, bool) {
	req, ok := h.loadRequest(w, r)
	if !ok {
		return req, state{}, false
	}
	if h.cfg.Tickets == nil {
		h.message(w, r, http.StatusNotFound, "err.title", "ecard.none", LoginURL(req.ID))
		return req, state{}, false
	}
	if req.Done { // answered already: no new ticket for it
		h.Expired(w, r)
		return req, state{}, false
	}
	st, err := decodeState(req.LoginState)
	if err != nil {
		h.internal(w, r, "decode login state", err)
		return req, st, false
	}
	if st.Auth != nil {
		h.next(w, r, req.ID)
		return req, st, false
	}
	return req, st, true
}

// getECard shows the request's ticket, making one when it has none or when
// the citizen asks for a new one (?new=1, the "try again" link); a ticket
// it has is asked about first (the meta refresh lands here), so that an
// expired one says so.
func (h *Handler) getECard(w http.ResponseWriter, r *http.Request) {
	req, st, ok := h.ecardRequest(w, r)
	if !ok {
		return
	}
	if st.ECard == nil || st.ECard.ID == "" || st.ECard.Used || r.URL.Query().Get("new") == "1" {
		tk, err := h.newTicket(r.Context(), req)
		if err != nil {
			h.ecardFailed(w, r, req, "create ticket", err)
			return
		}
		h.renderECard(w, r, req, tk, http.StatusOK, "")
		return
	}
	h.ecardCheck(w, r, req, *st.ECard, false)
}

// postECard is "I have scanned": the ticket's state is asked at once.
func (h *Handler) postECard(w http.ResponseWriter, r *http.Request) {
	req, st, ok := h.ecardRequest(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	if st.ECard == nil || st.ECard.ID == "" || st.ECard.Used {
		http.Redirect(w, r, stepURL(ecardPath, req.ID), http.StatusSeeOther)
		return
	}
	h.ecardCheck(w, r, req, *st.ECard, true)
}

// ecardCheck asks the platform where tk stands (one poll of the budget)
// and continues: the login when confirmed, a page otherwise. posted marks
// "I have scanned" (a pending ticket then says it is not confirmed yet).
func (h *Handler) ecardCheck(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, tk ecardTicket, posted bool) {
	ts, err := h.pollTicket(r.Context(), req.ID, tk.ID)
	if err != nil {
		h.ecardFailed(w, r, req, "ticket status", err)
		return
	}
	switch ts.State {
	case connectors.TicketConfirmed:
		h.ecardConfirmed(w, r, req, tk, ts)
	case connectors.TicketPending:
		notice := ""
		if posted {
			notice = "ecard.not_yet"
		}
		h.renderECard(w, r, req, tk, http.StatusOK, notice)
	case connectors.TicketRefused:
		h.cfg.Observer.Login("ecard", "refused")
		h.message(w, r, http.StatusForbidden, "ecard.refused.title", "ecard.refused", ecardRetryURL(req.ID))
	default: // expired, or unknown to the platform
		h.cfg.Observer.Login("ecard", "expired")
		h.message(w, r, http.StatusGone, "ecard.expired.title", "ecard.expired", ecardRetryURL(req.ID))
	}
}

// getECardStatus answers the page's script: {"state": "pending" | …}. It
// only reports; the page, reloaded, logs the citizen in.
func (h *Handler) getECardStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := h.cfg.Store.GetAuthRequest(ctx, r.URL.Query().Get("authRequestID"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		writeState(w, http.StatusNotFound, "unknown")
		return
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "e-card status: load auth request", "error", err)
		w.Header().Set("Retry-After", "5")
		writeState(w, http.StatusServiceUnavailable, "unavailable")
		return
	case !h.cfg.Sessions.BoundTo(r, req.BrowserHash):
		h.cfg.Observer.Login("ecard", "other_browser")
		h.cfg.Logger.WarnContext(ctx, "e-card status from another browser refused")
		writeState(w, http.StatusForbidden, "forbidden")
		return
	}
	st, err := decodeState(req.LoginState)
	switch {
	case err != nil || h.cfg.Tickets == nil || st.ECard == nil:
		writeState(w, http.StatusNotFound, "unknown")
		return
	case st.Auth != nil || st.ECard.Used:
		writeState(w, http.StatusOK, "done")
		return
	}
	ts, err := h.pollTicket(ctx, req.ID, st.ECard.ID)
	switch {
	case errors.Is(err, errECardPolls):
		writeState(w, http.StatusTooManyRequests, "limit")
	case errors.Is(err, errECardGone):
		writeState(w, http.StatusOK, "replaced")
	case err != nil:
		h.cfg.Logger.WarnContext(ctx, "e-card status", "error", err)
		w.Header().Set("Retry-After", "5")
		writeState(w, http.StatusServiceUnavailable, "unavailable")
	default:
		writeState(w, http.StatusOK, string(ts.State))
	}
}

// newTicket makes a ticket for req and stores it in the login state. The
// ticket limit is counted first, in a compare-and-swap update, and given
// back when the platform cannot make one: nothing half-written.
func (h *Handler) newTicket(ctx context.Context, req storage.AuthRequest) (ecardTicket, error) {
	issued := 0
	if _, err := h.updateState(ctx, req.ID, func(st *state) error {
		if st.ECard != nil {
			issued = st.ECard.Issued
		}
		if issued >= ecardMaxTickets {
			return errECardTickets
		}
		if st.ECard == nil {
			st.ECard = &ecardTicket{}
		}
		st.ECard.Issued++
		st.ECard.ID = "" // the old ticket is replaced from here on
		return nil
	}); err != nil {
		return ecardTicket{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	lt, err := h.cfg.Tickets.CreateLoginTicket(cctx, connectors.TicketRequest{Portal: h.ticketPortal(ctx, req), ClientID: req.ClientID})
	cancel()
	if err != nil {
		_, _ = h.updateState(context.WithoutCancel(ctx), req.ID, func(st *state) error {
			st.ECard.Issued--
			return nil
		})
		return ecardTicket{}, fmt.Errorf("%w: %w", errCardUnavailable, err)
	}
	var out ecardTicket
	_, err = h.updateState(ctx, req.ID, func(st *state) error {
		st.ECard.ID, st.ECard.ExpiresAt, st.ECard.Payload, st.ECard.Used = lt.ID, lt.ExpiresAt, lt.Payload, false
		out = *st.ECard
		return nil
	})
	if err == nil {
		h.cfg.Observer.Login("ecard", "ticket")
	}
	return out, err
}

// pollTicket counts one poll of the request's budget (in a compare-and-swap
// update, refused when spent or when ticket id is no longer the request's)
// and asks the platform.
func (h *Handler) pollTicket(ctx context.Context, reqID, id string) (connectors.TicketStatus, error) {
	if _, err := h.updateState(ctx, reqID, func(st *state) error {
		switch {
		case st.ECard == nil || st.ECard.ID != id || st.ECard.Used:
			return errECardGone
		case st.ECard.Polls >= ecardMaxPolls:
			return errECardPolls
		}
		st.ECard.Polls++
		return nil
	}); err != nil {
		return connectors.TicketStatus{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	defer cancel()
	ts, err := h.cfg.Tickets.LoginTicketStatus(cctx, id)
	if err != nil {
		return ts, fmt.Errorf("%w: %w", errCardUnavailable, err)
	}
	return ts, nil
}

// ecardConfirmed identifies the citizen whose app confirmed tk: their
// account, their card's status now, and then — once, whichever of
// concurrent requests gets there first — the login.
func (h *Handler) ecardConfirmed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, tk ecardTicket, ts connectors.TicketStatus) {
	ctx := r.Context()
	acct, err := h.cfg.Store.GetAccountBySSNIndex(ctx, h.cfg.Sealer.BlindIndex(ts.Number.String()))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		h.cfg.Observer.Login("ecard", "no_account")
		h.cfg.Logger.InfoContext(ctx, "e-card login: no account", "number", ts.Number, "client", req.ClientID)
		h.message(w, r, http.StatusForbidden, "ecard.noaccount.title", "ecard.noaccount", LoginURL(req.ID))
		return
	case err != nil:
		h.internal(w, r, "find account", err)
		return
	}
	status, err := h.ecardCardStatus(ctx, acct, ts)
	if err != nil {
		h.ecardFailed(w, r, req, "card status", err)
		return
	}
	if !status.Passes() {
		h.cfg.Observer.Login("ecard", "status_"+string(status))
		h.cfg.Logger.InfoContext(ctx, "e-card login: card not normal", "number", ts.Number, "card_status", string(status))
		_ = h.recordCard(ctx, acct.ID, status) // the refusal stands either way
		h.cardRefused(w, r, req, status)
		return
	}
	if err := h.recordCard(ctx, acct.ID, status); err != nil {
		h.internal(w, r, "record card check", err)
		return
	}
	// The ticket is used and the citizen identified in one compare-and-swap:
	// of two concurrent requests that saw it confirmed, one logs in.
	auth := &authState{AccountID: acct.ID, AuthTime: h.cfg.Now().UTC(), AMR: []string{assurance.AMRSoftKey}, DeviceBound: true}
	_, err = h.updateState(ctx, req.ID, func(st *state) error {
		if st.Auth != nil || st.ECard == nil || st.ECard.ID != tk.ID || st.ECard.Used {
			return errECardGone
		}
		st.ECard.Used, st.Auth = true, auth
		return nil
	})
	switch {
	case errors.Is(err, errECardGone):
		// Another request used the ticket first (or a new ticket replaced
		// it): this one logs nobody in.
		h.cfg.Observer.Login("ecard", "used")
		h.message(w, r, http.StatusConflict, "err.title", "ecard.used", "")
		return
	case err != nil:
		h.internal(w, r, "record e-card login", err)
		return
	}
	h.cfg.Observer.Login("ecard", "success")
	h.cfg.Logger.InfoContext(ctx, "e-card login", "number", ts.Number, "account", acct.ID, "binding", ts.BindingID,
		"client", req.ClientID, "ip", clientAddr(r))
	h.next(w, r, req.ID)
}

// ecardCardStatus is the card's status now: the platform's licence data
// when the connector has it, else the account's last card check.
func (h *Handler) ecardCardStatus(ctx context.Context, acct storage.Account, ts connectors.TicketStatus) (connectors.CardStatus, error) {
	if h.cfg.Licences == nil {
		return cardCheck(acct).Status, nil
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	defer cancel()
	l, found, err := h.cfg.Licences.Licence(cctx, ts.Number)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: %w", errCardUnavailable, err)
	case !found:
		return "", nil // no card: "unknown" status, refused
	}
	return l.Status, nil
}

// recordCard records the card status the platform gave now as the
// account's card check (a normal card is verified now).
func (h *Handler) recordCard(ctx context.Context, accountID string, status connectors.CardStatus) error {
	if h.cfg.Licences == nil {
		return nil // nothing new was asked
	}
	now := h.cfg.Now().UTC()
	return h.cfg.Store.UpdateAccount(ctx, accountID, func(a storage.Account) (storage.Account, error) {
		a.CardStatus = string(status)
		a.CardCheckedAt = &now
		if status.Passes() {
			a.CardVerifiedAt = &now
		}
		a.UpdatedAt = now
		return a, nil
	})
}

// ecardFailed answers an e-card page whose ticket could not be made or
// asked about: the platform away (503 with Retry-After), a limit, a ticket
// replaced meanwhile, a store fault.
func (h *Handler) ecardFailed(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, what string, err error) {
	ctx := r.Context()
	switch {
	case errors.Is(err, errECardTickets):
		h.cfg.Observer.Login("ecard", "ticket_limit")
		h.message(w, r, http.StatusTooManyRequests, "err.title", "ecard.limit", LoginURL(req.ID))
	case errors.Is(err, errECardPolls):
		h.cfg.Observer.Login("ecard", "poll_limit")
		h.message(w, r, http.StatusTooManyRequests, "err.title", "ecard.limit", LoginURL(req.ID))
	case errors.Is(err, errECardGone):
		http.Redirect(w, r, stepURL(ecardPath, req.ID), http.StatusSeeOther)
	case errors.Is(err, errCardUnavailable):
		h.cfg.Observer.Check("ecard", "unavailable")
		h.cfg.Logger.WarnContext(ctx, "e-card "+what+" failed", "client", req.ClientID,
			"unavailable", errors.Is(err, connectors.ErrUnavailable), "error", err)
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, "err.title", "err.unavailable", stepURL(ecardPath, req.ID))
	default:
		h.internal(w, r, "e-card "+what, err)
	}
}

// ticketPortal is the name the app shows the holder: the portal's display
// name, cut to connectors.MaxPortalName bytes.
func (h *Handler) ticketPortal(ctx context.Context, req storage.AuthRequest) string {
	name := ""
	if isSelf(req) {
		name = h.msgs[langCodes[0]]["account.title"]
	} else if prov := h.provider(req); prov != nil {
		name = prov.DisplayName(ctx, req.ClientID)
	}
	if name == "" {
		name = req.ClientID
	}
	if name == "" {
		name = "CardSSO"
	}
	for len(name) > connectors.MaxPortalName {
		r := []rune(name)
		name = string(r[:len(r)-1])
	}
	return name
}

// ecardRetryURL is the "try again" link: a new ticket for the request.
func ecardRetryURL(id string) string { return stepURL(ecardPath, id) + "&new=1" }
