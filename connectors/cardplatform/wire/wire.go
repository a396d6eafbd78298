package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"time"
)

// The endpoints, one per check. Every request is a POST with a JSON body.
const (
	PathRealName = "/v1/realname"
	PathCard     = "/v1/card"
	PathFace     = "/v1/face"
)

// The headers of a signed request. A response carries HeaderTimestamp and
// HeaderSignature.
const (
	// HeaderClient is the client id the platform knows the caller by.
	HeaderClient = "X-Card-Client"
	// HeaderTimestamp is the time of signing in Unix seconds, decimal.
	HeaderTimestamp = "X-Card-Timestamp"
	// HeaderNonce is 128 random bits as 32 lowercase hex characters, new
	// for every request (and every retry).
	HeaderNonce = "X-Card-Nonce"
	// HeaderContentSHA256 is Digest of the request body.
	HeaderContentSHA256 = "X-Card-Content-SHA256"
	// HeaderSignature is RequestSignature (on a request) or
	// ResponseSignature (on a response), standard base64 with padding.
	HeaderSignature = "X-Card-Signature"
)

// DefaultSkew is how far a timestamp may be from the receiver's clock, in
// either direction, by default.
const DefaultSkew = 5 * time.Minute

// NonceBytes is the number of random bytes in a nonce.
const NonceBytes = 16

// MinSecretBytes is the shortest shared secret either side accepts: the
// HMAC-SHA256 key should carry at least 256 bits.
const MinSecretBytes = 32

// Digest returns the lowercase hex SHA-256 of body: the value of
// HeaderContentSHA256 and the last line of both signed strings.
func Digest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// RequestSignature returns base64(HMAC-SHA256(secret, method "\n" path "\n"
// timestamp "\n" nonce "\n" digest)). path is the request path as sent,
// without the query; digest is Digest of the body.
func RequestSignature(secret []byte, method, path, timestamp, nonce, digest string) string {
	return sign(secret, method, path, timestamp, nonce, digest)
}

// ResponseSignature returns base64(HMAC-SHA256(secret, status "\n"
// timestamp "\n" nonce "\n" digest)): status is the HTTP status code in
// decimal, timestamp the response's HeaderTimestamp, nonce the nonce of the
// request answered, digest the Digest of the response body. Binding the
// request's nonce makes an answer useless for any other request.
func ResponseSignature(secret []byte, status int, timestamp, nonce, digest string) string {
	return sign(secret, strconv.Itoa(status), timestamp, nonce, digest)
}

func sign(secret []byte, lines ...string) string {
	m := hmac.New(sha256.New, secret)
	for i, l := range lines {
		if i > 0 {
			m.Write([]byte{'\n'})
		}
		m.Write([]byte(l))
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignatureEqual reports whether the signature got, as received, equals
// want, as computed by RequestSignature or ResponseSignature. It compares the
// decoded MACs in constant time; a got that is not standard base64 is not
// equal.
func SignatureEqual(got, want string) bool {
	g, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	w, err := base64.StdEncoding.DecodeString(want)
	if err != nil {
		return false
	}
	return hmac.Equal(g, w)
}

// FormatTimestamp formats t as HeaderTimestamp: Unix seconds in decimal.
func FormatTimestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// ParseTimestamp parses a HeaderTimestamp value: 1 to 19 ASCII digits (no
// sign, no spaces).
func ParseTimestamp(s string) (time.Time, bool) {
	if len(s) == 0 || len(s) > 19 {
		return time.Time{}, false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// WithinSkew reports whether t is at most skew away from now, either way.
func WithinSkew(t, now time.Time, skew time.Duration) bool {
	d := now.Sub(t)
	return -skew <= d && d <= skew
}

// ValidNonce reports whether s has the form of a nonce: 2*NonceBytes
// lowercase hex characters.
func ValidNonce(s string) bool {
	if len(s) != 2*NonceBytes {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidDigest reports whether s has the form of a Digest: 64 lowercase hex
// characters.
func ValidDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
