package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/policies/release"
)

// The client credentials grant (RFC 6749 §4.4) for confidential clients
// calling APIs on their own behalf (e.g. a counter staff app). The access
// token is a JWT signed with the token key and is not stored: nothing about
// a citizen is in it (sub is the client id), it is short-lived, and
// introspection answers from its signature and expiry. It cannot be revoked
// before it expires; keep tokens.access_token_lifetime short.
//
// tokenEndpoint answers this grant itself and hands every other token
// request (and preflights) to the library. The library's path for the
// grant cost twice the signature: a reflective form decoder, a tracing span
// and a request copy per step, a go-jose signer built and its header map
// marshalled for every token, the claims marshalled through a merge. Here
// the form is read once (bounded, maxFormBody), the client authenticated as
// at introspection (client_secret_basic or client_secret_post, against the
// keyed hash in constant time), the claims and the answer appended by hand,
// and the JWS made with a signer kept per key (crypto.go). The token is the
// one op.CreateJWT made: header {"alg","kid","typ":"JWT"}, claims iss, sub,
// aud, exp, iat, nbf, client_id, jti ("cc:…") and scope when scopes were
// granted (a restricted one, cardsso.counter, only to a client allowed it:
// policies/release); the answer has
// access_token, token_type Bearer, expires_in and the kept scopes, with
// Cache-Control: no-store (RFC 6749 §5.1), which the library left out.

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
var personalScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess,
	release.ScopeCard, release.ScopeSSN, release.ScopeLicense}

// ClientCredentialsTokenRequest keeps the requested scopes that are not
// about a citizen and, of the restricted ones, those the client is allowed
// (release.Granted).
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	kept := slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return slices.Contains(personalScopes, sc) })
	var allow []string
	if c, err := s.Client(ctx, clientID); err == nil {
		allow = c.AllowedClaims
	}
	return &ccRequest{clientID: clientID, scopes: release.Granted(kept, allow)}, nil
}

type tokenEndpoint struct {
	p       *Provider
	next    http.Handler // the library's token endpoint
	signers jwsSigners
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if !readForm(w, r) {
			return
		}
		switch r.PostForm.Get("grant_type") {
		case string(oidc.GrantTypeClientCredentials):
			e.clientCredentials(w, r)
			return
		case string(oidc.GrantTypeCode):
			if v, ok := r.PostForm["code_verifier"]; ok && !validPKCE(v[0]) {
				// The library would hash any string and compare it.
				writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidGrant),
					"code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
				return
			}
		}
	}
	e.next.ServeHTTP(w, r)
}

// validPKCE reports whether v is a PKCE code_verifier (RFC 7636 §4.1):
// 43 to 128 unreserved characters. A code_challenge (S256, §4.2) is the
// unpadded base64url of a SHA-256 hash: 43 characters of the same set,
// checked with validChallenge.
func validPKCE(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// validChallenge reports whether c is an S256 code_challenge: 43
// characters of the base64url alphabet, decoding to 32 bytes.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

var pragmaNoCache = []string{"no-cache"}

func (e *tokenEndpoint) clientCredentials(w http.ResponseWriter, r *http.Request) {
	s := e.p.storage
	st := new(requestState)
	ctx := context.WithValue(r.Context(), faultKey{}, st)
	clientID, err := s.authenticateClient(ctx, r)
	if err != nil {
		writeClientError(w, r, st, err)
		return
	}
	c, err := s.Client(ctx, clientID)
	if err != nil {
		writeUnavailable(w) // it was there a moment ago
		return
	}
	if !slices.Contains((&client{c: c}).GrantTypes(), oidc.GrantTypeClientCredentials) {
		writeOAuthError(w, http.StatusBadRequest, string(oidc.UnauthorizedClient), "")
		return
	}
	var requested []string
	if v := r.PostForm["scope"]; len(v) > 0 {
		requested = strings.Split(v[0], " ") // as the library's form decoder splits it
	}
	req, _ := s.ClientCredentialsTokenRequest(ctx, clientID, requested)
	scopes := req.GetScopes()
	key, pub, err := s.activeKey()
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, string(oidc.ServerError), "no signing key")
		return
	}
	signer, err := e.signers.get(key, pub)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, string(oidc.ServerError), "")
		return
	}
	now := s.now()
	id, exp := s.newCCToken()
	buf := answerBuffers.Get().(*[]byte)
	defer answerBuffers.Put(buf)
	claims := appendCCClaims((*buf)[:0], e.p.op.IssuerFromRequest(r), clientID, id, scopes, now, exp)
	token, err := signer.sign(key, claims)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, string(oidc.ServerError), "")
		return
	}
	b := append(claims[:0], `{"access_token":`...)
	b = appendJSONString(b, token)
	b = append(b, `,"token_type":"Bearer","expires_in":`...)
	b = strconv.AppendInt(b, int64(exp.Sub(now).Seconds()), 10)
	if len(scopes) > 0 {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, strings.Join(scopes, " "))
	}
	b = append(b, '}')
	*buf = b
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	h["Pragma"] = pragmaNoCache
	_, _ = w.Write(b)
}

// appendCCClaims appends the claims of a client credentials access token,
// in the order of oidc.AccessTokenClaims, then scope (when there are
// scopes, space-separated: RFC 9068 §2.2.3).
func appendCCClaims(b []byte, issuer, clientID, jti string, scopes []string, now, exp time.Time) []byte {
	b = append(b, `{"iss":`...)
	b = appendJSONString(b, issuer)
	b = append(b, `,"sub":`...)
	b = appendJSONString(b, clientID)
	b = append(b, `,"aud":[`...)
	b = appendJSONString(b, clientID)
	b = append(b, `],"exp":`...)
	b = strconv.AppendInt(b, exp.Unix(), 10)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, `,"nbf":`...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, `,"client_id":`...)
	b = appendJSONString(b, clientID)
	b = append(b, `,"jti":`...)
	b = appendJSONString(b, jti)
	if len(scopes) > 0 {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, strings.Join(scopes, " "))
	}
	return append(b, '}')
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
