package login

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/text/width"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// cardPath is the real-card step's page.
const cardPath = "/login/card"

// cardStep is the real-card check: a request of level 2 or more needs a
// card check of the account that passed within CardTTL.
var cardStep = &Step{
	Name: "card", Path: cardPath, PromptNone: "login_required",
	Done: func(_ context.Context, h *Handler, f *flow) (bool, error) {
		level, err := f.required()
		if err != nil {
			return false, fmt.Errorf("required level: %w", err)
		}
		return level < assurance.LoA2 || cardCheck(f.acct).Verified(h.cfg.Now(), h.cfg.CardTTL), nil
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("GET "+cardPath, h.getCard)
		mux.HandleFunc("POST "+cardPath, h.limitForms(h.postCard))
	},
}

// getCard is the real-card step. A card checked before whose check went
// stale is asked about again without a form; a card found not normal is
// named; otherwise the citizen enters the card number.
func (h *Handler) getCard(w http.ResponseWriter, r *http.Request) {
	req, st, acct, ok := h.authOf(w, r)
	if !ok || h.refuseStale(w, r, req, st, acct) {
		return
	}
	if h.cfg.Card == nil {
		h.unavailableLevel(w, r, req)
		return
	}
	now := h.cfg.Now()
	check := cardCheck(acct)
	switch {
	case check.Verified(now, h.cfg.CardTTL):
		h.next(w, r, req.ID)
		return
	case acct.CardNumber != "" && check.Stale(now, h.cfg.CardTTL):
		// Re-check the known card: no guess, so not counted.
		h.checkCard(w, r, req, acct, acct.CardNumber, nil)
		return
	case acct.CardNumber != "" && !check.Status.Passes():
		h.cardRefused(w, r, req, check.Status)
		return
	}
	h.renderCard(w, r, req, http.StatusOK, "", "")
}

func (h *Handler) renderCard(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, status int, errKey, value string) {
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	if errKey != "" {
		p.Error = p.T(errKey)
	}
	p.Values["card_number"] = value
	p.Link = stepURL(cancelPath, req.ID)
	h.render(w, status, "card", p)
}

func (h *Handler) postCard(w http.ResponseWriter, r *http.Request) {
	req, st, acct, ok := h.authOf(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) || h.refuseStale(w, r, req, st, acct) {
		return
	}
	if h.cfg.Card == nil {
		h.unavailableLevel(w, r, req)
		return
	}
	raw := r.PostFormValue("card_number")
	cn := normaliseCardNumber(raw)
	if !connectors.ValidCardNumber(cn) {
		h.renderCard(w, r, req, http.StatusBadRequest, "err.card.form", raw)
		return
	}
	// A card number typed in is a guess until the platform says it is the
	// citizen's: counted before the check, per account and per address.
	limits := h.cardLimits(r, acct.ID)
	if ok, err := h.cardAttempt(r, acct, limits); err != nil {
		h.internal(w, r, "count card attempt", err)
		return
	} else if !ok {
		h.message(w, r, http.StatusTooManyRequests, "err.title", "err.card.locked", stepURL(cancelPath, req.ID))
		return
	}
	h.checkCard(w, r, req, acct, cn, limits)
}

// cardAttempt counts an entered card number on limits; false when a limit
// is reached (the check must not run).
func (h *Handler) cardAttempt(r *http.Request, acct storage.Account, limits []limit) (bool, error) {
	ctx := r.Context()
	counts, locked, err := h.attempt(ctx, limits...)
	if err != nil || !locked {
		return !locked, err
	}
	h.cfg.Observer.Login("card", "locked")
	h.cfg.Logger.InfoContext(ctx, "real-card check locked", "account", acct.ID, "ip", clientAddr(r),
		"by_account", counts[0] > limits[0].max, "by_ip", counts[1] > limits[1].max)
	return false, nil
}

// Outcomes of a card check that are not a recorded answer.
var (
	errCardUnavailable = errors.New("card service unavailable")
	errCardMismatch    = errors.New("card does not belong to the citizen")
)

