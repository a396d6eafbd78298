// Package citizenid provides parsing and validation of the 18-character
// citizen identity number of GB 11643-1999 (公民身份号码), which is also the
// social security number (社会保障号码) printed on the social security card.
//
// A number is laid out as (GB 11643-1999 §4–§8):
//
//	110105 19900307 001 7
//	│      │        │   └ check character, ISO 7064:1983 MOD 11-2 (0–9 or X)
//	│      │        └──── sequence code: odd = male, even = female
//	│      └───────────── birth date, YYYYMMDD (GB/T 7408)
//	└──────────────────── address code: GB/T 2260 administrative division
//
// Parse turns user input into a Number, or an error that wraps one of
// ErrLength, ErrCharacters, ErrRegion, ErrBirthDate or ErrCheckCharacter, so
// that a form can tell the citizen what is wrong. A malformed number never
// reaches a card service platform.
//
// What is not checked: that the address code is in a current GB/T 2260 list
// (codes retire, and a number keeps the code of its issuance, so only the
// province is checked), that the sequence code was ever assigned, and that
// the number was issued at all. Legacy 15-digit numbers (GB 11643-1989) are
// not accepted, and neither are social security numbers given to foreigners
// under a separate national rule unless they happen to follow GB 11643.
//
// A number is personal data. Number.String returns it in full and must never
// be logged; Number.Masked and Number.LogValue give the masked form
// (110***********0017) for logs, audit events and display.
package citizenid
