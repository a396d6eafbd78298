package cardplatform

import (
	"fmt"
	"strings"

	"github.com/cardsso/cardsso/connectors"
)

// The checks, as they appear in errors and in the "check" label of the
// metrics.
const (
	CheckRealName = "realname"
	CheckCard     = "card"
	CheckFace     = "face"
)

// FaultKind says what went wrong in a FaultError. Its values are also the
// "outcome" label of the calls metric.
type FaultKind string

// The kinds of fault.
const (
	// FaultUnreachable: no answer because the connection failed (refused,
	// reset, no route, a TLS handshake that failed).
	FaultUnreachable FaultKind = "unreachable"
	// FaultTimeout: no answer within Config.Timeout.
	FaultTimeout FaultKind = "timeout"
	// FaultServerError: the platform answered 5xx, 408 or 429.
	FaultServerError FaultKind = "server_error"
	// FaultBadResponse: a 200 answer that is not a valid answer: not JSON,
	// a required field missing, a value out of range, too large.
	FaultBadResponse FaultKind = "bad_response"
	// FaultBadSignature: an answer not signed with our secret, not bound to
	// our request, or with a timestamp outside the skew window. It may be
	// forged or tampered with; nothing in it is used.
	FaultBadSignature FaultKind = "bad_signature"
	// FaultBreakerOpen: the circuit breaker is open after consecutive
	// faults; the platform was not asked.
	FaultBreakerOpen FaultKind = "breaker_open"
)

// FaultError reports that a check could not be made because of the
// platform or the path to it. It wraps connectors.ErrUnavailable (and the
// cause, when there is one): the citizen should try again later. Its
// message never contains the name, the number or the photo.
type FaultError struct {
	Check      string    // CheckRealName, CheckCard or CheckFace
	Kind       FaultKind // what went wrong
	StatusCode int       // the HTTP status of the answer, or 0 when none came
	Attempts   int       // requests sent (0 when the breaker was open)
	Err        error     // the cause, or nil
}

// Error returns e.g. "cardplatform: realname check: server_error (HTTP 503)
// after 3 attempts: connectors: card service platform unavailable".
func (e *FaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cardplatform: %s check: %s", e.Check, e.Kind)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	fmt.Fprintf(&b, ": %v", connectors.ErrUnavailable)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns connectors.ErrUnavailable and the cause.
func (e *FaultError) Unwrap() []error {
	if e.Err == nil {
		return []error{connectors.ErrUnavailable}
	}
	return []error{connectors.ErrUnavailable, e.Err}
}

// RefusedError reports that the platform refused the request with a 4xx
// status: the fault is on CardSSO's side (a bad request, a wrong client id
// or secret, a clock outside the skew window), so trying again will not
// help; an operator has to look. It does not wrap
// connectors.ErrUnavailable. (A refused photo is connectors.ErrInvalidPhoto
// instead.)
type RefusedError struct {
	Check      string // CheckRealName, CheckCard or CheckFace
	StatusCode int    // 400, 401, 404, 405, 413, …
	Code       string // the platform's error code (wire.Code…), or "" when the answer had none
	Message    string // the platform's message, shortened, with the name and number taken out
}

// Error returns e.g. "cardplatform: realname check: platform refused the
// request (HTTP 401 bad_signature): signature does not match".
func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cardplatform: %s check: platform refused the request (HTTP %d", e.Check, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	b.WriteString(")")
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}
