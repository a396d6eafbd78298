package wire

import "time"

// The e-card endpoints (docs/cardplatform-api.md, "The e-card"). Like the
// checks, every request is a signed POST with a JSON body and every answer
// is signed.
const (
	PathECardTickets      = "/v1/ecard/tickets"
	PathECardTicketStatus = "/v1/ecard/tickets/status"
	PathECardCounter      = "/v1/ecard/counter/verify"
	PathECardLicence      = "/v1/ecard/licence"
	PathECardBindings     = "/v1/ecard/bindings"
	PathECardRevoke       = "/v1/ecard/bindings/revoke"
)

// DateLayout is the layout of the dates of a Licence (issue_date,
// valid_until): a calendar date, no time.
const DateLayout = "2006-01-02"

// CodeForbidden (403) is the answer of a platform that refuses a request it
// understands, e.g. the list of every binding.
const CodeForbidden = "forbidden"

// TicketRequest is the body of POST /v1/ecard/tickets.
type TicketRequest struct {
	Portal   string `json:"portal"`    // 1 to 200 bytes, shown by the app
	ClientID string `json:"client_id"` // the portal's OIDC client id or SAML entity id
}

// TicketResponse is the 200 answer of POST /v1/ecard/tickets.
type TicketResponse struct {
	TicketID  string     `json:"ticket_id"`  // 16 to 128 characters [A-Za-z0-9_-]
	ExpiresAt *time.Time `json:"expires_at"` // RFC 3339
	Payload   string     `json:"payload"`    // the QR content: an absolute http(s) URL
}

// TicketStatusRequest is the body of POST /v1/ecard/tickets/status.
type TicketStatusRequest struct {
	TicketID string `json:"ticket_id"`
}

// TicketStatusResponse is the 200 answer of POST /v1/ecard/tickets/status.
// Number, BindingID and ConfirmedAt are sent only when State is
// "confirmed", and then they must be.
type TicketStatusResponse struct {
	State       string     `json:"state"` // pending, confirmed, refused or expired
	Number      string     `json:"number,omitempty"`
	BindingID   string     `json:"binding_id,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
}

// CounterRequest is the body of POST /v1/ecard/counter/verify: the code
// as scanned (a compact JWS, at most 2048 bytes).
type CounterRequest struct {
	Code string `json:"code"`
}

// CounterResponse is the 200 answer of POST /v1/ecard/counter/verify.
// Number, Name and BindingID are sent only when Outcome is "valid", and
// then they must be.
type CounterResponse struct {
	Outcome   string `json:"outcome"` // valid, invalid, expired or used
	Number    string `json:"number,omitempty"`
	Name      string `json:"name,omitempty"`
	BindingID string `json:"binding_id,omitempty"`
}

// LicenceRequest is the body of POST /v1/ecard/licence.
type LicenceRequest struct {
	Number string `json:"number"`
}

// LicenceResponse is the 200 answer of POST /v1/ecard/licence. Licence is
// sent only when Found is true, and then it must be.
type LicenceResponse struct {
	Found   *bool    `json:"found"`
	Licence *Licence `json:"licence,omitempty"`
}

// Licence is the licence data in a LicenceResponse (connectors.Licence).
type Licence struct {
	Name             string `json:"name"`
	Sex              string `json:"sex"`         // male or female
	Nationality      string `json:"nationality"` // ISO 3166-1 alpha-3, e.g. CHN
	Number           string `json:"number"`      // the number asked about
	CardNumber       string `json:"card_number"`
	IssuingRegion    string `json:"issuing_region"` // 6-digit GB/T 2260 code
	IssuingAuthority string `json:"issuing_authority"`
	IssueDate        string `json:"issue_date"`            // DateLayout
	ValidUntil       string `json:"valid_until,omitempty"` // DateLayout; absent: no end date
	Status           string `json:"status"`                // a card status, as in Card
}

// BindingsRequest is the body of POST /v1/ecard/bindings: the bindings of
// Number, or (All true, Number empty) every binding.
type BindingsRequest struct {
	Number string `json:"number,omitempty"`
	All    bool   `json:"all,omitempty"`
}

// BindingsResponse is the 200 answer of POST /v1/ecard/bindings, newest
// first.
type BindingsResponse struct {
	Bindings *[]Binding `json:"bindings"`
}

// Binding is an app binding in a BindingsResponse (connectors.Binding).
type Binding struct {
	ID         string     `json:"id"`
	Number     string     `json:"number"`
	DeviceName string     `json:"device_name"`
	BoundAt    *time.Time `json:"bound_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// RevokeRequest is the body of POST /v1/ecard/bindings/revoke: revoke
// binding ID, only if it is Owner's when Owner is set.
type RevokeRequest struct {
	ID    string `json:"id"`
	Owner string `json:"owner,omitempty"`
}

// RevokeResponse is the 200 answer of POST /v1/ecard/bindings/revoke.
// Found false means no such binding (or another holder's); revoking a
// revoked binding is Found true.
type RevokeResponse struct {
	Found *bool `json:"found"`
}
