// Package oidc provides CardSSO's OpenID Provider: the op.Storage and op.Client
// adapters over storage.Store, and the zitadel/oidc provider built on them.
//
// The flow of an authorization code login:
//
//	portal ──/authorize──▶ op (validates) ──CreateAuthRequest──▶ storage
//	        ◀── 302 /login?authRequestID=… (idp/internal/login runs its steps, marks the request done)
//	        ──/authorize/callback──▶ op ──SaveAuthCode──▶ storage (code hash, short expiry)
//	portal ──/oauth/token (code, verifier)──▶ AuthRequestByCode → CreateAccess[AndRefresh]Tokens
//	        (the code is claimed atomically there: of two redemptions exactly one wins;
//	         a code presented again revokes everything its first use issued)
//
// What the library leaves to us and this package does (docs/security.md lists
// each with its test; RFC 9700, the OAuth 2.0 Security BCP, asks for most):
// single use of codes and refresh tokens, S256-only PKCE and PKCE for public
// clients, exact redirect URI matching, refresh token rotation with family
// revocation on reuse, CORS restricted to registered origins, and the
// end_session hand-over to our own logout page (the library never sees the
// cookie); PKCE syntax (a code_verifier of 43–128 unreserved characters, an
// S256 challenge of 43 base64url characters); Cache-Control: no-store and
// Pragma: no-cache on every token endpoint answer; frame protection for the
// form_post page; fixed error descriptions where the library would send a
// storage error's text to the portal (fault.go); sid in ID tokens, as in
// logout tokens (backchannel.go); and the claims request kept with the grant,
// so verified_claims is answered at userinfo too (claims.go).
//
// Access tokens are opaque (the library encrypts "tokenID:subject" under the
// shared crypto key); their rows make revocation and introspection exact.
// Refresh tokens are random 256-bit values stored only as SHA-256 hashes.
package oidc
