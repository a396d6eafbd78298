// Package cardplatform provides an HTTP client for a remote card service
// platform: the real-name, real-card and real-person checks of package
// connectors, and its e-card (login tickets, counter codes, licences,
// bindings), asked over the JSON API of docs/cardplatform-api.md, with
// request signing, a per-call timeout, bounded retries, a circuit breaker
// and metrics.
//
// # The API in short
//
// One endpoint per check, each a POST of a JSON object over HTTPS:
//
//	POST /v1/realname {name, number}              → {matched, card_region?}
//	POST /v1/card     {name, number, card_number} → {matched, card?: {region, number, status, generation}}
//	POST /v1/face     {number, photo, challenge}  → {passed}         (never a score)
//	errors: 4xx/5xx    {error, message}
//
// The e-card endpoints (ecard.go, ecard_bindings.go) are signed, retried
// and broken the same way; only ticket creation is not idempotent:
//
//	POST /v1/ecard/tickets          {portal, client_id} → {ticket_id, expires_at, payload}
//	POST /v1/ecard/tickets/status   {ticket_id}         → {state, number?, binding_id?, confirmed_at?}
//	POST /v1/ecard/counter/verify   {code}              → {outcome, number?, name?, binding_id?}
//	POST /v1/ecard/licence          {number}            → {found, licence?}
//	POST /v1/ecard/bindings         {number | all}      → {bindings}
//	POST /v1/ecard/bindings/revoke  {id, owner?}        → {found}
//
// Every request is signed with a secret shared per client id:
//
//	X-Card-Client, X-Card-Timestamp (Unix s), X-Card-Nonce (128 bits, hex),
//	X-Card-Content-SHA256 = hex(SHA-256(body))
//	X-Card-Signature = base64(HMAC-SHA256(secret,
//	        method "\n" path "\n" timestamp "\n" nonce "\n" hex(SHA-256(body))))
//
// The platform refuses an unknown client, a bad signature, a body that
// does not match its digest, a timestamp more than 5 minutes off (the
// window is configurable), and a nonce it has seen within the window. It
// signs its answers with X-Card-Timestamp and X-Card-Signature over
// status "\n" timestamp "\n" request nonce "\n" hex(SHA-256(body)). The
// client uses an answer only when that signature verifies, so a forged or
// tampered answer is a fault, never a result. Mutual TLS is optional
// (TLSConfig). Package wire has the names, bodies and signing functions.
//
// # Results, faults and refusals
//
// Following package connectors, "did not match" is a result, not an error.
// Errors come in four kinds:
//
//   - *FaultError wraps connectors.ErrUnavailable: the platform could not
//     be asked or gave no valid answer, so the citizen should try again
//     later. Its Kind says why: unreachable, timeout, server_error (5xx,
//     408, 429), bad_response (malformed JSON, a missing field, a value
//     out of range), bad_signature, breaker_open.
//   - *RefusedError: a 4xx refusal, such as a bad request, a wrong client
//     id or secret, or a clock outside the window. The fault is on
//     CardSSO's side and retrying will not help. It does not wrap
//     ErrUnavailable.
//   - An error wrapping connectors.ErrInvalidPhoto: the photo is empty,
//     over connectors.MaxPhotoBytes, or refused by the platform (422).
//   - An error wrapping ctx.Err(): the caller's context ended first.
//
// No error message or log line contains the name, the number (logs show it
// masked) or the photo. A message the platform sends back has the number
// and the name taken out before it is used.
//
// # Time, retries and the breaker
//
// A check runs through these steps:
//
//	check ─► ctx done? ─► breaker open? ─► attempt ─► 200 signed? ─► result
//	              │             │             │ fault and safe to retry?
//	            error      breaker_open       └─► back-off + jitter ─► attempt …
//
// Config.Timeout (default 5s) bounds the whole check, retries and back-off
// included.
//
// The real-name and real-card checks are reads, so they may be sent again
// (Config.Retries, default 2) after a network error or a 502, 503 or 504
// answer. Each retry gets a fresh nonce. The back-off doubles from
// Config.RetryBackoff (default 100ms, at most 2s), and each wait is drawn
// between half and all of it.
//
// The real-person check spends the citizen's single-use challenge. Once
// the request may have reached the platform, sending it again could be
// refused as a reused challenge or counted twice against the attempt
// limit. So it is sent again only when no connection was made at all,
// which means no byte left CardSSO.
//
// One circuit breaker (github.com/sony/gobreaker/v2) guards all three
// checks. It opens after Breaker.Failures consecutive faults (default 5).
// While open, checks fail at once with a breaker_open fault. After
// Breaker.OpenFor (default 30s) it half-opens and lets
// Breaker.HalfOpenRequests checks through (default 1). If they succeed it
// closes; if one fails it opens again. Results, refusals and invalid photos
// count as successes. Checks the caller cancelled count as neither.
//
// # Metrics
//
// Metrics are registered on Config.Registerer, or nowhere when it is nil.
// There is no global registration.
//
//	cardsso_cardplatform_calls_total{check, outcome}         counter
//	cardsso_cardplatform_call_duration_seconds{check}        histogram
//	cardsso_cardplatform_retries_total{check}                counter
//	cardsso_cardplatform_breaker_state                       gauge: 0 closed, 1 half-open, 2 open
//
// check is realname, card or face. outcome is one of:
//   - a result: match, mismatch, pass or fail;
//   - an error that is not a fault: invalid_photo, refused, canceled, or
//     error (a local failure, such as no randomness for a nonce);
//   - a FaultKind: unreachable, timeout, server_error, bad_response,
//     bad_signature or breaker_open.
package cardplatform
