// Package ecard provides CardSSO's e-card APIs for portals and staff apps
// (docs/ecard.md): counter verification of the code a citizen's app shows,
// and the citizen's electronic card licence as a document signed by the
// node.
//
//	staff app ── client credentials, scope cardsso.counter ──► token
//	staff app ── POST /ecard/verify {"code"} + Bearer ──► CounterVerifier
//	          ◄── 200 {verification_id, name, ssn_masked, card_region, card_status, verified_at}
//	          (every request, success or refusal, is a row of storage.CounterLog)
//
//	portal ── code flow, scope cardsso.license (allow-listed) ──► token
//	portal ── GET /ecard/license + Bearer ──► LicenceFetcher ──► JWS (typ licence+jwt)
//	anyone ── POST /ecard/license/verify <JWS> ──► {"valid", "claims" | "reason"}
//
// Errors are JSON {"error", "error_description"}; a refused bearer token is
// answered as RFC 6750 §3 says (401 invalid_token, 403 insufficient_scope,
// with WWW-Authenticate). A platform or store fault is 503
// temporarily_unavailable with Retry-After.
package ecard
