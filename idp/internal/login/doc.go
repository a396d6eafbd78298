// Package login provides the citizen's login pages: a machine of steps
// over the stored authorization request, in zh-CN and en, that works
// without JavaScript (forms post and redirect).
//
// # The step machine
//
// A Step (steps.go) is a value: its name, its page (Path), its completion
// rule (Done: is this step satisfied for this login?), the error a
// prompt=none request gets when it is next, and the pages it mounts. The
// machine is the list steps, in order; one decision, nextStep, picks the
// first step whose rule does not hold, and one dispatcher, dispatch, goes
// there — or completes the request when every rule holds. The login pages
// (start, and every step page when it is done: next) and single sign-on at
// the protocol front ends (SingleSignOn, called by the OIDC authorize
// endpoint and the SAML SSO endpoint) decide with the same nextStep.
//
//	GET /login?authRequestID=…   (start; flowOf: a live SSO session that
//	   │                            satisfies max_age and id_token_hint
//	   │                            identifies the citizen at once)
//	   ▼
//	reclaim ── a registration found its number taken ─→ /login/reclaim
//	   │        (the real-card check gives the account to the holder, reclaim.go)
//	setup ──── a registration passed the real-name check → /login/password-setup
//	   │
//	login ──── not identified yet → the first page itself:
//	   │        POST /login/password (number + password) or
//	   │        POST /login/register (name + number → real-name check → setup) or
//	   │        GET /login/ecard (a QR ticket the e-card app confirms, ecard.go)
//	   │        ═ identified (primary, or the SSO session) ═
//	card ───── level ≥ 2 and no passing card check within CardTTL → /login/card
//	   │
//	face ───── level 3 and no face match in this authentication → /login/face
//	   │        (separate consent, then /login/face/photo)
//	consent ── the portal is not exempt and asks for what was not granted,
//	   │        or prompt=consent not yet answered here → /login/consent
//	   ▼
//	complete: SSO session started, refreshed or stepped up with acr/amr/
//	auth_time, request marked done, browser sent to the protocol's callback.
//
// Each step page, once it has done its part, saves the login state and
// calls next, which runs the decision again: a step never names the step
// after it. With prompt=none a step that would be shown becomes its
// PromptNone error instead (login_required, consent_required; OIDC Core
// §3.1.2.6); prompt=login reaches the decision as max_age=0 (the OIDC
// front end sets it), and SingleSignOn leaves prompt=login, consent and
// select_account to the pages.
//
// Adding a step (say an e-card check after the password, an upstream
// identity provider) is one file and one list entry:
//
//	// ecard.go
//	var ecardStep = &Step{
//		Name: "ecard", Path: "/login/ecard", PromptNone: "login_required",
//		Done: func(ctx context.Context, h *Handler, f *flow) (bool, error) {
//			return !f.needsECard() || f.st.Auth.ECardPassed, nil
//		},
//		Mount: func(h *Handler, mux Router) {
//			mux.HandleFunc("GET /login/ecard", h.getECard)
//			mux.HandleFunc("POST /login/ecard", h.limitForms(h.postECard))
//		},
//	}
//
//	// steps.go
//	var steps = []*Step{reclaimStep, setupStep, loginStep, cardStep, ecardStep, faceStep, consentStep}
//
// where postECard records its result in the login state and calls next. A
// way to identify the citizen instead of the password (the e-card as the
// first factor) ends as postPassword does, with primary.
//
// # Security
//
// Every form carries a CSRF token bound to a per-browser cookie and to the
// request, and every step refuses a request another browser started
// (docs/security.md §1); a malformed number is refused locally before any
// check; an unknown number and a wrong password get the same message after
// the same work (a dummy hash is verified), as do an unknown number and a
// wrong name at registration, and a registered and an unregistered number
// at the real-name step (the account is not looked up there). Numbers are
// logged masked only; passwords never.
//
// The account page (/account) shows the levels in words, the citizen's live
// sessions with the portals each signed in to (each can be ended, with the
// logout fan-out; only the citizen's own) and the remembered consents (each
// can be withdrawn); with an e-card connector it links to /account/ecard,
// the citizen's app bindings, each of which can be revoked (only the
// citizen's own: ecard_account.go).
//
// Limits (lockout.go): every check — password, real-name, real-card, face
// — has failure limits in storage, per number or account and per client
// address (idp/internal/clientip, behind trusted proxies only), counted
// before the check runs; login form posts also pass a per-address token
// bucket. Every body is capped before it is read (bodies.go, BoundBodies):
// 16 KiB of ordinary form, except the face photo upload.
//
// # Files
//
// handler.go (Config, New, Register), request.go (loading a request, the
// browser binding), state.go (the login state on the request), steps.go
// (Step, the machine, the decision), flow.go (the dispatcher, finishing
// and completing), start.go (the first page, SingleSignOn), one file per
// step's pages (password.go, register.go, reclaim.go, card.go, face.go,
// consent.go), the e-card login (ecard.go, ecard_page.go) and the account
// page's app bindings (ecard_account.go), account.go, logout.go, and the
// shared pages.go, csrf.go,
// lockout.go, bodies.go.
package login
