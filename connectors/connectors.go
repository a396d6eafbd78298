package connectors

import (
	"context"
	"errors"

	"github.com/cardsso/cardsso/connectors/citizenid"
)

// ErrUnavailable means the card service platform could not answer: it is down,
// too slow, or answered something that is not a valid answer. It never means
// "the details do not match" — that is a result, not an error.
var ErrUnavailable = errors.New("connectors: card service platform unavailable")

// RealNameChecker is the real-name (实名) check: do this name and this social
// security number belong together?
type RealNameChecker interface {
	// CheckRealName returns the platform's answer. A mismatch, and a number
	// the platform does not know, are both RealNameResult{Matched: false}
	// (the platform does not tell them apart, and neither may we). An error
	// wraps ErrUnavailable when the platform could not be asked.
	CheckRealName(ctx context.Context, name string, number citizenid.Number) (RealNameResult, error)
}

// RealNameResult is the answer of a real-name check.
type RealNameResult struct {
	Matched bool
	// CardRegion is the 6-digit GB/T 2260 code of the region that issued the
	// holder's current card, when the platform says it. It is informational:
	// it does not verify the card (that is the real-card check).
	CardRegion string
}
