package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Token introspection (RFC 7662), served here rather than by the library's
// op.Introspect: that one decodes the form with a reflective decoder, and
// writes its answer by marshalling the struct, decoding it into a map to
// merge the extra claims (acr, released card claims), and marshalling the
// map again; together a third of the endpoint's CPU. This handler answers
// the same fields, appended once to a pooled buffer.
//
//	POST /oauth/introspect   token=…  (+ client authentication)
//	  405 for other methods; 413 past maxFormBody
//	  401 {"error":"invalid_client"}  no, unknown, public or wrongly
//	      authenticated client (WWW-Authenticate: Basic for basic auth)
//	  400 {"error":"invalid_request"} no token
//	  503 {"error":"server_error"}    the store failed (not "inactive")
//	  200 {"active":false}            unknown, expired, revoked or foreign token
//	  200 {"active":true, …}          a live token issued to the caller
//
// Client authentication is what discovery advertises for this endpoint:
// client_secret_basic and client_secret_post (the library's handler took
// only the first). Only the client a token was issued to (its audience, for
// a client credentials token its subject) learns more than active=false.
// Refresh tokens and ID tokens are not introspected: they answer
// active=false, as before.

// maxFormBody bounds the form of the introspection and token requests our
// handlers read (a client assertion, the longest field, is a few KB).
const maxFormBody = 64 << 10

// introspect serves the introspection endpoint.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = allowPost
		writeOAuthError(w, http.StatusMethodNotAllowed, string(oidc.InvalidRequest), "use POST")
		return
	}
	if !readForm(w, r) {
		return
	}
	st := new(requestState)
	ctx := context.WithValue(r.Context(), faultKey{}, st)
	clientID, err := p.storage.authenticateClient(ctx, r)
	if err != nil {
		writeClientError(w, r, st, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "token is missing")
		return
	}
	issuer := p.op.IssuerFromRequest(r)
	a := new(introspection)
	if tokenID, subject, ok := p.tokenIDAndSubject(ctx, issuer, token); ok {
		p.storage.introspect(ctx, a, tokenID, subject, clientID, issuer)
	}
	if st.fault.Load() {
		writeUnavailable(w)
		return
	}
	buf := answerBuffers.Get().(*[]byte)
	b := a.appendJSON((*buf)[:0])
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	_, _ = w.Write(b)
	*buf = b
	answerBuffers.Put(buf)
}

// Header values, shared (net/http only reads them).
var (
	allowPost       = []string{http.MethodPost}
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
	basicChallenge  = []string{`Basic realm="cardsso"`}
)

var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readForm parses a POST form body of at most maxFormBody bytes; on failure
// it has answered.
func readForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, string(oidc.InvalidRequest), "request body too large")
		} else {
			writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "cannot parse the form")
		}
		return false
	}
	return true
}

// tokenIDAndSubject opens an access token: one of our sealed opaque tokens
// ("id:subject"), or else a JWT access token (client credentials) verified
// as the library verifies it (signature by a published key, issuer, expiry).
func (p *Provider) tokenIDAndSubject(ctx context.Context, issuer, token string) (string, string, bool) {
	if plain, err := p.op.Crypto().Decrypt(token); err == nil {
		id, sub, ok := strings.Cut(plain, ":")
		if !ok || strings.Contains(sub, ":") {
			return "", "", false
		}
		return id, sub, true
	}
	if strings.Count(token, ".") != 2 {
		return "", "", false // neither sealed nor a JWS: a refresh token, a made-up value
	}
	ctx = op.ContextWithIssuer(ctx, issuer)
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, token, p.op.AccessTokenVerifier(ctx))
	if err != nil {
		return "", "", false
	}
	return claims.JWTID, claims.Subject, true
}

// Client authentication errors; every one answers 401 invalid_client.
var (
	errNoClientAuth      = errors.New("no client authentication")
	errClientAuthMethod  = errors.New("client authentication method not supported")
	errClientAuthInvalid = errors.New("client authentication failed")
	errClientAuthHeader  = errors.New("malformed basic authorization")
)

// authenticateClient authenticates a confidential client by
// client_secret_basic (RFC 6749 §2.3.1, id and secret form-encoded) or
// client_secret_post, checking the secret against its keyed hash in
// constant time (AuthorizeClientIDSecret, over the client cache). A store
// fault is noted in ctx (requestState) and returned as an error.
func (s *Storage) authenticateClient(ctx context.Context, r *http.Request) (string, error) {
	var id, secret string
	if auth := r.Header.Get("Authorization"); auth != "" {
		user, pass, ok := r.BasicAuth()
		if !ok {
			return "", errClientAuthHeader
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(user)
		secret, err2 = url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return "", errClientAuthHeader
		}
	} else {
		if r.PostForm.Get("client_assertion") != "" {
			return "", errClientAuthMethod // private_key_jwt is not offered
		}
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if id == "" || secret == "" {
			return "", errNoClientAuth
		}
	}
	if err := s.AuthorizeClientIDSecret(ctx, id, secret); err != nil {
		var oe *oidc.Error
		if errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
			return "", err
		}
		return "", errClientAuthInvalid
	}
	return id, nil
}

