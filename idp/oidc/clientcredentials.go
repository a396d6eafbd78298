package oidc

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The client credentials grant (RFC 6749 §4.4) for confidential clients
// calling APIs on their own behalf (e.g. a counter staff app). The access
// token is a JWT signed with the token key and is not stored: nothing about
// a citizen is in it (sub is the client id), it is short-lived, and
// introspection answers from its signature and expiry. It cannot be revoked
// before it expires; keep tokens.access_token_lifetime short.

var _ op.ClientCredentialsStorage = (*Storage)(nil)

// ccRequest is a client credentials token request.
type ccRequest struct {
	clientID string
	scopes   []string
}

func (r *ccRequest) GetSubject() string    { return r.clientID }
func (r *ccRequest) GetAudience() []string { return []string{r.clientID} }
func (r *ccRequest) GetScopes() []string   { return r.scopes }

// ccClient is a confidential client answering the client credentials grant
// with JWT access tokens.
type ccClient struct{ *client }

func (c ccClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// ClientCredentials authenticates a confidential client for the grant.
func (s *Storage) ClientCredentials(ctx context.Context, clientID, secret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, clientID, secret); err != nil {
		return nil, err
	}
	c, err := s.GetClientByClientID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return ccClient{c.(*client)}, nil
}

// personalScopes are scopes about a citizen, which a client acting on its
// own behalf cannot have.
var personalScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess, "cardsso.card", "cardsso.ssn"}

// ClientCredentialsTokenRequest keeps the requested scopes that are not
// about a citizen.
func (s *Storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	kept := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return slices.Contains(personalScopes, sc) })
	return &ccRequest{clientID: clientID, scopes: kept}, nil
}

// newCCToken names a client credentials access token (its jti) and its expiry.
func (s *Storage) newCCToken() (string, time.Time) {
	return "cc:" + rand.Text(), s.now().Add(s.cfg.AccessTokenLifetime)
}

// introspectCC answers introspection for a verified client credentials JWT.
func (s *Storage) introspectCC(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, callerID string) error {
	if !strings.HasPrefix(tokenID, "cc:") {
		return errors.New("token inactive")
	}
	c, err := s.Client(ctx, subject)
	if err != nil {
		noteFault(ctx, err)
		return errors.New("token inactive")
	}
	if c.ID != callerID {
		return errors.New("token inactive")
	}
	resp.Active = true
	resp.ClientID = c.ID
	resp.Subject = c.ID
	resp.TokenType = oidc.BearerToken
	resp.JWTID = tokenID
	resp.Issuer = op.IssuerFromContext(ctx)
	resp.Audience = []string{c.ID}
	return nil
}
