// Package saml provides CardSSO's SAML 2.0 identity provider on
// crewjam/saml: metadata, SP- and IdP-initiated single sign-on over the
// HTTP-Redirect and HTTP-POST bindings, and single logout, over the
// protocol-neutral login (idp/internal/login) and the SSO session it shares with
// OpenID Connect (idp/internal/session).
//
// Single sign-on:
//
//	SP ──AuthnRequest──▶ /saml/sso ── guard: size, DOCTYPE, RelayState
//	  crewjam/saml: parse, signature (required when the SP's metadata says
//	  AuthnRequestsSigned), Destination, IssueInstant, ACS registered
//	  park: the ID once per SP (RecordOnce), the level needed (the SP's
//	  minimum and RequestedAuthnContext), IsPassive → prompt=none,
//	  ForceAuthn → max_age=0; stored as a storage.AuthRequest
//	──303──▶ /login (SSO from the shared session, or password, card, face)
//	──303──▶ /saml/sso/continue: the parked message through crewjam/saml
//	  again, the session handed over once, to the browser holding it
//	──POST──▶ SP: Response and assertion signed (RSA-SHA256), the assertion
//	  encrypted (AES-256-GCM, RSA-OAEP) when the SP has an encryption key
//
// The assertion carries a persistent NameID (pairwise: an HMAC of the SP's
// entity ID and the account id) or a transient one (random per assertion),
// the level reached as AuthnContextClassRef (urn:cardsso:loa:N, or its
// alias when the request speaks in aliases), and the attributes of the SP's
// allow-list under the release policy (policies/release): name,
// ssn_masked, card_region, card_status and, only by explicit entry, ssn.
// Attribute Names are urn:cardsso:attribute:<friendly name>.
//
// Keys: the signing key is an RSA-2048 key of the SAML use in idp/keys,
// with a self-signed certificate; the metadata publishes the active
// certificate and the next one.
//
// Not done here: SOAP and Artifact bindings, metadata signing, consent
// pages for SAML service providers (an administrator registers each SP with
// its allow-list).
package saml
