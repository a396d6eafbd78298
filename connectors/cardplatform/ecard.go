package cardplatform

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// The e-card calls, as they appear in errors and in the "check" label of
// the metrics (docs/cardplatform-api.md, "The e-card").
const (
	CheckTicket       = "ecard_ticket"
	CheckTicketStatus = "ecard_ticket_status"
	CheckCounter      = "ecard_counter"
	CheckLicence      = "ecard_licence"
	CheckBindings     = "ecard_bindings"
	CheckRevoke       = "ecard_revoke"
)

var (
	_ connectors.LoginTickets    = (*Client)(nil)
	_ connectors.CounterVerifier = (*Client)(nil)
	_ connectors.LicenceFetcher  = (*Client)(nil)
	_ connectors.BindingAdmin    = (*Client)(nil)
)

// Bounds of what the e-card answers may carry. An answer outside them is
// a fault of kind FaultBadResponse.
const (
	maxPayloadBytes = 2048 // a ticket's QR payload
	maxNameRunes    = 64   // a holder's name
	maxDeviceRunes  = 64   // a binding's device name
	maxFieldBytes   = 200  // the other text fields of a licence
	maxBindings     = 200  // bindings in one list
	// maxTicketLifetime bounds how far in the future a ticket may expire:
	// the lifetime CardSSO allows plus the clock skew.
	maxTicketLifetime = connectors.TicketLifetime + wire.DefaultSkew
)

// CreateLoginTicket implements connectors.LoginTickets with POST
// /v1/ecard/tickets. It is not idempotent (each request makes a ticket):
// it is sent again only when no connection could be made. Errors are as
// for CheckRealName.
func (c *Client) CreateLoginTicket(ctx context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	if req.Portal == "" || len(req.Portal) > connectors.MaxPortalName || !utf8.ValidString(req.Portal) {
		return connectors.LoginTicket{}, fmt.Errorf("cardplatform: %s: portal must be 1 to %d bytes of UTF-8", CheckTicket, connectors.MaxPortalName)
	}
	var res connectors.LoginTicket
	err := c.call(ctx, callSpec{
		check: CheckTicket, path: wire.PathECardTickets, idempotent: false,
		payload: wire.TicketRequest{Portal: req.Portal, ClientID: req.ClientID},
		accept: func(body []byte) (string, error) {
			var r wire.TicketResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			switch {
			case !validTicketID(r.TicketID):
				return "", errors.New("ticket_id is not 16 to 128 characters [A-Za-z0-9_-]")
			case r.ExpiresAt == nil:
				return "", errors.New("answer has no expires_at")
			case r.ExpiresAt.After(c.s.now().Add(maxTicketLifetime)):
				return "", errors.New("expires_at is further than the ticket lifetime")
			case !r.ExpiresAt.After(c.s.now().Add(-c.s.skew)):
				return "", errors.New("expires_at has passed")
			case !validPayload(r.Payload):
				return "", fmt.Errorf("payload is not an absolute http(s) URL of at most %d bytes", maxPayloadBytes)
			}
			res = connectors.LoginTicket{ID: r.TicketID, ExpiresAt: *r.ExpiresAt, Payload: r.Payload}
			return "created", nil
		},
	})
	if err != nil {
		return connectors.LoginTicket{}, err
	}
	return res, nil
}

// LoginTicketStatus implements connectors.LoginTickets with POST
// /v1/ecard/tickets/status (idempotent: sent again after a fault). A
// confirmed ticket must name a valid number, a binding and a time. An id
// that is not a ticket id (16 to 128 characters [A-Za-z0-9_-]) is an
// unknown ticket, TicketExpired, without asking the platform.
func (c *Client) LoginTicketStatus(ctx context.Context, id string) (connectors.TicketStatus, error) {
	if !validTicketID(id) {
		return connectors.TicketStatus{State: connectors.TicketExpired}, nil
	}
	var res connectors.TicketStatus
	err := c.call(ctx, callSpec{
		check: CheckTicketStatus, path: wire.PathECardTicketStatus, idempotent: true,
		payload: wire.TicketStatusRequest{TicketID: id},
		accept: func(body []byte) (string, error) {
			var r wire.TicketStatusResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			st := connectors.TicketState(r.State)
			switch st {
			case connectors.TicketPending, connectors.TicketRefused, connectors.TicketExpired:
				res = connectors.TicketStatus{State: st}
				return "ticket_" + r.State, nil
			case connectors.TicketConfirmed:
			default:
				return "", errors.New("state is not a known ticket state")
			}
			n, err := citizenid.Parse(r.Number)
			switch {
			case err != nil:
				return "", errors.New("a confirmed ticket without a valid number")
			case !validBindingID(r.BindingID):
				return "", errors.New("a confirmed ticket without a valid binding_id")
			case r.ConfirmedAt == nil:
				return "", errors.New("a confirmed ticket without confirmed_at")
			}
			res = connectors.TicketStatus{State: st, Number: n, BindingID: r.BindingID, ConfirmedAt: *r.ConfirmedAt}
			return "ticket_" + r.State, nil
		},
	})
	if err != nil {
		return connectors.TicketStatus{}, err
	}
	return res, nil
}

