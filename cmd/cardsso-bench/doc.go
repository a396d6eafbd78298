// Command cardsso-bench is a closed-loop load generator for OpenID
// Providers: CardSSO, or a peer such as node-oidc-provider, on loopback or
// at any URL.
//
// N workers each run one workload in a loop, as fast as the server answers
// them (closed loop: a worker sends its next request only after the last
// one was answered), first for a warm-up that is not counted, then for the
// measured duration. It reports iterations per second, the p50/p90/p99
// latency of an iteration, errors (any non-2xx answer where a 2xx is due,
// any protocol failure: a missing code, a wrong state, an ID token that does
// not verify), the generator's own CPU time per iteration (getrusage
// RUSAGE_SELF over the measured window: what driving the load costs, CPU the
// server does not get when both share a host) and, given the server's pid,
// its CPU time per iteration and resident memory (/proc; VmRSS is sampled
// during the run and the maximum reported).
//
//	setup (not timed): discovery, JWKS, per-worker browsers and tokens
//	  └─ run × --runs: warm-up (--warmup) → measure (--duration) → stats
//	median over the runs → table or --json
//
// Workloads (one iteration each):
//
//	discovery           GET /.well-known/openid-configuration
//	jwks                GET jwks_uri
//	client-credentials  POST token endpoint, grant_type=client_credentials
//	sso-code-flow       a browser with a live SSO session: authorize with
//	                    PKCE S256 → redirects → code → token exchange, ID
//	                    token verified (signature with the cached JWKS, iss,
//	                    aud, exp, nonce)
//	refresh             POST grant_type=refresh_token; every worker keeps its
//	                    own chain and uses the rotated token next time
//	introspect          POST introspection_endpoint with a user access token
//	login               a returning citizen in a fresh browser: authorize →
//	                    login form → number + password → code → token
//	                    exchange, ID token verified (CardSSO only: it needs
//	                    the login form and a citizens file from `cardsso seed`)
//	saml-sso            a SAML SP (crewjam/saml) whose browser has a live SSO
//	                    session: AuthnRequest → redirects → the Response's
//	                    auto-post form, the Response validated as an ACS
//	                    would (CardSSO only: see saml.go)
//
// # HTTP
//
// The generator shares the machine's cores with the server when both run
// on one host, so its own work is kept small, as wrk's and h2load's is: the
// HTTP/1.1 client is github.com/valyala/fasthttp (no goroutines per
// connection; each worker reuses its request, response and body buffers;
// forms and authorization URLs are appended into reused buffers), the JWKS
// is fetched once (again on an unknown kid), and ID token verification is
// one signature verify. The "gen CPU µs/iter" column shows what is left;
// docs/performance.md says how the published numbers were made.
//
//   - Connections are kept alive per host and per source address: API
//     calls (discovery, jwks, token, introspection) share the default
//     address's connections; browsers are spread over --source-ips, each
//     address with its own connections.
//   - Nothing follows redirects but the flows, by hand, up to the redirect
//     URI, whose code and state they check.
//   - A browser keeps its cookies in its own net/http/cookiejar (domain,
//     path, expiry and host-only rules; Set-Cookie parsed by
//     http.ParseSetCookie); API clients keep none. The login workload's
//     fresh browser each iteration is an empty jar.
//   - A request takes at most 30 s. Cancellation is seen between requests,
//     not during one. A request is sent again on a new connection when the
//     server closed or reset a kept-alive connection instead of answering
//     (an idle timeout: node's is 5 s), as a GET is after any failure.
//   - A non-2xx answer where a 2xx is due is an error that names the
//     method, the URL without its query, the status and a one-line snippet
//     of the body (160 characters).
package main
