package oidc

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discovery serves /.well-known/openid-configuration pre-serialised, and
// says only what CardSSO does: the library's document also lists the
// implicit and JWT-bearer grants, id_token response types and a device
// endpoint, none of which this provider offers.
type discovery struct {
	p *Provider

	mu   sync.Mutex
	alg  string // the signing algorithm the cached document was made for
	body []byte
}

func (d *discovery) document(r *http.Request) ([]byte, error) {
	_, active, err := d.p.storage.activeKey()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.body != nil && d.alg == active.Algorithm {
		return d.body, nil
	}
	c := op.CreateDiscoveryConfig(r.Context(), d.p.op, d.p.storage)
	c.DeviceAuthorizationEndpoint = ""
	c.CheckSessionIframe = ""
	c.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	// The library serves all three for the code flow; form_post pages
	// may not be framed (provider.go, noFraming).
	c.ResponseModesSupported = []string{"query", "fragment", "form_post"}
	// Pairwise is the default (subject.go); a client may be registered
	// with public subjects.
	c.SubjectTypesSupported = []string{"pairwise", "public"}
	c.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	c.RequestObjectSigningAlgValuesSupported = nil
	c.TokenEndpointAuthSigningAlgValuesSupported = nil
	c.RevocationEndpointAuthSigningAlgValuesSupported = nil
	c.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	c.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	c.ACRValuesSupported = []string{"urn:cardsso:loa:1", "urn:cardsso:loa:2", "urn:cardsso:loa:3"}
	c.ClaimsParameterSupported = true // acr and verified_claims (claims.go)
	c.BackChannelLogoutSupported = true
	c.BackChannelLogoutSessionSupported = true // logout tokens and ID tokens carry the same sid (backchannel.go)
	c.RequestParameterSupported = false
	c.RequestURIParameterSupported = false
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	d.alg, d.body = active.Algorithm, body
	return body, nil
}

func (d *discovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := d.document(r)
	if err != nil {
		http.Error(w, "signing keys unavailable", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*") // a public document, read without credentials
	_, _ = w.Write(body)
}

// jwks serves the published keys pre-serialised with a strong ETag.
type jwks struct{ keys SigningKeys }

func (j jwks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	etag := j.keys.ETag()
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*") // public keys, read without credentials
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(j.keys.JWKSJSON())
}

// Discovery serves the discovery document.
func (p *Provider) Discovery() http.Handler { return p.IssuerInterceptor(p.discovery) }

// JWKS serves the key set at the provider's keys endpoint.
func (p *Provider) JWKS() http.Handler { return jwks{p.storage.cfg.Keys} }

// KeysPath is the path of the keys endpoint.
func (p *Provider) KeysPath() string { return p.op.KeysEndpoint().Relative() }