// VerifyCounterCode implements connectors.CounterVerifier with POST
// /v1/ecard/counter/verify. It is idempotent for the caller (a code the
// platform verified before is "used", which a retry after a lost answer
// may also give). A valid code must name a valid number, a name and a
// binding. An empty code, or one over connectors.MaxCounterCode bytes, is
// CounterInvalid without asking the platform.
func (c *Client) VerifyCounterCode(ctx context.Context, code string) (connectors.CounterResult, error) {
	if code == "" || len(code) > connectors.MaxCounterCode {
		return connectors.CounterResult{Outcome: connectors.CounterInvalid}, nil
	}
	var res connectors.CounterResult
	err := c.call(ctx, callSpec{
		check: CheckCounter, path: wire.PathECardCounter, idempotent: true,
		payload: wire.CounterRequest{Code: code},
		accept: func(body []byte) (string, error) {
			var r wire.CounterResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			o := connectors.CounterOutcome(r.Outcome)
			switch o {
			case connectors.CounterInvalid, connectors.CounterExpired, connectors.CounterUsed:
				res = connectors.CounterResult{Outcome: o}
				return r.Outcome, nil
			case connectors.CounterValid:
			default:
				return "", errors.New("outcome is not a known counter outcome")
			}
			n, err := citizenid.Parse(r.Number)
			switch {
			case err != nil:
				return "", errors.New("a valid code without a valid number")
			case !validText(r.Name, maxNameRunes):
				return "", fmt.Errorf("a valid code without a name of 1 to %d characters", maxNameRunes)
			case !validBindingID(r.BindingID):
				return "", errors.New("a valid code without a valid binding_id")
			}
			res = connectors.CounterResult{Outcome: o, Number: n, Name: r.Name, BindingID: r.BindingID}
			return r.Outcome, nil
		},
	})
	if err != nil {
		return connectors.CounterResult{}, err
	}
	return res, nil
}

// Licence implements connectors.LicenceFetcher with POST
// /v1/ecard/licence (idempotent). A licence found must be of the number
// asked about, with every field valid (see licenceOf).
func (c *Client) Licence(ctx context.Context, number citizenid.Number) (connectors.Licence, bool, error) {
	if number.IsZero() {
		return connectors.Licence{}, false, fmt.Errorf("cardplatform: %s: no number", CheckLicence)
	}
	var res connectors.Licence
	var found bool
	err := c.call(ctx, callSpec{
		check: CheckLicence, path: wire.PathECardLicence, idempotent: true, number: number,
		payload: wire.LicenceRequest{Number: number.String()},
		accept: func(body []byte) (string, error) {
			var r wire.LicenceResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			switch {
			case r.Found == nil:
				return "", errors.New("answer has no found field")
			case !*r.Found:
				return "not_found", nil
			case r.Licence == nil:
				return "", errors.New("a licence found without a licence")
			}
			l, err := licenceOf(*r.Licence, number)
			if err != nil {
				return "", err
			}
			res, found = l, true
			return "found", nil
		},
	})
	if err != nil {
		return connectors.Licence{}, false, err
	}
	return res, found, nil
}

// licenceOf validates the licence of number the platform sent.
func licenceOf(w wire.Licence, number citizenid.Number) (connectors.Licence, error) {
	issued, err := time.Parse(wire.DateLayout, w.IssueDate)
	if err != nil {
		return connectors.Licence{}, errors.New("licence.issue_date is not a date")
	}
	var until time.Time
	if w.ValidUntil != "" {
		if until, err = time.Parse(wire.DateLayout, w.ValidUntil); err != nil || until.Before(issued) {
			return connectors.Licence{}, errors.New("licence.valid_until is not a date after issue_date")
		}
	}
	switch {
	case w.Number != number.String():
		return connectors.Licence{}, errors.New("licence.number is not the number asked about")
	case !validText(w.Name, maxNameRunes):
		return connectors.Licence{}, fmt.Errorf("licence.name is not 1 to %d characters", maxNameRunes)
	case w.Sex != "male" && w.Sex != "female":
		return connectors.Licence{}, errors.New("licence.sex is not male or female")
	case !validAlpha3(w.Nationality):
		return connectors.Licence{}, errors.New("licence.nationality is not an ISO 3166-1 alpha-3 code")
	case !connectors.ValidCardNumber(w.CardNumber):
		return connectors.Licence{}, errors.New("licence.card_number is not a card number")
	case !citizenid.ValidRegion(w.IssuingRegion):
		return connectors.Licence{}, errors.New("licence.issuing_region is not a 6-digit region code")
	case !validText(w.IssuingAuthority, maxFieldBytes):
		return connectors.Licence{}, errors.New("licence.issuing_authority is missing or too long")
	case !connectors.CardStatus(w.Status).Valid():
		return connectors.Licence{}, errors.New("licence.status is not a known status")
	}
	return connectors.Licence{
		Name: w.Name, Sex: w.Sex, Nationality: w.Nationality, Number: number,
		CardNumber: w.CardNumber, IssuingRegion: w.IssuingRegion, IssuingAuthority: w.IssuingAuthority,
		IssueDate: issued, ValidUntil: until, Status: connectors.CardStatus(w.Status),
	}, nil
}

// validTicketID reports whether id is 16 to 128 characters [A-Za-z0-9_-]
// (connectors.LoginTicket.ID).
func validTicketID(id string) bool { return len(id) >= 16 && validToken(id) }

// validBindingID reports whether id is 1 to 128 characters [A-Za-z0-9_-].
func validBindingID(id string) bool { return id != "" && validToken(id) }

func validToken(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validPayload reports whether p is an absolute http or https URL of at
// most maxPayloadBytes.
func validPayload(p string) bool {
	if p == "" || len(p) > maxPayloadBytes {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// validText reports whether s is 1 to max runes of UTF-8 without control
// characters.
func validText(s string, max int) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func validAlpha3(s string) bool {
	return len(s) == 3 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z' && 'A' <= s[2] && s[2] <= 'Z'
}
