// Package wire provides the wire format of the card service platform API
// (docs/cardplatform-api.md), shared by the cardplatform client and any Go
// server of the API: endpoint paths, header names, request and answer
// bodies, error codes, and the HMAC-SHA256 signatures of requests and
// answers.
//
//	request:  X-Card-Signature = base64(HMAC-SHA256(secret,
//	              method "\n" path "\n" timestamp "\n" nonce "\n" hex(SHA-256(body))))
//	answer:   X-Card-Signature = base64(HMAC-SHA256(secret,
//	              status "\n" timestamp "\n" request nonce "\n" hex(SHA-256(body))))
//
// It does no I/O and keeps no state. Signatures are compared in constant
// time with SignatureEqual.
package wire
