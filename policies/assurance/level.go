package assurance

import (
	"time"

	"github.com/cardsso/cardsso/connectors"
)

// CardCheck is the last real-card check of an account.
type CardCheck struct {
	Status    connectors.CardStatus // "" when there was none
	CheckedAt time.Time             // zero when there was none
}

// Stale reports whether the check is missing or older than ttl at now, so
// the card's status must be asked again before it counts.
func (c CardCheck) Stale(now time.Time, ttl time.Duration) bool {
	return c.CheckedAt.IsZero() || now.Sub(c.CheckedAt) > ttl
}

// Verified reports whether the check gives level 2 at now: it found the card
// in normal status and is not stale.
func (c CardCheck) Verified(now time.Time, ttl time.Duration) bool {
	return c.Status.Passes() && !c.Stale(now, ttl)
}

// Compute returns the level of an authentication: level 1 for a real-name
// verified account, 2 when its card is verified and the check still fresh,
// 3 when in addition this authentication passed the face check. A face match
// without a verified card does not raise the level (docs/architecture.md, "Assurance levels": each level
// includes the one below).
func Compute(card CardCheck, cardTTL time.Duration, facePassed bool, now time.Time) Level {
	if !card.Verified(now, cardTTL) {
		return LoA1
	}
	if facePassed {
		return LoA3
	}
	return LoA2
}