// verifyCard asks the platform about a card and records the answer on the
// account. Nothing is written when the platform cannot answer
// (errCardUnavailable) or the card does not belong to the citizen
// (errCardMismatch).
func (h *Handler) verifyCard(ctx context.Context, clientID string, acct storage.Account, cardNumber string) (connectors.Card, error) {
	num, err := h.number(acct)
	if err != nil {
		return connectors.Card{}, fmt.Errorf("open number: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, h.cfg.CheckTimeout)
	res, err := h.cfg.Card.CheckCard(cctx, acct.Name, num, cardNumber)
	cancel()
	if err != nil {
		h.cfg.Observer.Check("card", "unavailable")
		h.cfg.Logger.WarnContext(ctx, "real-card check failed", "number", num, "client", clientID,
			"unavailable", errors.Is(err, connectors.ErrUnavailable), "error", err)
		return connectors.Card{}, errCardUnavailable
	}
	if !res.Matched {
		h.cfg.Observer.Check("card", "mismatch")
		h.cfg.Logger.InfoContext(ctx, "real-card check: no match", "number", num, "client", clientID)
		return connectors.Card{}, errCardMismatch
	}
	now := h.cfg.Now().UTC()
	err = h.cfg.Store.UpdateAccount(ctx, acct.ID, func(a storage.Account) (storage.Account, error) {
		a.CardNumber, a.CardRegion = res.Card.Number, res.Card.Region
		if a.CardNumber == "" {
			a.CardNumber = cardNumber
		}
		a.CardStatus, a.CardGeneration = string(res.Card.Status), res.Card.Generation
		a.CardCheckedAt = &now
		if res.Card.Status.Passes() {
			a.CardVerifiedAt = &now
		}
		a.UpdatedAt = now
		return a, nil
	})
	if err != nil {
		return connectors.Card{}, fmt.Errorf("record card check: %w", err)
	}
	outcome := "match"
	if !res.Card.Status.Passes() {
		outcome = "status_" + string(res.Card.Status)
	}
	h.cfg.Observer.Check("card", outcome)
	h.cfg.Logger.InfoContext(ctx, "real-card check", "number", num, "client", clientID,
		"card_region", res.Card.Region, "card_status", string(res.Card.Status))
	return res.Card, nil
}

// checkCard runs the check for a login and continues or explains. The
// attempt counted on limits stays counted only when the card did not match.
func (h *Handler) checkCard(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, acct storage.Account, cardNumber string, limits []limit) {
	card, err := h.verifyCard(r.Context(), req.ClientID, acct, cardNumber)
	if !errors.Is(err, errCardMismatch) {
		h.forgive(r.Context(), limits...)
	}
	switch {
	case errors.Is(err, errCardUnavailable):
		h.renderCard(w, r, req, http.StatusServiceUnavailable, "err.unavailable", cardNumber)
	case errors.Is(err, errCardMismatch):
		h.renderCard(w, r, req, http.StatusUnauthorized, "err.card.mismatch", cardNumber)
	case err != nil:
		h.internal(w, r, "card check", err)
	case !card.Status.Passes():
		h.cardRefused(w, r, req, card.Status)
	default:
		h.next(w, r, req.ID)
	}
}

// normaliseCardNumber folds what a citizen typed (full-width, lower case,
// spaces) into the card number form.
func normaliseCardNumber(raw string) string {
	return strings.ToUpper(strings.Join(strings.Fields(width.Narrow.String(raw)), ""))
}

// cardRefused says which status keeps the card from the real-card check.
func (h *Handler) cardRefused(w http.ResponseWriter, r *http.Request, req storage.AuthRequest, s connectors.CardStatus) {
	key := "card.status." + string(s)
	if !s.Valid() {
		key = "card.status.unknown"
	}
	h.message(w, r, http.StatusForbidden, "card.refused.title", key, stepURL(cancelPath, req.ID))
}

// unavailableLevel: the connector offers no check for the level asked.
func (h *Handler) unavailableLevel(w http.ResponseWriter, r *http.Request, req storage.AuthRequest) {
	h.message(w, r, http.StatusServiceUnavailable, "err.title", "err.level_unavailable", stepURL(cancelPath, req.ID))
}
