package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// Bearer is an access token presented to one of CardSSO's own APIs (the
// e-card's, idp/internal/ecard) as a bearer token (RFC 6750 §2.1), once
// validated as userinfo and introspection validate it.
type Bearer struct {
	Client    storage.Client // the client the token was issued to
	AccountID string         // the citizen; empty for a client credentials token
	Subject   string         // the account as the client sees it (the client id for client credentials)
	Scopes    []string       // the scopes granted with the token
}

// ErrInvalidToken means the access token is not one of ours, or has
// expired, or was revoked, or its client or account is gone.
var ErrInvalidToken = errors.New("oidc: access token invalid, expired or revoked")

// Bearer validates an access token presented with r: one of the sealed
// opaque tokens of a code flow (looked up in the store, live), or a client
// credentials JWT (signature by a published key, issuer, expiry). A token
// that is not valid gives ErrInvalidToken; any other error is a store
// fault (try again later).
func (p *Provider) Bearer(r *http.Request, token string) (Bearer, error) {
	ctx := r.Context()
	s := p.storage
	if plain, err := p.op.Crypto().Decrypt(token); err == nil {
		id, sub, ok := strings.Cut(plain, ":")
		if !ok || strings.Contains(sub, ":") {
			return Bearer{}, ErrInvalidToken
		}
		t, c, err := s.lookupToken(ctx, id, sub)
		if err != nil {
			return Bearer{}, err
		}
		return Bearer{Client: c, AccountID: t.AccountID, Subject: sub, Scopes: t.Scopes}, nil
	}
	if strings.Count(token, ".") != 2 {
		return Bearer{}, ErrInvalidToken
	}
	ctx = op.ContextWithIssuer(ctx, p.op.IssuerFromRequest(r))
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.op.AccessTokenVerifier(ctx))
	if err != nil || !strings.HasPrefix(claims.JWTID, "cc:") {
		return Bearer{}, ErrInvalidToken
	}
	c, err := s.Client(ctx, claims.Subject)
	if err != nil {
		return Bearer{}, storeOrInvalid(err)
	}
	return Bearer{Client: c, Subject: c.ID, Scopes: claims.Scopes}, nil
}

func storeOrInvalid(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return ErrInvalidToken
	}
	return fmt.Errorf("oidc: bearer token: %w", err)
}

// Subject is the account as client c sees it (the sub of its tokens).
func (p *Provider) Subject(c storage.Client, accountID string) string {
	return p.storage.subjectOf(c, accountID)
}

// SignJWT signs claims (marshalled as JSON) with the active signing key
// through the signer seam (SigningKeys), as a compact JWS whose header
// names alg, kid and typ (RFC 7515 §4.1.9; e.g. "licence+jwt").
func (p *Provider) SignJWT(typ string, claims any) (string, error) {
	a, pub, err := p.storage.activeKey()
	if err != nil {
		return "", fmt.Errorf("oidc: sign %s: %w", typ, err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(pub.Algorithm), Key: a},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), pub.KeyID))
	if err != nil {
		return "", fmt.Errorf("oidc: sign %s: %w", typ, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidc: sign %s: %w", typ, err)
	}
	return jws.CompactSerialize()
}

// PublicJWKS is the published signing keys (those of the JWKS endpoint).
func (p *Provider) PublicJWKS() []jose.JSONWebKey { return p.storage.cfg.Keys.PublicJWKS() }
