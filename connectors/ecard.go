package connectors

import (
	"context"
	"errors"
	"time"

	"github.com/cardsso/cardsso/connectors/citizenid"
)

// The electronic social security card (电子社保卡) lives on the card service
// platform, in the national app or an app that hosts it; CardSSO consumes
// it through three small interfaces, as it does the checks:
//
//   - LoginTickets: QR-code login. CardSSO asks for a ticket, shows its
//     payload as a QR code, and asks the ticket's state until a holder's
//     bound app has confirmed it (or refused, or it expired).
//   - CounterVerifier: counter verification (亮证). Staff scan the dynamic
//     code the citizen's app shows, and CardSSO asks who it belongs to.
//   - LicenceFetcher: the card's electronic licence (社保卡电子证照) data.
//
// As for the checks, "not confirmed", "invalid" and "not found" are
// results; an error means the platform could not answer and wraps
// ErrUnavailable. BindingAdmin lists and revokes the app bindings (the
// account page, `cardsso ecard bindings`).
//
// The app-facing side (binding an app to a holder, confirming a ticket,
// making counter codes) is the platform's, not CardSSO's: see
// docs/cardplatform-api.md, "The e-card", and connectors/ecardapp.

// TicketLifetime bounds how long a login ticket may be confirmed. A
// platform may give a shorter one (LoginTicket.ExpiresAt).
const TicketLifetime = 2 * time.Minute

// MaxPortalName bounds TicketRequest.Portal, in bytes.
const MaxPortalName = 200

// TicketRequest asks for a login ticket.
type TicketRequest struct {
	// Portal is the name of the portal (OIDC client or SAML SP) the
	// citizen is logging in to, as CardSSO shows it: the app shows it to
	// the holder before they confirm, so that a ticket relayed from a
	// phishing page names the real portal. 1 to MaxPortalName bytes.
	Portal string
	// ClientID identifies that portal (for the platform's records).
	ClientID string
}

// LoginTicket is a ticket to show as a QR code.
type LoginTicket struct {
	// ID names the ticket for LoginTicketStatus: 16 to 128 characters of
	// [A-Za-z0-9_-].
	ID string
	// ExpiresAt is when the ticket can no longer be confirmed.
	ExpiresAt time.Time
	// Payload is what the QR code carries: the URL of the ticket on the
	// platform's app API (the app fetches it, shows the portal, confirms).
	Payload string
}

// TicketState is where a login ticket stands.
type TicketState string

// The ticket states.
const (
	TicketPending   TicketState = "pending"   // not yet confirmed or refused
	TicketConfirmed TicketState = "confirmed" // a bound app confirmed it
	TicketRefused   TicketState = "refused"   // the holder refused it in the app
	TicketExpired   TicketState = "expired"   // its lifetime passed first (or it is unknown)
)

// TicketStatus is the answer of LoginTicketStatus.
type TicketStatus struct {
	State TicketState
	// When State is TicketConfirmed: the holder's number, the binding that
	// confirmed, and when.
	Number      citizenid.Number
	BindingID   string
	ConfirmedAt time.Time
}

// LoginTickets is QR-code login with the e-card app.
type LoginTickets interface {
	// CreateLoginTicket makes a ticket for one login attempt.
	CreateLoginTicket(ctx context.Context, req TicketRequest) (LoginTicket, error)
	// LoginTicketStatus says where the ticket stands. An unknown ticket is
	// TicketExpired. A confirmed ticket answers TicketConfirmed every time
	// it is asked (CardSSO makes the login single-use on its side).
	LoginTicketStatus(ctx context.Context, id string) (TicketStatus, error)
}

// MaxCounterCode bounds a scanned counter code, in bytes.
const MaxCounterCode = 2048

// CounterOutcome is the answer to a scanned counter code.
type CounterOutcome string

// The counter outcomes.
const (
	CounterValid   CounterOutcome = "valid"   // the code is the holder's, now
	CounterInvalid CounterOutcome = "invalid" // not a code, another key, a revoked binding
	CounterExpired CounterOutcome = "expired" // its short lifetime passed
	CounterUsed    CounterOutcome = "used"    // it was verified before (codes are single-use)
)

// CounterResult is the answer of VerifyCounterCode.
type CounterResult struct {
	Outcome CounterOutcome
	// When Outcome is CounterValid: whose code it is.
	Number    citizenid.Number
	Name      string
	BindingID string
}

// CounterVerifier is counter verification (亮证/扫码).
type CounterVerifier interface {
	// VerifyCounterCode verifies a code scanned from a citizen's app (at
	// most MaxCounterCode bytes). A code verified once is CounterUsed
	// afterwards.
	VerifyCounterCode(ctx context.Context, code string) (CounterResult, error)
}

// Licence is the key elements of a social security card's electronic
// licence (社会保障卡电子证照), as the platform holds them. CardSSO signs the
// document it issues from them.
type Licence struct {
	Name             string
	Sex              string // "male" or "female" (GB/T 2261.1: 1, 2)
	Nationality      string // e.g. "CHN" (ISO 3166-1 alpha-3)
	Number           citizenid.Number
	CardNumber       string
	IssuingRegion    string // 6-digit GB/T 2260 code
	IssuingAuthority string // e.g. "北京市人力资源和社会保障局"
	IssueDate        time.Time
	ValidUntil       time.Time // zero: no end date
	Status           CardStatus
}

// LicenceFetcher fetches a card's electronic licence data.
type LicenceFetcher interface {
	// Licence returns the licence data of number's current card; found is
	// false when the platform holds none.
	Licence(ctx context.Context, number citizenid.Number) (l Licence, found bool, err error)
}

// Binding is an e-card app bound to a holder: the app registered a
// public key after the holder's real-name and real-card checks passed.
type Binding struct {
	ID         string
	Number     citizenid.Number
	DeviceName string
	BoundAt    time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: live
}

// BindingAdmin lists and revokes app bindings.
type BindingAdmin interface {
	// Bindings lists the bindings, live and revoked, newest first: those of
	// *number, or every binding when number is nil (an administrator's
	// list; a platform may refuse it).
	Bindings(ctx context.Context, number *citizenid.Number) ([]Binding, error)
	// RevokeBinding revokes binding id: from then on its confirmations and
	// counter codes are refused. With owner set (the citizen's own account
	// page) it revokes only a binding of *owner. ErrBindingNotFound when
	// there is no such binding (or it is another holder's). Revoking a
	// revoked binding is not an error.
	RevokeBinding(ctx context.Context, id string, owner *citizenid.Number) error
}

// ErrBindingNotFound means the holder has no binding of that id.
var ErrBindingNotFound = errors.New("connectors: no such e-card binding")
