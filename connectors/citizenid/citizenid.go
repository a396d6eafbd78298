package citizenid

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Length is the number of characters in a citizen identity number.
const Length = 18

// Errors wrapped by Parse and ParseAt, one per reason a number is rejected.
// Callers branch on them with errors.Is. Their messages, and the messages of
// the errors that wrap them, never contain the number.
var (
	// ErrLength: the number is not 18 characters long after trimming spaces.
	ErrLength = errors.New("citizenid: number must be 18 characters long")
	// ErrCharacters: one of the first 17 characters is not a digit, or the
	// last is neither a digit nor X.
	ErrCharacters = errors.New("citizenid: number contains a character that is not allowed")
	// ErrRegion: the first 6 characters are not a plausible GB/T 2260 code.
	ErrRegion = errors.New("citizenid: address code is not a valid region code")
	// ErrBirthDate: characters 7–14 are not a calendar date from 1900 up to
	// today.
	ErrBirthDate = errors.New("citizenid: birth date is not valid")
	// ErrCheckCharacter: the last character is not the ISO 7064 MOD 11-2
	// check character of the first 17, typically because of a typing error.
	ErrCheckCharacter = errors.New("citizenid: check character does not match; the number may be mistyped")
)

// MinBirthYear is the earliest birth year Parse accepts.
const MinBirthYear = 1900

// Number is a valid GB 11643-1999 citizen identity number. The zero value is
// no number (IsZero reports true); any other value came from Parse or ParseAt
// and passed every check. Numbers are comparable with ==.
//
// Number implements slog.LogValuer and fmt.GoStringer with the masked form,
// but fmt's %v and %s use String, which is the full number: never pass a
// Number to a logger other than slog, or to fmt for output that may be
// logged; use Masked.
type Number struct {
	s string // normalised: 17 digits then a digit or 'X'
}

// Parse validates s as a citizen identity number, with the birth date
// checked against the current time. See ParseAt.
func Parse(s string) (Number, error) {
	return ParseAt(s, time.Now())
}

// ParseAt validates s as a citizen identity number and returns it
// normalised. Surrounding white space is trimmed and a lowercase x check
// character is read as X. The checks, in order, and the error each wraps:
//
//   - 18 characters long (ErrLength);
//   - characters 1–17 are ASCII digits, character 18 a digit or X
//     (ErrCharacters);
//   - characters 1–6 are a plausible GB/T 2260 code, see ValidRegion
//     (ErrRegion);
//   - characters 7–14 are a real calendar date YYYYMMDD, not before
//     MinBirthYear and not after the date of now in China Standard Time
//     (UTC+8), where numbers are issued (ErrBirthDate);
//   - character 18 is the ISO 7064:1983 MOD 11-2 check character of
//     characters 1–17, GB 11643-1999 §8 (ErrCheckCharacter).
func ParseAt(s string, now time.Time) (Number, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n != Length {
		return Number{}, fmt.Errorf("%w: got %d", ErrLength, n)
	}
	if len(s) != Length {
		// 18 characters but more than 18 bytes: something is not ASCII.
		for i, r := range []rune(s) {
			if r >= utf8.RuneSelf {
				return Number{}, fmt.Errorf("%w: character %d is not a digit", ErrCharacters, i+1)
			}
		}
	}
	if s[Length-1] == 'x' {
		s = s[:Length-1] + "X"
	}
	for i := range Length - 1 {
		if !isDigit(s[i]) {
			return Number{}, fmt.Errorf("%w: character %d is not a digit", ErrCharacters, i+1)
		}
	}
	if c := s[Length-1]; !isDigit(c) && c != 'X' {
		return Number{}, fmt.Errorf("%w: character %d is neither a digit nor X", ErrCharacters, Length)
	}
	if !ValidRegion(s[:6]) {
		return Number{}, fmt.Errorf("%w: %q is not a province code", ErrRegion, s[:2])
	}
	if _, err := birthDate(s[6:14], now); err != nil {
		return Number{}, err
	}
	if CheckCharacter(s[:Length-1]) != s[Length-1] {
		return Number{}, ErrCheckCharacter
	}
	return Number{s: s}, nil
}

// String returns the full normalised number, or "" for the zero Number.
//
// The full number is personal data: never log it, and never put it in an
// error message, URL or audit event. Use Masked for those.
func (n Number) String() string { return n.s }

// Masked returns the number with all but its first 3 and last 4 characters
// replaced by '*' (110***********0017), the form used in logs, audit events
// and on screen. It is "" for the zero Number.
func (n Number) Masked() string { return Mask(n.s) }

