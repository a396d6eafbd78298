package password

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Policy bounds, in characters (Unicode code points after NFKC).
const (
	MinLength = 8
	MaxLength = 128
)

// Errors of CheckPolicy, for the page to say which rule failed.
var (
	// ErrTooShort: fewer than MinLength characters.
	ErrTooShort = errors.New("password: too short")
	// ErrTooLong: more than MaxLength characters.
	ErrTooLong = errors.New("password: too long")
	// ErrTooSimple: characters of fewer than two classes (letters, digits,
	// others).
	ErrTooSimple = errors.New("password: needs two kinds of characters")
	// ErrInvalidText: not valid UTF-8, or contains control characters.
	ErrInvalidText = errors.New("password: invalid characters")
)

// CheckPolicy checks a new password (not one being verified) against the
// policy: 8 to 128 characters, counted after NFKC normalisation as Hash
// does; at least two of three classes, letters (any script, so Chinese
// characters count), digits, and everything else (punctuation, symbols,
// spaces); valid UTF-8 without control characters.
//
// Eight characters of mixed classes is what the 等保 (MLPS 2.0) assessments
// of government systems expect; NIST SP 800-63B asks for no composition
// rules but allows them. Not checked here: breached-password lists, the
// account's own name or number, repetition. The errors never contain the
// password.
func CheckPolicy(password string) error {
	if !utf8.ValidString(password) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidText)
	}
	pw := norm.NFKC.String(password)
	n := utf8.RuneCountInString(pw)
	if n < MinLength {
		return fmt.Errorf("%w: %d characters, at least %d needed", ErrTooShort, n, MinLength)
	}
	if n > MaxLength {
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrTooLong, n, MaxLength)
	}
	var letters, digits, others bool
	for _, r := range pw {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("%w: control character", ErrInvalidText)
		case unicode.IsLetter(r):
			letters = true
		case unicode.IsDigit(r):
			digits = true
		default:
			others = true
		}
	}
	if b2i(letters)+b2i(digits)+b2i(others) < 2 {
		return fmt.Errorf("%w: use at least two of letters, digits and other characters", ErrTooSimple)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
