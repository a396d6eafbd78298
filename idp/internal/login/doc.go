// Package login provides the citizen's login pages: a sequence of steps over
// the stored authorization request, in zh-CN and en, that work without
// JavaScript (forms post and redirect).
//
//	/login?authRequestID=…          start: a live SSO session that satisfies the
//	   │                              request completes it at once (no prompt);
//	   │                              prompt=none without one returns login_required
//	   ├─ POST /login/password        returning citizen: number + password
//	   └─ POST /login/register        first time: name + number → real-name check
//	        └─ /login/password-setup  set the password once → account created
//	             └─ number taken: /login/reclaim  the real-card check gives the
//	                account to the card holder (reclaim.go)
//	   ▼
//	complete: SSO session started (or refreshed), request marked done with
//	acr/amr/auth_time, browser sent to the protocol's callback URL.
//
// Steps are values of the Step interface, tried in order over the request's
// LoginState; later checks (real-card, real-person, consent) slot in as
// further steps.
//
// Security: every form carries a CSRF token bound to a per-browser cookie and
// to the request; a malformed number is refused locally before any check; an
// unknown number and a wrong password get the same message after the same
// work (a dummy hash is verified), as do an unknown number and a wrong name
// at registration, and a registered and an unregistered number at the
// real-name step (the account is not looked up there). Numbers are logged
// masked only; passwords never.
//
// The account page (/account) shows the levels in words, the citizen's live
// sessions with the portals each signed in to (each can be ended, with the
// logout fan-out; only the citizen's own) and the remembered consents (each
// can be withdrawn).
//
// Limits (lockout.go): every check — password, real-name, real-card, face
// — has failure limits in storage, per number or account and per client
// address (idp/internal/clientip, behind trusted proxies only), counted before the
// check runs; login form posts also pass a per-address token bucket. Every
// body is capped before it is read (bodies.go, BoundBodies): 16 KiB of
// ordinary form, except the face photo upload.
package login