// LogValue implements slog.LogValuer: slog records the masked number.
func (n Number) LogValue() slog.Value { return slog.StringValue(n.Masked()) }

// GoString implements fmt.GoStringer so that %#v shows the masked number.
func (n Number) GoString() string { return "citizenid.Number{" + n.Masked() + "}" }

// IsZero reports whether n is the zero Number, which holds no number.
func (n Number) IsZero() bool { return n.s == "" }

// Region returns the 6-digit GB/T 2260 address code (characters 1–6): the
// region of registered residence when the number was issued, which need not
// be a current code nor the region that issued the social security card.
func (n Number) Region() string {
	if n.IsZero() {
		return ""
	}
	return n.s[:6]
}

// BirthDate returns the birth date (characters 7–14) at midnight UTC; only
// its year, month and day are meaningful. It is the zero time for the zero
// Number.
func (n Number) BirthDate() time.Time {
	if n.IsZero() {
		return time.Time{}
	}
	y, m, d := atoi(n.s[6:10]), atoi(n.s[10:12]), atoi(n.s[12:14])
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
}

// Sex returns the sex coded by the sequence code (characters 15–17): odd is
// male, even is female. It is SexUnknown for the zero Number.
func (n Number) Sex() Sex {
	switch {
	case n.IsZero():
		return SexUnknown
	case (n.s[16]-'0')%2 == 1:
		return Male
	default:
		return Female
	}
}

// Sex is the sex coded in a number. Its values are those of GB/T 2261.1-2003
// (1 male, 2 female, 0 unknown).
type Sex int

// The values of Sex.
const (
	SexUnknown Sex = 0
	Male       Sex = 1
	Female     Sex = 2
)

// String returns "male", "female" or "unknown".
func (s Sex) String() string {
	switch s {
	case Male:
		return "male"
	case Female:
		return "female"
	default:
		return "unknown"
	}
}

// Mask masks an already normalised number for display: it keeps the first 3
// and the last 4 characters and replaces each one in between with '*', so an
// 18-character number gives 110***********0017. A string of fewer than 8
// characters is masked entirely. Mask does not validate s.
func Mask(s string) string {
	r := []rune(s)
	if len(r) < 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}

// ValidRegion reports whether code is a plausible GB/T 2260 administrative
// division code: 6 ASCII digits whose first two are a province-level code
// (11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71 Taiwan, 81 Hong Kong,
// 82 Macao, 83 the code used on residence permits of Taiwan residents).
// It does not look the code up in a list of current codes.
func ValidRegion(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := range len(code) {
		if !isDigit(code[i]) {
			return false
		}
	}
	p := atoi(code[:2])
	switch {
	case 11 <= p && p <= 15, 21 <= p && p <= 23, 31 <= p && p <= 37,
		41 <= p && p <= 46, 50 <= p && p <= 54, 61 <= p && p <= 65,
		p == 71, p == 81, p == 82, p == 83:
		return true
	}
	return false
}

// birthDate parses the YYYYMMDD birth date code and checks it is a calendar
// date from MinBirthYear up to the date of now in China Standard Time.
func birthDate(code string, now time.Time) (time.Time, error) {
	y, m, d := atoi(code[:4]), atoi(code[4:6]), atoi(code[6:8])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		// time.Date normalised it (month 13, 30 February …).
		return time.Time{}, fmt.Errorf("%w: not a calendar date", ErrBirthDate)
	}
	if y < MinBirthYear {
		return time.Time{}, fmt.Errorf("%w: before %d", ErrBirthDate, MinBirthYear)
	}
	ty, tm, td := now.In(time.FixedZone("CST", 8*60*60)).Date()
	if t.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC)) {
		return time.Time{}, fmt.Errorf("%w: in the future", ErrBirthDate)
	}
	return t, nil
}

// CheckCharacter returns the ISO 7064:1983 MOD 11-2 check character of 17
// ASCII digits (GB 11643-1999 §8.2); anything else gives 0.
func CheckCharacter(first17 string) byte {
	if len(first17) != Length-1 {
		return 0
	}
	// The weight of character i (1-based) is 2^(18-i) mod 11.
	weights := [Length - 1]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range Length - 1 {
		if !isDigit(first17[i]) {
			return 0
		}
		sum += int(first17[i]-'0') * weights[i]
	}
	return "10X98765432"[sum%11]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoi converts a string of ASCII digits, already checked, to an int.
func atoi(s string) int {
	n := 0
	for i := range len(s) {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
