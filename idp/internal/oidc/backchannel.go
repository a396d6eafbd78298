package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/storage"
)

// BackchannelLogoutEvent is the event of a logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenLifetime is the exp of a logout token after its iat.
const LogoutTokenLifetime = 2 * time.Minute

// LogoutToken returns a logout token (OpenID Connect Back-Channel Logout 1.0
// §2.4) telling client c that the citizen's session at issuer ended: a JWT
// of type logout+jwt signed with the active token key, with iss, aud (the
// client id), iat, exp (LogoutTokenLifetime later), a random jti, the
// backchannel-logout event, sub (the subject the client sees: pairwise or
// public, as in its ID tokens) and sid (derived from the session id for
// this client, so clients cannot correlate sessions through it). It has no
// nonce (§2.4 forbids one).
func (s *Storage) LogoutToken(ctx context.Context, issuer string, c storage.Client, accountID, sessionID string) (string, error) {
	a, pub, err := s.activeKey()
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := s.now()
	claims := map[string]any{
		"iss":    issuer,
		"aud":    c.ID,
		"iat":    now.Unix(),
		"exp":    now.Add(LogoutTokenLifetime).Unix(),
		"jti":    base64.RawURLEncoding.EncodeToString(jti[:]),
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
		"sub":    s.subjectOf(c, accountID),
		"sid":    s.sessionIDFor(c, sessionID),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	// go-jose signs through the opaque signer (SigningKeys); the kid it
	// would take from the key's public JWK is named explicitly.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(pub.Algorithm), Key: a},
		(&jose.SignerOptions{}).WithType("logout+jwt").WithHeader(jose.HeaderKey("kid"), pub.KeyID))
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	return jws.CompactSerialize()
}

// sessionIDFor is the sid a client sees for an SSO session.
func (s *Storage) sessionIDFor(c storage.Client, sessionID string) string {
	m := hmac.New(sha256.New, s.cfg.PairwiseKey)
	m.Write([]byte("sid\x00" + c.ID + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
