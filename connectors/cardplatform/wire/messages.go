package wire

// The request and response bodies. Fields a response must carry are
// pointers, so a receiver can tell a missing field from its zero value.
// Receivers ignore fields they do not know.

// RealNameRequest is the body of POST /v1/realname.
type RealNameRequest struct {
	Name   string `json:"name"`
	Number string `json:"number"` // 18 characters, GB 11643-1999
}

// RealNameResponse is the 200 answer of POST /v1/realname. CardRegion is
// sent only when Matched is true.
type RealNameResponse struct {
	Matched    *bool  `json:"matched"`
	CardRegion string `json:"card_region,omitempty"`
}

// CardRequest is the body of POST /v1/card.
type CardRequest struct {
	Name       string `json:"name"`
	Number     string `json:"number"`
	CardNumber string `json:"card_number"` // 9 characters [0-9A-Z]
}

// CardResponse is the 200 answer of POST /v1/card. Card is sent only when
// Matched is true, and then it must be.
type CardResponse struct {
	Matched *bool `json:"matched"`
	Card    *Card `json:"card,omitempty"`
}

// Card describes a card in a CardResponse.
type Card struct {
	Region     string `json:"region"`     // 6-digit GB/T 2260 code of the issuing region
	Number     string `json:"number"`     // 9-character card number
	Status     string `json:"status"`     // normal, sealed, reported_lost_temporary, reported_lost, cancelled
	Generation int    `json:"generation"` // 1, 2 or 3
}

// FaceRequest is the body of POST /v1/face. Photo is the PNG or JPEG image
// in standard base64 with padding (encoding/json's []byte encoding).
type FaceRequest struct {
	Number    string `json:"number"`
	Photo     []byte `json:"photo"`
	Challenge string `json:"challenge"`
}

// FaceResponse is the 200 answer of POST /v1/face: pass or fail, never a
// score.
type FaceResponse struct {
	Passed *bool `json:"passed"`
}

// ErrorResponse is the body of every 4xx and 5xx answer. Message is for
// people (operators) and never contains the name, the number or the photo.
type ErrorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// The error codes of ErrorResponse, with the status each comes with.
const (
	CodeBadRequest      = "bad_request"        // 400: body is not valid JSON, a field is missing or malformed
	CodeUnauthenticated = "unauthenticated"    // 401: a signing header is missing or malformed
	CodeUnknownClient   = "unknown_client"     // 401: HeaderClient names no client
	CodeStaleTimestamp  = "stale_timestamp"    // 401: HeaderTimestamp outside the skew window
	CodeDigestMismatch  = "digest_mismatch"    // 401: HeaderContentSHA256 is not the digest of the body received
	CodeBadSignature    = "bad_signature"      // 401: HeaderSignature is not the request's signature
	CodeReplayedNonce   = "replayed_nonce"     // 401: the nonce was seen before within the window
	CodeNotFound        = "not_found"          // 404: no such endpoint
	CodeMethod          = "method_not_allowed" // 405: not a POST
	CodeTooLarge        = "too_large"          // 413: body over the endpoint's limit
	CodeInvalidPhoto    = "invalid_photo"      // 422: the photo is not a usable PNG or JPEG image
	CodeInternal        = "internal"           // 500: a fault in the platform
	CodeNotImplemented  = "not_implemented"    // 501: the platform does not offer this check
	CodeUnavailable     = "unavailable"        // 503: the platform cannot answer now (a backend is down, too busy)
)
