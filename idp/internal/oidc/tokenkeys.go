package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Keys of the stored tokens, in the order they are issued.
//
// Every token response inserts a refresh token row (keyed by a hash of its
// value) and an access token row (keyed by its id). With random keys each
// insert lands on a random leaf page of the key's B-tree, and each page a
// transaction changes is a page written to SQLite's WAL (PostgreSQL: a
// full-page image after each checkpoint); among millions of rows most of
// those leaves are not cached either. Keys that begin with the time of issue
// go to the right-most leaf instead, which the inserts of one commit share.
//
// The time prefix is not a secret: the holder of a refresh token knows
// when it was issued, and an access token's id travels only sealed
// (crypto.go). What makes a token unguessable is unchanged: 256 random bits
// in a refresh token, 128 in an access token id.

// timePrefixLen is the length of the time prefix: unix milliseconds, big
// endian, 48 bits (until the year 10889).
const timePrefixLen = 6

func putTimePrefix(b []byte, t time.Time) {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(b[:timePrefixLen], ms[8-timePrefixLen:])
}

// refreshRandomLen is how many random bytes a refresh token carries.
const refreshRandomLen = 32

// refreshValueLen is the length of a refresh token value: the base64url
// (unpadded) time prefix and random bytes. Values of refresh tokens issued
// before time prefixes (32 random bytes, 43 characters) are shorter.
var refreshValueLen = base64.RawURLEncoding.EncodedLen(timePrefixLen + refreshRandomLen)

// newRefreshValue returns a new refresh token value issued at now and its
// storage key (refreshKey of the value).
func newRefreshValue(now time.Time) (value string, key []byte) {
	var raw [timePrefixLen + refreshRandomLen]byte
	putTimePrefix(raw[:], now)
	_, _ = rand.Read(raw[timePrefixLen:]) // never fails (crypto/rand)
	value = base64.RawURLEncoding.EncodeToString(raw[:])
	return value, refreshKey(value)
}

// refreshKey is the key a refresh token is stored under: the SHA-256 of its
// value, after the value's time prefix (6 bytes) when it has one. The lookup
// is an exact match on a value derived from the presented token through
// SHA-256, as it was before time prefixes: the time is the holder's to know,
// and how far a lookup gets in the B-tree tells nothing about the hash of a
// token the caller does not hold. Values without a prefix (issued before it
// existed, or malformed) are keyed by their hash alone and still found.
func refreshKey(value string) []byte {
	sum := sha256.Sum256([]byte(value))
	if len(value) != refreshValueLen {
		return sum[:]
	}
	// 6 bytes are 8 base64 characters exactly.
	var prefix [timePrefixLen]byte
	if n, err := base64.RawURLEncoding.Decode(prefix[:], []byte(value[:8])); err != nil || n != timePrefixLen {
		return sum[:]
	}
	key := make([]byte, 0, timePrefixLen+sha256.Size)
	key = append(key, prefix[:]...)
	return append(key, sum[:]...)
}

// accessIDEncoding keeps the byte order in the text order.
var accessIDEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// newAccessTokenID returns a new access token id issued at now: the time
// prefix and 16 random bytes, in base32 with the extended hex alphabet (so
// that ids sort by time as text), 36 characters.
func newAccessTokenID(now time.Time) string {
	var raw [timePrefixLen + 16]byte
	putTimePrefix(raw[:], now)
	_, _ = rand.Read(raw[timePrefixLen:]) // never fails (crypto/rand)
	return accessIDEncoding.EncodeToString(raw[:])
}

// newRequestID returns a new authorization request id, issued at now, in
// the form of an access token id (time prefix, 128 random bits). The id is
// also the grant id of the tokens the request's code is exchanged for, so
// the request row, its redeemed copy and the grant's grant_sessions row all
// go to the right-most leaf of their keys instead of a random one.
func newRequestID(now time.Time) string { return newAccessTokenID(now) }
