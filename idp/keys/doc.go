// Package keys provides CardSSO's secret keys: the master key that seals
// personal data and private keys and derives every other key, and the token
// signing keys with their rotation and the published JWK Set.
//
// # Master key
//
// A MasterKey (32 random bytes, shared by every node) is read with
// ParseMasterKey or LoadOrCreateMasterKey. From it:
//
//   - Seal/Open: AES-256-GCM with a random 96-bit nonce and a version byte,
//     bound to associated data (the row the value belongs to). Tampering, other
//     associated data or another master key gives ErrSealBroken.
//   - Derive(purpose, size): HKDF-SHA256 (RFC 5869), info "cardsso/derive/"+purpose.
//     The zitadel op.Config.CryptoKey is Derive(PurposeOIDCCrypto, 32).
//   - BlindIndex: HMAC-SHA256 under Derive("blind-index", 32), to look a social
//     security number up without storing it in clear.
//   - MAC(purpose): HMAC-SHA256 under Derive(purpose, 32), for client secrets
//     ("client-secret") and CSRF tokens ("csrf").
//
// No error, String, GoString or LogValue ever contains key material.
//
// # Signing keys
//
// A Manager keeps the signing keys in the store (storage.SigningKey, the
// private key as PKCS#8 DER sealed under the master key with the kid as
// associated data) and serves them from memory: Active and Signer for
// every token and assertion signed, PublicJWKS, JWKSJSON and ETag for
// /keys. Each key goes through
//
//	next ──Rotate──▶ active ──Rotate──▶ retired ──ExpiresAt passed, next Rotate──▶ gone
//	(published,       (signs every      (published until
//	 signs nothing)    new token)        RetiredAt + PublishFor)
//
// so relying parties that cache the JWKS learn a key a whole RotationPeriod
// before it signs, and can verify tokens it signed for PublishFor after it
// stops. PublishFor must cover the longest lifetime of a token a key signs,
// plus clock skew, plus the Run interval (a node signs with the key it last
// loaded until its next Refresh).
//
// Keys have a use (storage.KeyUseOIDC, storage.KeyUseSAML): each use has
// its own Manager, algorithm, rotation and set of next, active and retired
// keys in the one table, and a Manager hands the keys of other uses back
// unchanged from every update, so rotating one use never touches the other.
// A Manager made with a CertificateName gives every new key a self-signed
// X.509 certificate, stored with it (every node publishes the same bytes):
// SAML metadata publishes keys as certificates, the active one and the
// next one (Certificates).
//
// Rotation is compare-and-swap: Init, Rotate and RotateIfDue each decide
// inside one Store.UpdateSigningKeys on the freshly read set, so nodes that
// share a database and rotate at once end with one active key and one
// rotation. Run refreshes the in-memory set (the CLI may rotate while the
// server runs) and rotates when the period is up.
//
// Algorithms: ES256 (P-256, the default: ~17,000 signatures/s per core),
// RS256 (2048-bit RSA, ~1,000/s, for relying parties that know nothing else)
// and EdDSA (Ed25519). The kid is the RFC 7638 SHA-256 thumbprint of the
// public key, base64url without padding.
//
// # The key seam
//
// The protocol packages never see key material: idp/internal/oidc takes
// the active key as a jose.OpaqueSigner (Active: kid and alg in its public
// JWK, SignPayload for the JWS signature), idp/internal/saml as a
// crypto.Signer with its certificate (Signer), each through a small
// interface of its own (oidc.SigningKeys, saml.SigningKeys). A Manager,
// whose keys are sealed in the store and unsealed in memory, is one
// implementation; a KMS or HSM that signs remotely can be another. The
// package does not import zitadel/oidc: idp/internal/oidc wraps the signer
// and the JWKs in op.SigningKey and op.Key.
package keys
