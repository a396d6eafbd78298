package connectors

import (
	"context"
	"errors"
	"regexp"

	"github.com/cardsso/cardsso/connectors/citizenid"
)

// CardStatus is the application status of a social security card (卡应用状态).
// Only CardNormal passes the real-card check.
//
// No public code table for these statuses was found (domain notes §2.3), so
// the values are this project's own and are the words used on the wire and in
// fixture files.
type CardStatus string

// The card statuses.
const (
	// CardNormal (正常): the card and its e-card are usable.
	CardNormal CardStatus = "normal"
	// CardSealed (封存): the card is made but not yet handed to the holder.
	CardSealed CardStatus = "sealed"
	// CardReportedLostTemporary (临时挂失): reported lost by telephone or
	// online; the report expires after a few days unless made formal.
	CardReportedLostTemporary CardStatus = "reported_lost_temporary"
	// CardReportedLost (正式挂失): formally reported lost, in writing.
	CardReportedLost CardStatus = "reported_lost"
	// CardCancelled (注销): the card is cancelled for good.
	CardCancelled CardStatus = "cancelled"
)

// Valid reports whether s is one of the known statuses.
func (s CardStatus) Valid() bool {
	switch s {
	case CardNormal, CardSealed, CardReportedLostTemporary, CardReportedLost, CardCancelled:
		return true
	}
	return false
}

// Passes reports whether a card in this status passes the real-card check.
func (s CardStatus) Passes() bool { return s == CardNormal }

var cardNumberPattern = regexp.MustCompile(`^[0-9A-Z]{9}$`)

// ValidCardNumber reports whether s has the form of a card number (社会保障卡
// 卡号): 9 characters, digits and capital letters. No public definition of
// its structure was found, so nothing beyond the form is checked.
func ValidCardNumber(s string) bool { return cardNumberPattern.MatchString(s) }

// Card is a social security card as the platform describes it. A card is
// identified by (Region, Number): card numbers are unique only within their
// issuing region.
type Card struct {
	Region     string     // 6-digit GB/T 2260 code of the issuing region
	Number     string     // 9-character card number
	Status     CardStatus // application status
	Generation int        // 1, 2 or 3 (third generation from 2021)
}

// CardChecker is the real-card (实卡) check: does this card belong to this
// person, and what is its status?
type CardChecker interface {
	// CheckCard returns Matched false when the number, name and card number
	// do not belong together (including an unknown number or card). When
	// they do, Card describes the card whatever its status: the caller
	// decides (only CardNormal passes). cardNumber is normalised to upper
	// case by the caller and has the form ValidCardNumber accepts.
	CheckCard(ctx context.Context, name string, number citizenid.Number, cardNumber string) (CardResult, error)
}

// CardResult is the answer of a real-card check.
type CardResult struct {
	Matched bool
	Card    Card
}

// FaceChecker is the real-person (实人) check: is the face in a live photo the
// face on this person's card?
type FaceChecker interface {
	// CheckFace compares photo (PNG or JPEG, at most MaxPhotoBytes) with the
	// card photo of number. challenge is the single-use value CardSSO issued
	// for this attempt; the platform binds the comparison to it. The
	// similarity score never leaves the connector: the answer is pass or
	// fail. A photo that cannot be decoded gives an error wrapping
	// ErrInvalidPhoto; a number without a card photo is Passed false.
	CheckFace(ctx context.Context, number citizenid.Number, photo []byte, challenge string) (FaceResult, error)
}

// FaceResult is the answer of a real-person check.
type FaceResult struct {
	Passed bool
}

// MaxPhotoBytes is the largest live photo a FaceChecker accepts.
const MaxPhotoBytes = 5 << 20

// ErrInvalidPhoto means the live photo is not a PNG or JPEG image of
// acceptable size; the citizen should take or choose another one.
var ErrInvalidPhoto = errors.New("connectors: photo is not a usable PNG or JPEG image")
