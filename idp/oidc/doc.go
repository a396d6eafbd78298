// Package oidc provides CardSSO's OpenID Provider: the op.Storage and op.Client
// adapters over storage.Store, and the zitadel/oidc provider built on them.
//
// The flow of an authorization code login:
//
//	portal ──/authorize──▶ op (validates) ──CreateAuthRequest──▶ storage
//	        ◀── 302 /login?authRequestID=… (idp/login runs its steps, marks the request done)
//	        ──/authorize/callback──▶ op ──SaveAuthCode──▶ storage (code hash, short expiry)
//	portal ──/oauth/token (code, verifier)──▶ AuthRequestByCode → CreateAccess[AndRefresh]Tokens
//	        (the code is claimed atomically there: of two redemptions exactly one wins;
//	         a code presented again revokes everything its first use issued)
//
// What the library leaves to us and this package does (see LIBRARY-NOTES.md):
// single use of codes and refresh tokens, S256-only PKCE and PKCE for public
// clients, exact redirect URI matching, refresh token rotation with family
// revocation on reuse, CORS restricted to registered origins, and the
// end_session hand-over to our own logout page (the library never sees the
// cookie).
//
// Access tokens are opaque (the library encrypts "tokenID:subject" under the
// shared crypto key); their rows make revocation and introspection exact.
// Refresh tokens are random 256-bit values stored only as SHA-256 hashes.
package oidc
