// Package server provides an http.Handler that serves the card service
// platform API of docs/cardplatform-api.md over any connectors checker,
// such as the simulator, and its e-card endpoints over any ECard (the four
// e-card interfaces of connectors); it mounts an e-card app API
// (connectors/ecardapp) under /app/ when given one. examples/cardplatform
// runs it as a stand-alone server, and tests start it in-process.
//
// For each request the handler does the following, refusing with the
// documented error code at the first failure:
//
//	endpoint, method ─► signing headers ─► client known ─► timestamp within ±Skew
//	  ─► body within limit ─► SHA-256 digest ─► HMAC signature (constant time)
//	  ─► nonce new (recorded only now) ─► decode body, validate number ─► check
//	  ─► JSON answer, signed over status, timestamp, the request nonce, body
//
// Nonces are remembered for two skew windows in a bounded cache (see
// Config.MaxNonces). Bodies are limited to MaxBodyBytes, and face requests
// to MaxFaceBodyBytes (a 5 MiB photo in base64). Logs carry the masked
// number, never the name or the photo. Answers carry pass or fail for the
// face check, never a score.
package server
