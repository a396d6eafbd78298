package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
)

// sealedBox is a private key as a KMS or HSM holds it: it performs the
// private operation and tells the public key, and nothing else. It is none
// of the key types go-jose signs with itself, so whatever signs through it
// must go through the key seam.
type sealedBox struct{ key crypto.Signer }

func (b sealedBox) Public() crypto.PublicKey { return b.key.Public() }

func (b sealedBox) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return b.key.Sign(r, digest, opts)
}

// remoteKey is a SigningKeys key that is not idp/keys': a jose.OpaqueSigner
// over a sealedBox, whose signatures go-jose's own cryptosigner makes. It
// counts its signatures.
type remoteKey struct {
	jwk   *jose.JSONWebKey
	box   jose.OpaqueSigner
	signs atomic.Int64
}

func newRemoteKey(t testing.TB, alg string) *remoteKey {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case keys.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keys.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case keys.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || priv == nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return &remoteKey{
		jwk: &jose.JSONWebKey{Key: priv.Public(), KeyID: "kms-" + alg, Algorithm: alg, Use: "sig"},
		box: cryptosigner.Opaque(sealedBox{priv}),
	}
}

func (k *remoteKey) Public() *jose.JSONWebKey { return k.jwk }

func (k *remoteKey) Algs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.jwk.Algorithm)}
}

func (k *remoteKey) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	k.signs.Add(1)
	return k.box.SignPayload(payload, alg)
}

// remoteKeys publishes one remoteKey and signs with it.
type remoteKeys struct{ key *remoteKey }

func (r remoteKeys) Active() (jose.OpaqueSigner, error) { return r.key, nil }

func (r remoteKeys) PublicJWKS() []jose.JSONWebKey { return []jose.JSONWebKey{*r.key.jwk} }

func (r remoteKeys) JWKSJSON() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: r.PublicJWKS()})
	return b
}

func (r remoteKeys) ETag() string { return `"remote"` }

// verifyWithJWKS checks a compact JWS as a relying party does: the key
// named by its kid in the JWKS document, of the header's alg; it returns
// the header.
func verifyWithJWKS(t *testing.T, doc []byte, token, alg string) jose.Header {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS %s: %v", doc, err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ParseSignedCompact(%q): %v", token, err)
	}
	h := jws.Signatures[0].Header
	found := set.Key(h.KeyID)
	if len(found) != 1 || found[0].Algorithm != alg {
		t.Fatalf("kid %q: %d keys of alg %s in the JWKS %s", h.KeyID, len(found), alg, doc)
	}
	if _, err := jws.Verify(found[0]); err != nil {
		t.Errorf("token does not verify with the published key %s: %v", h.KeyID, err)
	}
	return h
}

// TestSigningKeysSeam: with a signing key that is not idp/keys' (a
// jose.OpaqueSigner over a key that never leaves its box), every token the
// provider signs, through its own path and the library's, verifies with
// the keys it publishes, and discovery names the key's algorithm: the
// client credentials access token, an ID token, a logout token.
func TestSigningKeysSeam(t *testing.T) {
	for _, alg := range []string{keys.ES256, keys.RS256, keys.EdDSA} {
		t.Run(alg, func(t *testing.T) {
			key := newRemoteKey(t, alg)
			tp := newTestProviderKeys(t, alg, func(*keys.Manager) SigningKeys { return remoteKeys{key} })
			s := tp.p.storage
			ctx := op.ContextWithIssuer(context.Background(), testIssuer)
			rec := httptest.NewRecorder()
			tp.p.JWKS().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/keys", nil))
			jwks := rec.Body.Bytes()

			form := url.Values{"grant_type": {"client_credentials"}}
			res := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/token", form, "portal", portalSecret)
			if res.Code != http.StatusOK {
				t.Fatalf("client credentials: %d %s; want 200", res.Code, res.Body)
			}
			at, _ := decode(t, res)["access_token"].(string)
			if h := verifyWithJWKS(t, jwks, at, alg); h.KeyID != key.jwk.KeyID {
				t.Errorf("access token kid %q; want %q", h.KeyID, key.jwk.KeyID)
			}

			c, err := s.GetClientByClientID(ctx, "portal")
			if err != nil {
				t.Fatal(err)
			}
			req := &authRequest{r: storage.AuthRequest{ID: "ar-seam", ClientID: "portal", AccountID: tp.account.ID,
				Scopes: []string{"openid"}, Nonce: "n-0S6_WzA2Mj", AuthTime: tp.now, ACR: "urn:cardsso:loa:2"}, sub: "subject"}
			idt, err := op.CreateIDToken(ctx, testIssuer, req, 5*time.Minute, "an-access-token", "", s, c)
			if err != nil {
				t.Fatalf("CreateIDToken (the library's signer): %v", err)
			}
			verifyWithJWKS(t, jwks, idt, alg)

			lt, err := s.LogoutToken(ctx, testIssuer, storage.Client{ID: "portal"}, tp.account.ID, "session-1")
			if err != nil {
				t.Fatalf("LogoutToken: %v", err)
			}
			if h := verifyWithJWKS(t, jwks, lt, alg); h.ExtraHeaders[jose.HeaderType] != "logout+jwt" {
				t.Errorf("logout token typ %v; want logout+jwt", h.ExtraHeaders[jose.HeaderType])
			}
			if n := key.signs.Load(); n != 3 {
				t.Errorf("the key signed %d times; want 3 (access, ID and logout token)", n)
			}

			rec = httptest.NewRecorder()
			tp.p.Discovery().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
			var disc struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &disc); err != nil || !slices.Equal(disc.Algs, []string{alg}) {
				t.Errorf("discovery id_token_signing_alg_values_supported = %v (%v); want [%s]", disc.Algs, err, alg)
			}
		})
	}
}

// TestSigningKeysUnnamed: an active key whose public JWK has no kid or alg
// signs nothing: the token endpoint answers server_error.
func TestSigningKeysUnnamed(t *testing.T) {
	key := newRemoteKey(t, keys.ES256)
	key.jwk = &jose.JSONWebKey{Key: key.jwk.Key, Use: "sig"}
	tp := newTestProviderKeys(t, keys.ES256, func(*keys.Manager) SigningKeys { return remoteKeys{key} })
	res := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "portal", portalSecret)
	if res.Code != http.StatusInternalServerError || key.signs.Load() != 0 {
		t.Errorf("token endpoint: %d %s after %d signatures; want 500 and none", res.Code, res.Body, key.signs.Load())
	}
}
