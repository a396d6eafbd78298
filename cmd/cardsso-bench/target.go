package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/valyala/fasthttp"
)

// Target is the provider under test, as discovery describes it, and the
// bench client registered there.
type Target struct {
	Issuer   string
	ClientID string
	Secret   string
	Redirect string
	Scope    string
	// CCScope is the scope asked for in the client credentials grant.
	CCScope string

	Discovery struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}

	// hc holds the keep-alive connections from the default source address.
	hc       *fasthttp.Client
	requests atomic.Int64 // HTTP requests sent, for requests per iteration

	authOnce sync.Once
	auth     string // the Authorization header of the bench client

	jwksMu sync.RWMutex
	jwks   jose.JSONWebKeySet
}

// basicAuth is the bench client's Authorization header: RFC 6749 §2.3.1
// form-encodes the id and secret, then HTTP basic authentication.
func (t *Target) basicAuth() string {
	t.authOnce.Do(func() {
		cred := url.QueryEscape(t.ClientID) + ":" + url.QueryEscape(t.Secret)
		t.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	})
	return t.auth
}

// discover reads the discovery document and the key set.
func (t *Target) discover(ctx context.Context) error {
	var c client
	c.init(t, t.hc, nil)
	body, err := c.getOK(ctx, strings.TrimSuffix(t.Issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if err := json.Unmarshal(body, &t.Discovery); err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	if t.Discovery.Issuer != t.Issuer {
		return fmt.Errorf("discovery: issuer %q; want %q (use --issuer exactly as the provider names itself)", t.Discovery.Issuer, t.Issuer)
	}
	return t.refreshKeys(ctx)
}

// refreshKeys fetches the JWKS into the cache.
func (t *Target) refreshKeys(ctx context.Context) error {
	var c client
	c.init(t, t.hc, nil)
	body, err := c.getOK(ctx, t.Discovery.JWKSURI)
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	t.jwksMu.Lock()
	t.jwks = set
	t.jwksMu.Unlock()
	return nil
}

func (t *Target) key(kid string) (jose.JSONWebKey, bool) {
	t.jwksMu.RLock()
	defer t.jwksMu.RUnlock()
	for _, k := range t.jwks.Keys {
		if k.KeyID == kid && k.Use != "enc" {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

var idTokenAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.EdDSA, jose.RS256, jose.PS256}

// verifyIDToken checks an ID token's signature against the cached JWKS
// (fetched again once for an unknown kid) and its iss, aud, exp and nonce.
func (t *Target) verifyIDToken(ctx context.Context, raw, nonce string) error {
	jws, err := jose.ParseSignedCompact(raw, idTokenAlgs)
	if err != nil {
		return fmt.Errorf("id token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return errors.New("id token: want one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	k, ok := t.key(kid)
	if !ok {
		if err := t.refreshKeys(ctx); err != nil {
			return err
		}
		if k, ok = t.key(kid); !ok {
			return fmt.Errorf("id token: unknown kid %q", kid)
		}
	}
	payload, err := jws.Verify(k)
	if err != nil {
		return fmt.Errorf("id token: %w", err)
	}
	var c struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Exp   int64           `json:"exp"`
		Nonce string          `json:"nonce"`
		Sub   string          `json:"sub"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("id token claims: %w", err)
	}
	var aud []string
	if err := json.Unmarshal(c.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err != nil {
			return errors.New("id token: bad aud")
		}
		aud = []string{one}
	}
	switch {
	case c.Iss != t.Discovery.Issuer:
		return fmt.Errorf("id token: iss %q", c.Iss)
	case !slices.Contains(aud, t.ClientID):
		return fmt.Errorf("id token: aud %v", aud)
	case time.Now().Unix() >= c.Exp:
		return errors.New("id token: expired")
	case nonce != "" && c.Nonce != nonce:
		return errors.New("id token: nonce mismatch")
	case c.Sub == "":
		return errors.New("id token: no sub")
	}
	return nil
}
