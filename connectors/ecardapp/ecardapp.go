// Package ecardapp is the app-facing side of the e-card on a card service
// platform (docs/cardplatform-api.md, "The e-card: the app API"): what a
// phone app (examples/ecard-app stands in for it) sends to bind itself to
// a holder, to confirm a QR login, and the counter codes it shows. The
// simulator serves it in-process; examples/cardplatform serves it over
// HTTP; both use these types and the JWS rules below, so an app works
// against either.
//
// The app holds an ES256 key. Binding registers its public key after the
// holder's real-name and real-card checks pass; from then on the app
// proves itself by JWS (RFC 7515, compact serialisation) signed with that
// key, with the binding id as kid:
//
//	confirmation (POST {ticket}/confirm):  {"ticket": ID, "jti", "iat", "exp"}
//	counter code (shown as a QR):          {"use": "counter", "jti", "iat", "exp"}
//
// A JWS is accepted only with alg ES256, a kid naming a live binding, a
// signature by that binding's key, iat not in the future (beyond Skew), exp
// after now and at most MaxJWSLifetime after iat, and a jti (16 to 128
// characters) not seen before within its lifetime. A ticket is confirmed
// once, within its lifetime.
package ecardapp

import (
	"time"
)

// The app API's paths, below the base URL the platform gives (the
// simulator: <issuer>/ecard-sim; examples/cardplatform: <url>/app).
const (
	// PathBindings: POST a BindRequest, answered 201 with a BindResponse.
	PathBindings = "/v1/bindings"
	// PathTickets + "/" + ID: GET answers a TicketInfo; POST
	// PathTickets + "/" + ID + "/confirm" with a confirmation JWS as the
	// body (Content-Type application/jose) answers 204, and POST
	// PathTickets + "/" + ID + "/refuse" with one answers 204 too.
	PathTickets = "/v1/tickets"
)

// ContentTypeJOSE is the media type of a compact JWS body (RFC 7515 §9.2.1).
const ContentTypeJOSE = "application/jose"

// Limits of the JWS the app signs.
const (
	// MaxJWSLifetime bounds exp - iat of a confirmation or a counter code.
	MaxJWSLifetime = 2 * time.Minute
	// CounterCodeLifetime is the lifetime an app gives its counter codes
	// (the code on its screen changes this often).
	CounterCodeLifetime = 60 * time.Second
	// Skew is the clock difference tolerated between app and platform.
	Skew = 30 * time.Second
	// MaxBody bounds every request body of the app API, in bytes.
	MaxBody = 16 << 10
)

// BindRequest binds an app to a holder (POST PathBindings). The platform
// runs the real-name check (name, number) and the real-card check (card
// number, card status normal) first.
type BindRequest struct {
	Name       string `json:"name"`
	Number     string `json:"number"`      // 18 characters, GB 11643-1999
	CardNumber string `json:"card_number"` // 9 characters [0-9A-Z]
	DeviceName string `json:"device_name"` // shown on the account page; 1 to 64 characters
	// PublicKey is the app's P-256 public key as a JWK (RFC 7517) with
	// kty EC, crv P-256, x and y, and no private part.
	PublicKey map[string]any `json:"public_key"`
}

// BindResponse is the 201 answer to a BindRequest: the binding id is the
// kid of the app's JWS from now on.
type BindResponse struct {
	BindingID string    `json:"binding_id"`
	BoundAt   time.Time `json:"bound_at"`
}

// TicketInfo is what the app shows before the holder confirms (GET
// PathTickets/ID): which portal asks, and until when.
type TicketInfo struct {
	Ticket    string    `json:"ticket"`
	Portal    string    `json:"portal"`
	State     string    `json:"state"` // connectors.TicketState
	ExpiresAt time.Time `json:"expires_at"`
}

// Confirmation is the claims of a confirmation (or refusal) JWS.
type Confirmation struct {
	Ticket   string `json:"ticket"`
	JTI      string `json:"jti"`
	IssuedAt int64  `json:"iat"` // seconds since the epoch
	Expiry   int64  `json:"exp"`
}

// CounterCode is the claims of a counter code JWS; the code the staff scan
// is the compact JWS itself.
type CounterCode struct {
	Use      string `json:"use"` // always "counter"
	JTI      string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// UseCounter is CounterCode.Use.
const UseCounter = "counter"

// Error is the JSON body of every 4xx and 5xx answer of the app API.
type Error struct {
	Code    string `json:"error"` // one of the Err* codes
	Message string `json:"message"`
}

// The error codes of the app API.
const (
	ErrBadRequest   = "bad_request"   // 400: malformed body or field
	ErrNotMatched   = "not_matched"   // 403: the real-name or real-card check failed, or the card is not normal
	ErrBadSignature = "bad_signature" // 401: not a valid JWS of a live binding (another key, revoked, malformed)
	ErrReplayed     = "replayed"      // 409: the jti was seen before
	ErrTicketGone   = "ticket_gone"   // 410: unknown or expired ticket
	ErrTicketUsed   = "ticket_used"   // 409: the ticket was confirmed or refused before
	ErrUnavailable  = "unavailable"   // 503
)
