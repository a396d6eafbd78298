package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/idp/keys"
)

// jwtParts decodes a compact JWS's header and claims.
func jwtParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("part %d of %q does not decode: %v", i, tok, err)
		}
	}
	return header, claims
}

// TestClientCredentialsSameAsLibrary: the token and the answer have the
// fields and values the library's (op.CreateJWT) had, the signature
// verifies against the published keys, and introspection takes the token,
// for each signing algorithm.
func TestClientCredentialsSameAsLibrary(t *testing.T) {
	for _, alg := range []string{keys.ES256, keys.RS256, keys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			tp := newTestProviderAlg(t, alg)
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"ecard.verify openid cardsso.ssn"}}
			got := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/token", form, "portal", portalSecret)
			want := tp.do(tp.p.op, http.MethodPost, "/oauth/token", form, "portal", portalSecret) // the library's path
			if got.Code != http.StatusOK || want.Code != http.StatusOK {
				t.Fatalf("status %d %s (library %d %s); want 200", got.Code, got.Body, want.Code, want.Body)
			}
			g, w := decode(t, got), decode(t, want)
			gt, wt := g["access_token"].(string), w["access_token"].(string)
			ge, we := g["expires_in"].(float64), w["expires_in"].(float64)
			delete(g, "access_token")
			delete(w, "access_token")
			delete(g, "expires_in")
			delete(w, "expires_in")
			if !reflect.DeepEqual(g, w) || ge < we || ge > we+1 {
				t.Errorf("answer %s;\nthe library's %s", got.Body, want.Body)
			}
			if g["scope"] != "ecard.verify" {
				t.Errorf("scope %v; want only ecard.verify", g["scope"])
			}
			if cc := got.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q; want no-store", cc)
			}
			gh, gc := jwtParts(t, gt)
			wh, wc := jwtParts(t, wt)
			if !reflect.DeepEqual(gh, wh) {
				t.Errorf("header %v; the library's %v", gh, wh)
			}
			for _, k := range []string{"jti", "iat", "nbf", "exp"} {
				if (gc[k] == nil) != (wc[k] == nil) {
					t.Errorf("claim %s: %v; the library's %v", k, gc[k], wc[k])
				}
				delete(gc, k)
				delete(wc, k)
			}
			if !reflect.DeepEqual(gc, wc) {
				t.Errorf("claims %v; the library's %v", gc, wc)
			}
			jws, err := jose.ParseSignedCompact(gt, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jws.Verify(tp.p.storage.cfg.Keys.PublicJWKS()[0].Key); err != nil {
				t.Errorf("signature does not verify with the published key: %v", err)
			}
			in := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/introspect", url.Values{"token": {gt}}, "portal", portalSecret)
			if a := decode(t, in); a["active"] != true || a["client_id"] != "portal" {
				t.Errorf("introspection %s; want active for portal", in.Body)
			}
		})
	}
}

// TestClientCredentialsErrors: who gets no token, and the store fault.
func TestClientCredentialsErrors(t *testing.T) {
	tp := newTestProvider(t)
	h := tp.p.Handler()
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name, id, secret string
		form             url.Values
		status           int
		err              string
	}{
		{"no authentication", "", "", cc, 401, "invalid_client"},
		{"wrong secret", "portal", "wrong-secret-wrong-secret-wrong-secret", cc, 401, "invalid_client"},
		{"unknown client", "nobody", portalSecret, cc, 401, "invalid_client"},
		{"public client", "", "", with("client_id", "spa"), 401, "invalid_client"},
		{"client_secret_post", "", "", with("client_id", "portal", "client_secret", portalSecret), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tp.do(h, http.MethodPost, "/oauth/token", tt.form, tt.id, tt.secret)
			got := decode(t, rec)
			if rec.Code != tt.status || (tt.err != "" && got["error"] != tt.err) {
				t.Errorf("%d %s; want %d %s", rec.Code, rec.Body, tt.status, tt.err)
			}
		})
	}
	t.Run("store fault", func(t *testing.T) {
		tp.store.failClients.Store(true)
		rec := tp.do(h, http.MethodPost, "/oauth/token", cc, "portal", portalSecret)
		tp.store.failClients.Store(false)
		if got := decode(t, rec); rec.Code != http.StatusServiceUnavailable || got["error"] != "temporarily_unavailable" {
			t.Errorf("%d %s; want 503 temporarily_unavailable", rec.Code, rec.Body)
		}
	})
	t.Run("other grants reach the library", func(t *testing.T) {
		rec := tp.do(h, http.MethodPost, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, "portal", portalSecret)
		if got := decode(t, rec); rec.Code != http.StatusBadRequest || got["error"] != "invalid_grant" {
			t.Errorf("%d %s; want 400 invalid_grant", rec.Code, rec.Body)
		}
	})
}

// BenchmarkCCToken makes a client credentials JWT as the library did
// (op.CreateJWT: a go-jose signer per token, the header map and the claims
// marshalled per token) and as tokenEndpoint does (jwsSigner).
func BenchmarkCCToken(b *testing.B) {
	tp := newTestProvider(b)
	s := tp.p.storage
	ctx := op.ContextWithIssuer(context.Background(), testIssuer)
	c, err := s.GetClientByClientID(ctx, "portal")
	if err != nil {
		b.Fatal(err)
	}
	req, _ := s.ClientCredentialsTokenRequest(ctx, "portal", []string{"ecard.verify"})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			id, exp := s.newCCToken()
			if _, err := op.CreateJWT(ctx, testIssuer, req, exp, id, ccClient{c.(*client)}, s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwsSigner", func(b *testing.B) {
		var signers jwsSigners
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			key, pub, err := s.activeKey()
			if err != nil {
				b.Fatal(err)
			}
			sig, err := signers.get(key, pub)
			if err != nil {
				b.Fatal(err)
			}
			now := s.now()
			id, exp := s.newCCToken()
			buf = appendCCClaims(buf[:0], testIssuer, "portal", id, nil, now, exp)
			if _, err := sig.sign(key, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
