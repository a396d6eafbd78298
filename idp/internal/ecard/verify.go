package ecard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// verifyAnswer is the 200 answer of POST /ecard/verify.
type verifyAnswer struct {
	VerificationID string `json:"verification_id"`
	Name           string `json:"name"`
	SSNMasked      string `json:"ssn_masked"`
	CardRegion     string `json:"card_region"`
	CardStatus     string `json:"card_status"`
	VerifiedAt     string `json:"verified_at"` // RFC 3339
}

// outcomeErrors maps the platform's refusals to the codes answered (422).
var outcomeErrors = map[connectors.CounterOutcome]struct{ code, description string }{
	connectors.CounterInvalid: {errInvalidCode, "not a counter code of a live e-card binding"},
	connectors.CounterExpired: {errExpiredCode, "the code has expired: ask the holder to show a new one"},
	connectors.CounterUsed:    {errUsedCode, "the code was verified before (codes are single-use)"},
}

// verify serves POST /ecard/verify: a staff app's token with
// cardsso.counter, a scanned code; the holder's name, masked number and the
// card's status now. Every request of an authenticated client is recorded
// (storage.CounterLog) with its outcome: "valid" or the error code
// answered. A success whose record cannot be written answers 503 and names
// no one.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec := storage.CounterVerification{ID: newID(), At: h.cfg.Now()}
	t, refused := h.bearer(w, r, release.ScopeCounter)
	rec.ClientID = t.ClientID
	if refused != "" {
		// Only a caller CardSSO authenticated is recorded (a client
		// without the scope): an anonymous or forged token would let anyone
		// grow the table; those refusals are logged.
		if rec.ClientID != "" {
			h.record(ctx, rec, refused)
		} else {
			h.cfg.Logger.InfoContext(ctx, "e-card: counter verification refused", "outcome", refused)
		}
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxVerifyBody)
	var req struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Code == "" || len(req.Code) > connectors.MaxCounterCode {
		status, desc := http.StatusBadRequest, `the body must be JSON {"code": "<the scanned code>"}`
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status, desc = http.StatusRequestEntityTooLarge, "request body too large"
		}
		h.record(ctx, rec, errInvalidRequest)
		writeError(w, status, errInvalidRequest, desc)
		return
	}
	res, err := h.cfg.Counter.VerifyCounterCode(ctx, req.Code)
	if err != nil {
		h.unavailable(w, r, rec, "counter code", err)
		return
	}
	rec.BindingID = res.BindingID
	if res.Outcome != connectors.CounterValid {
		e, ok := outcomeErrors[res.Outcome]
		if !ok {
			e = outcomeErrors[connectors.CounterInvalid]
		}
		h.record(ctx, rec, e.code)
		writeError(w, http.StatusUnprocessableEntity, e.code, e.description)
		return
	}
	rec.NumberMasked = res.Number.Masked()
	region, status, err := h.cardNow(ctx, res)
	if err != nil {
		h.unavailable(w, r, rec, "card status", err)
		return
	}
	rec.Outcome = string(connectors.CounterValid)
	if err := h.cfg.Store.RecordCounterVerification(ctx, rec); err != nil {
		h.cfg.Logger.ErrorContext(ctx, "e-card: record counter verification", "client", rec.ClientID, "error", err)
		writeError(w, http.StatusServiceUnavailable, errUnavailable, "the verification could not be recorded; try again")
		return
	}
	h.cfg.Logger.InfoContext(ctx, "e-card: counter verification", "client", rec.ClientID, "verification", rec.ID,
		"binding", rec.BindingID, "ssn", rec.NumberMasked)
	writeJSON(w, http.StatusOK, verifyAnswer{
		VerificationID: rec.ID, Name: res.Name, SSNMasked: rec.NumberMasked,
		CardRegion: region, CardStatus: string(status), VerifiedAt: rec.At.UTC().Format(time.RFC3339),
	})
}

// cardNow is the card's issuing region and status at this moment: the
// platform's licence data, or without a LicenceFetcher the region of the
// number and no status ("unknown").
func (h *Handler) cardNow(ctx context.Context, res connectors.CounterResult) (string, connectors.CardStatus, error) {
	if h.cfg.Licences == nil {
		return res.Number.Region(), "unknown", nil
	}
	l, found, err := h.cfg.Licences.Licence(ctx, res.Number)
	if err != nil {
		return "", "", err
	}
	if !found {
		return res.Number.Region(), "unknown", nil
	}
	return l.IssuingRegion, l.Status, nil
}

// unavailable answers 503 for a platform fault and records it.
func (h *Handler) unavailable(w http.ResponseWriter, r *http.Request, rec storage.CounterVerification, what string, err error) {
	h.cfg.Logger.WarnContext(r.Context(), "e-card: platform unavailable", "what", what, "client", rec.ClientID, "error", err)
	h.record(r.Context(), rec, errUnavailable)
	writeError(w, http.StatusServiceUnavailable, errUnavailable, "the card service platform is unavailable; try again later")
}

// record stores a refusal's record; a failure is logged (the refusal is
// answered all the same).
func (h *Handler) record(ctx context.Context, rec storage.CounterVerification, outcome string) {
	rec.Outcome = outcome
	if err := h.cfg.Store.RecordCounterVerification(ctx, rec); err != nil {
		h.cfg.Logger.ErrorContext(ctx, "e-card: record counter verification", "client", rec.ClientID, "outcome", outcome, "error", err)
	}
}