// writeClientError answers a failed client authentication: 503 for a store
// fault, else 401 invalid_client with a Basic challenge when the client
// tried basic authentication (RFC 6749 §5.2).
func writeClientError(w http.ResponseWriter, r *http.Request, st *requestState, err error) {
	var oe *oidc.Error
	if st.fault.Load() || (errors.As(err, &oe) && oe.ErrorType == oidc.ServerError) {
		writeUnavailable(w)
		return
	}
	if r.Header.Get("Authorization") != "" {
		w.Header()["Www-Authenticate"] = basicChallenge
	}
	writeOAuthError(w, http.StatusUnauthorized, string(oidc.InvalidClient), err.Error())
}

// writeOAuthError writes an OAuth error answer (RFC 6749 §5.2).
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	b := make([]byte, 0, 96)
	b = append(b, `{"error":`...)
	b = appendJSONString(b, code)
	if description != "" {
		b = append(b, `,"error_description":`...)
		b = appendJSONString(b, description)
	}
	b = append(b, '}')
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// introspection is an introspection answer. The fields and their presence
// are those the library's answer had (SetIntrospectionFromToken and
// introspectCC fill it for the library): hasACR writes acr even when empty,
// as the library's merged claims did. The released claims come in an
// oidc.UserInfo, of which releaseClaims sets only Name and Claims.
type introspection struct {
	active                            bool
	scope                             []string
	clientID, tokenType, subject, iss string
	jti                               string
	exp, iat, authTime                int64
	aud, amr                          []string
	acr                               string
	hasACR                            bool
	claims                            oidc.UserInfo
}

// introspect fills a for a token the caller may learn about, and leaves it
// inactive otherwise.
func (s *Storage) introspect(ctx context.Context, a *introspection, tokenID, subject, callerID, issuer string) {
	if strings.HasPrefix(tokenID, "cc:") {
		s.introspectCCToken(ctx, a, tokenID, subject, callerID, issuer)
		return
	}
	t, c, err := s.liveToken(ctx, tokenID, subject)
	if err != nil || !slices.Contains(t.Audience, callerID) {
		return
	}
	acct, err := s.cfg.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		noteFault(ctx, err)
		return
	}
	if err := s.releaseClaims(&a.claims, c, acct, t.Scopes); err != nil {
		return // the number did not open: inactive, as the library's answer was
	}
	a.active = true
	a.scope = t.Scopes
	a.clientID = t.ClientID
	a.tokenType = oidc.BearerToken
	a.exp = int64(oidc.FromTime(t.ExpiresAt))
	a.iat = int64(oidc.FromTime(t.CreatedAt))
	a.authTime = int64(oidc.FromTime(t.AuthTime))
	a.subject = subject // liveToken checked it is this client's sub for the account
	a.aud = t.Audience
	a.amr = t.AMR
	a.iss = issuer
	a.acr, a.hasACR = t.ACR, true
}

// introspectCCToken answers for a verified client credentials JWT, as
// introspectCC does for the library.
func (s *Storage) introspectCCToken(ctx context.Context, a *introspection, tokenID, subject, callerID, issuer string) {
	c, err := s.Client(ctx, subject)
	if err != nil {
		noteFault(ctx, err)
		return
	}
	if c.ID != callerID {
		return
	}
	a.active = true
	a.clientID = c.ID
	a.subject = c.ID
	a.tokenType = oidc.BearerToken
	a.jti = tokenID
	a.iss = issuer
	a.aud = []string{c.ID}
}

// appendJSON appends the answer as one JSON object.
func (a *introspection) appendJSON(b []byte) []byte {
	if !a.active {
		return append(b, `{"active":false}`...)
	}
	b = append(b, `{"active":true`...)
	if len(a.scope) > 0 {
		b = append(b, `,"scope":`...)
		b = appendJSONString(b, strings.Join(a.scope, " "))
	}
	b = appendField(b, "client_id", a.clientID)
	b = appendField(b, "token_type", a.tokenType)
	b = appendTime(b, "exp", a.exp)
	b = appendTime(b, "iat", a.iat)
	b = appendTime(b, "auth_time", a.authTime)
	b = appendField(b, "sub", a.subject)
	b = appendList(b, "aud", a.aud)
	b = appendList(b, "amr", a.amr)
	b = appendField(b, "iss", a.iss)
	b = appendField(b, "jti", a.jti)
	if a.hasACR {
		b = append(b, `,"acr":`...)
		b = appendJSONString(b, a.acr)
	}
	b = appendField(b, "name", a.claims.Name)
	if len(a.claims.Claims) > 0 {
		keys := make([]string, 0, len(a.claims.Claims))
		for k := range a.claims.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := json.Marshal(a.claims.Claims[k])
			if err != nil {
				continue // releaseClaims puts only strings here
			}
			b = append(b, ',')
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	return append(b, '}')
}

func appendField(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

func appendTime(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendList(b []byte, name string, vs []string) []byte {
	if len(vs) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string. Printable ASCII and valid
// UTF-8 go in as they are; anything else (quotes, backslashes, control
// characters, <>&, U+2028/2029, invalid UTF-8) goes through encoding/json,
// which escapes it as json.Marshal always has.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == 0x7f {
				return appendMarshalled(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return appendMarshalled(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshalled(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
