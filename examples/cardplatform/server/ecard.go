package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// ECard is what serves the e-card endpoints: the four e-card interfaces
// of connectors (the simulator implements them).
type ECard interface {
	connectors.LoginTickets
	connectors.CounterVerifier
	connectors.LicenceFetcher
	connectors.BindingAdmin
}

// appPrefix is where Config.App is served.
const appPrefix = "/app"

// ecardChecks names the e-card endpoints, by path, for route and the logs.
var ecardChecks = map[string]string{
	wire.PathECardTickets:      "ecard_ticket",
	wire.PathECardTicketStatus: "ecard_ticket_status",
	wire.PathECardCounter:      "ecard_counter",
	wire.PathECardLicence:      "ecard_licence",
	wire.PathECardBindings:     "ecard_bindings",
	wire.PathECardRevoke:       "ecard_revoke",
}

// serveECard answers an authenticated request to an e-card endpoint.
func (h *Handler) serveECard(x *exchange, body []byte) {
	if h.ecard == nil {
		h.refuse(x, http.StatusNotImplemented, wire.CodeNotImplemented, "this platform does not offer the e-card")
		return
	}
	switch x.r.URL.Path {
	case wire.PathECardTickets:
		h.createTicket(x, body)
	case wire.PathECardTicketStatus:
		h.ticketStatus(x, body)
	case wire.PathECardCounter:
		h.verifyCounter(x, body)
	case wire.PathECardLicence:
		h.licence(x, body)
	case wire.PathECardBindings:
		h.bindings(x, body)
	case wire.PathECardRevoke:
		h.revoke(x, body)
	}
}

func (h *Handler) createTicket(x *exchange, body []byte) {
	var req wire.TicketRequest
	if !h.decode(x, body, &req) {
		return
	}
	if req.Portal == "" || len(req.Portal) > connectors.MaxPortalName {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "portal must be 1 to 200 bytes")
		return
	}
	t, err := h.ecard.CreateLoginTicket(x.r.Context(), connectors.TicketRequest{Portal: req.Portal, ClientID: req.ClientID})
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	h.answer(x, "created", wire.TicketResponse{TicketID: t.ID, ExpiresAt: &t.ExpiresAt, Payload: t.Payload})
}

func (h *Handler) ticketStatus(x *exchange, body []byte) {
	var req wire.TicketStatusRequest
	if !h.decode(x, body, &req) {
		return
	}
	if req.TicketID == "" || len(req.TicketID) > 128 {
		// No ticket has that id: an unknown ticket is expired.
		h.answer(x, string(connectors.TicketExpired), wire.TicketStatusResponse{State: string(connectors.TicketExpired)})
		return
	}
	st, err := h.ecard.LoginTicketStatus(x.r.Context(), req.TicketID)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := wire.TicketStatusResponse{State: string(st.State)}
	if st.State == connectors.TicketConfirmed {
		x.number = st.Number
		out.Number, out.BindingID, out.ConfirmedAt = st.Number.String(), st.BindingID, &st.ConfirmedAt
	}
	h.answer(x, string(st.State), out)
}

func (h *Handler) verifyCounter(x *exchange, body []byte) {
	var req wire.CounterRequest
	if !h.decode(x, body, &req) {
		return
	}
	if req.Code == "" || len(req.Code) > connectors.MaxCounterCode {
		h.answer(x, string(connectors.CounterInvalid), wire.CounterResponse{Outcome: string(connectors.CounterInvalid)})
		return
	}
	res, err := h.ecard.VerifyCounterCode(x.r.Context(), req.Code)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := wire.CounterResponse{Outcome: string(res.Outcome)}
	if res.Outcome == connectors.CounterValid {
		x.number = res.Number
		out.Number, out.Name, out.BindingID = res.Number.String(), res.Name, res.BindingID
	}
	h.answer(x, string(res.Outcome), out)
}

func (h *Handler) licence(x *exchange, body []byte) {
	var req wire.LicenceRequest
	if !h.decode(x, body, &req) || !h.parseNumber(x, req.Number) {
		return
	}
	l, found, err := h.ecard.Licence(x.r.Context(), x.number)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := wire.LicenceResponse{Found: &found}
	if found {
		out.Licence = &wire.Licence{
			Name: l.Name, Sex: l.Sex, Nationality: l.Nationality, Number: l.Number.String(),
			CardNumber: l.CardNumber, IssuingRegion: l.IssuingRegion, IssuingAuthority: l.IssuingAuthority,
			IssueDate: l.IssueDate.Format(wire.DateLayout), Status: string(l.Status),
		}
		if !l.ValidUntil.IsZero() {
			out.Licence.ValidUntil = l.ValidUntil.Format(wire.DateLayout)
		}
	}
	h.answer(x, outcome(found, "found", "not_found"), out)
}

func (h *Handler) bindings(x *exchange, body []byte) {
	var req wire.BindingsRequest
	if !h.decode(x, body, &req) {
		return
	}
	var number *citizenid.Number
	switch {
	case req.All && req.Number == "":
	case !req.All && req.Number != "":
		if !h.parseNumber(x, req.Number) {
			return
		}
		number = &x.number
	default:
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "send number or all, not both")
		return
	}
	list, err := h.ecard.Bindings(x.r.Context(), number)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := make([]wire.Binding, 0, len(list))
	for _, b := range list {
		out = append(out, wire.Binding{
			ID: b.ID, Number: b.Number.String(), DeviceName: b.DeviceName, BoundAt: &b.BoundAt,
			LastUsedAt: timeOrNil(b.LastUsedAt), RevokedAt: timeOrNil(b.RevokedAt),
		})
	}
	h.answer(x, "listed", wire.BindingsResponse{Bindings: &out})
}

func (h *Handler) revoke(x *exchange, body []byte) {
	var req wire.RevokeRequest
	if !h.decode(x, body, &req) {
		return
	}
	if req.ID == "" || len(req.ID) > 128 {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "id must be 1 to 128 characters")
		return
	}
	var owner *citizenid.Number
	if req.Owner != "" {
		if !h.parseNumber(x, req.Owner) {
			return
		}
		owner = &x.number
	}
	found := true
	if err := h.ecard.RevokeBinding(x.r.Context(), req.ID, owner); errors.Is(err, connectors.ErrBindingNotFound) {
		found = false
	} else if err != nil {
		h.checkFailed(x, err)
		return
	}
	h.answer(x, outcome(found, "revoked", "not_found"), wire.RevokeResponse{Found: &found})
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
