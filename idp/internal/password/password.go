package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/cardsso/cardsso/idp/internal/password/internal/argon2"
)

// Errors that callers branch on with errors.Is.
var (
	// ErrWeakParams: argon2id parameters below the OWASP minimum.
	ErrWeakParams = errors.New("password: argon2id parameters too weak")
	// ErrMalformedHash: an encoded hash this package cannot read.
	ErrMalformedHash = errors.New("password: malformed argon2id hash")
)

// Minimum parameters (OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB,
// t = 2, p = 1) and the upper bounds above which a setting or a stored hash
// is refused as a denial-of-service risk.
const (
	MinMemoryKiB = 19456
	MinTime      = 2
	MinThreads   = 1

	MaxMemoryKiB = 1 << 20 // 1 GiB per hash
	MaxTime      = 100
)

// Sizes of what Hash makes, and the sizes a stored hash may have.
const (
	SaltSize = 16
	KeySize  = 32

	minSaltSize, maxSaltSize = 8, 64   // RFC 9106 §3.1: salt of at least 8 bytes
	minKeySize, maxKeySize   = 16, 128 // shorter tags are too easy to collide
)

// Params is the argon2id cost (RFC 9106 §3.1).
type Params struct {
	MemoryKiB uint32 // m, in KiB
	Time      uint32 // t, passes over memory
	Threads   uint8  // p, lanes
}

// Defaults returns OWASP's minimum: m = 19456 KiB, t = 2, p = 1 (about 20 ms
// and 19 MiB per hash on one core).
func Defaults() Params {
	return Params{MemoryKiB: MinMemoryKiB, Time: MinTime, Threads: MinThreads}
}

// String gives the PHC parameter form, m=19456,t=2,p=1.
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads)
}

// Validate refuses parameters weaker than OWASP's minimum m=19456,t=2,p=1
// (each of m, t and p on its own; ErrWeakParams) and above MaxMemoryKiB or
// MaxTime.
func (p Params) Validate() error {
	if p.MemoryKiB < MinMemoryKiB || p.Time < MinTime || p.Threads < MinThreads {
		return fmt.Errorf("%w: %s is below the minimum m=%d,t=%d,p=%d (OWASP)",
			ErrWeakParams, p, MinMemoryKiB, MinTime, MinThreads)
	}
	if p.MemoryKiB > MaxMemoryKiB || p.Time > MaxTime {
		return fmt.Errorf("password: argon2id parameters %s are above the maximum m=%d,t=%d", p, MaxMemoryKiB, MaxTime)
	}
	return nil
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// Hash returns the argon2id hash of password in PHC string format,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with a 16-byte salt read from rnd (crypto/rand when nil) and a 32-byte
// key, both base64 without padding. The password is NFKC-normalised first
// (NIST SP 800-63B §5.1.1.2), so full-width and half-width forms typed with
// different input methods match. Parameters that fail Validate are refused.
func Hash(password string, p Params, rnd io.Reader) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	salt := make([]byte, SaltSize)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	return encode(p, salt, key(password, salt, p, KeySize)), nil
}

// Dummy returns an encoded hash with parameters p, a random salt and a
// random key, without running argon2id: Verify against it costs what
// Verify against a real hash with p costs, and (with overwhelming
// probability) no password matches it. Use it to answer an unknown account
// with the same work as a wrong password, without spending a hash (and its
// memory) at start-up.
func Dummy(p Params, rnd io.Reader) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, SaltSize+KeySize)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	return encode(p, b[:SaltSize], b[SaltSize:]), nil
}

// Verify reports whether password matches encoded, a hash made by Hash
// (with any parameters up to MaxMemoryKiB and MaxTime, including ones weaker
// than the current minimum: use NeedsRehash to upgrade them at login). The
// comparison is constant time. A hash this package cannot read gives
// ErrMalformedHash, never a panic; a wrong password is ok = false, err = nil.
func Verify(password, encoded string) (ok bool, err error) {
	h, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := key(password, h.salt, h.params, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1, nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh Hash with
// p: its parameters, salt size or key size differ from what Hash would make
// now, or it cannot be read. Call it after a successful Verify.
func NeedsRehash(encoded string, p Params) bool {
	h, err := decode(encoded)
	if err != nil {
		return true
	}
	return h.params != p || len(h.salt) != SaltSize || len(h.key) != KeySize
}

func key(password string, salt []byte, p Params, size uint32) []byte {
	pw := []byte(norm.NFKC.String(password))
	m := getMemory()
	defer putMemory(m)
	return argon2.IDKeyWith(m, pw, salt, p.Time, p.MemoryKiB, p.Threads, size)
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2.Version, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

type decoded struct {
	params    Params
	salt, key []byte
}

// decode parses a PHC argon2id string strictly: the exact field order Hash
// writes, version 19, decimal parameters within bounds, canonical base64.
func decode(s string) (decoded, error) {
	var d decoded
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return d, fmt.Errorf("%w: want $argon2id$v=19$m=…,t=…,p=…$salt$hash", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return d, fmt.Errorf("%w: not argon2id", ErrMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return d, fmt.Errorf("%w: unsupported version (want v=%d)", ErrMalformedHash, argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return d, fmt.Errorf("%w: want parameters m=…,t=…,p=…", ErrMalformedHash)
	}
	m, err := param(params[0], "m=", 32)
	if err != nil {
		return d, err
	}
	t, err := param(params[1], "t=", 32)
	if err != nil {
		return d, err
	}
	p, err := param(params[2], "p=", 8)
	if err != nil {
		return d, err
	}
	d.params = Params{MemoryKiB: uint32(m), Time: uint32(t), Threads: uint8(p)}
	switch {
	case d.params.Time < 1 || d.params.Threads < 1 || d.params.MemoryKiB < 8*uint32(d.params.Threads):
		return d, fmt.Errorf("%w: parameters %s out of range", ErrMalformedHash, d.params)
	case d.params.MemoryKiB > MaxMemoryKiB || d.params.Time > MaxTime:
		return d, fmt.Errorf("%w: parameters %s above the maximum m=%d,t=%d", ErrMalformedHash, d.params, MaxMemoryKiB, MaxTime)
	}
	if d.salt, err = decodeB64(parts[4]); err != nil || len(d.salt) < minSaltSize || len(d.salt) > maxSaltSize {
		return d, fmt.Errorf("%w: salt must be base64 of %d to %d bytes", ErrMalformedHash, minSaltSize, maxSaltSize)
	}
	if d.key, err = decodeB64(parts[5]); err != nil || len(d.key) < minKeySize || len(d.key) > maxKeySize {
		return d, fmt.Errorf("%w: hash must be base64 of %d to %d bytes", ErrMalformedHash, minKeySize, maxKeySize)
	}
	return d, nil
}

// decodeB64 decodes base64 without padding, refusing the line breaks that
// encoding/base64 skips, so every hash has one spelling.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return b64.DecodeString(s)
}

// param parses "name=decimal" without sign or leading zeros.
func param(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') || v[0] == '+' {
		return 0, fmt.Errorf("%w: want %s<decimal>", ErrMalformedHash, name)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w: want %s<decimal> of at most %d bits", ErrMalformedHash, name, bits)
	}
	return n, nil
}
