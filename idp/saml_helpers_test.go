package idp_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	saml2 "github.com/russellhaering/gosaml2"
	"github.com/russellhaering/gosaml2/types"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/cardsso/cardsso/idp/admin"
)

// spKeys are the test SPs' RSA key and certificate (made once: RSA keys
// are slow to make).
var spKeys = sync.OnceValues(func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "test SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
})

// idpMetadata fetches the node's SAML metadata.
func idpMetadata(t *testing.T, n *node) []byte {
	t.Helper()
	resp, err := http.Get(n.issuer + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /saml/metadata: %d\n%s", resp.StatusCode, b)
	}
	return b
}

// spOpts configure a test SP and its registration.
type spOpts struct {
	binding      string // how the SP sends AuthnRequests: saml.HTTPRedirectBinding (default) or saml.HTTPPostBinding
	sign         bool   // sign AuthnRequests (and declare AuthnRequestsSigned)
	noEncryption bool   // register metadata without an encryption key
	forceAuthn   bool
	rac          *saml.RequestedAuthnContext
	nameIDFormat saml.NameIDFormat // the NameIDPolicy asked for; default unspecified

	// registration
	id, minACR, nameID string
	attributes         []string
	byURL              bool // register with the metadata URL (fetched by CardSSO)
}

// crewSP is an independent SP: crewjam/saml's samlsp middleware on an
// httptest server. /hello needs a session and answers with its NameID and
// attributes; every assertion the ACS accepted is kept.
type crewSP struct {
	t   *testing.T
	url string
	mw  *samlsp.Middleware

	mu         sync.Mutex
	assertions []*saml.Assertion
}

func (s *crewSP) HandleAssertion(a *saml.Assertion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assertions = append(s.assertions, a)
	return nil
}

func (s *crewSP) last() *saml.Assertion {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.assertions) == 0 {
		s.t.Fatal("the SP accepted no assertion")
	}
	return s.assertions[len(s.assertions)-1]
}

func (s *crewSP) entityID() string { return s.url + "/saml/metadata" }

// newCrewSP starts a samlsp SP trusting the node's metadata and registers
// it through the same code path as `cardsso sps add`.
func newCrewSP(t *testing.T, n *node, o spOpts) *crewSP {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	key, cert := spKeys()
	md, err := samlsp.ParseMetadata(idpMetadata(t, n))
	if err != nil {
		t.Fatalf("crewjam/saml cannot parse the IdP metadata: %v", err)
	}
	root, _ := url.Parse(srv.URL)
	binding := o.binding
	if binding == "" {
		binding = saml.HTTPRedirectBinding
	}
	mw, err := samlsp.New(samlsp.Options{
		URL: *root, Key: key, Certificate: cert, IDPMetadata: md,
		SignRequest: o.sign, ForceAuthn: o.forceAuthn, RequestedAuthnContext: o.rac,
		Binding: binding, SignLogout: true, AllowIDPInitiated: true,
		// Every test SP is on 127.0.0.1, and cookies do not tell ports apart.
		CookieName:     "sp_" + strings.NewReplacer(".", "_", ":", "_").Replace(root.Host),
		LogoutBindings: []string{saml.HTTPRedirectBinding},
	})
	if err != nil {
		t.Fatalf("samlsp.New: %v", err)
	}
	mw.ServiceProvider.AuthnNameIDFormat = saml.UnspecifiedNameIDFormat
	if o.nameIDFormat != "" {
		mw.ServiceProvider.AuthnNameIDFormat = o.nameIDFormat
	}
	sp := &crewSP{t: t, url: srv.URL, mw: mw}
	mw.AssertionHandler = sp
	mux := http.NewServeMux()
	mux.Handle("/saml/", mw)
	mux.Handle("/hello", mw.RequireAccount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := samlsp.SessionFromContext(r.Context())
		out := map[string]any{}
		if c, ok := s.(samlsp.JWTSessionClaims); ok {
			out["subject"] = c.Subject
			out["attributes"] = c.Attributes
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})))
	mux.HandleFunc("/logout", mw.HandleStartLogout)
	handler = mux

	spec := admin.SPSpec{ID: o.id, MinACR: o.minACR, Attributes: o.attributes, NameIDFormat: o.nameID}
	if o.byURL && !o.noEncryption {
		spec.MetadataURL = srv.URL + "/saml/metadata"
	} else {
		ed := mw.ServiceProvider.Metadata()
		for i := range ed.SPSSODescriptors {
			d := &ed.SPSSODescriptors[i]
			if o.noEncryption {
				var kept []saml.KeyDescriptor
				for _, kd := range d.KeyDescriptors {
					if kd.Use != "encryption" {
						kept = append(kept, kd)
					}
				}
				d.KeyDescriptors = kept
			}
		}
		spec.Metadata, err = xml.Marshal(ed)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.admin(t).AddServiceProvider(context.Background(), spec); err != nil {
		t.Fatalf("AddServiceProvider: %v", err)
	}
	return sp
}

// samlForm is a page's form that carries a SAML message.
func samlForm(t *testing.T, p page) (form, bool) {
	t.Helper()
	for _, f := range forms(t, p.body) {
		if f.fields.Get("SAMLRequest") != "" || f.fields.Get("SAMLResponse") != "" {
			return f, true
		}
	}
	return form{}, false
}

// postSAML submits the auto-posting SAML forms of p (as a browser with
// JavaScript would) until a page has none.
func (b *browser) postSAML(p page) page {
	b.t.Helper()
	for range 12 {
		f, ok := samlForm(b.t, p)
		if !ok {
			return p
		}
		action := f.action
		if !strings.HasPrefix(action, "http") {
			action = p.url.ResolveReference(&url.URL{Path: action}).String()
		}
		p = b.post(action, f.fields)
	}
	b.t.Fatalf("more than 12 SAML forms in a row, at %s", p.url)
	return p
}

// postOnce submits the SAML form of p and returns the answer.
func (b *browser) postOnce(p page) page {
	b.t.Helper()
	f, ok := samlForm(b.t, p)
	if !ok {
		b.t.Fatalf("no SAML form on %s (status %d):\n%s", p.url, p.status, p.body)
	}
	action := f.action
	if !strings.HasPrefix(action, "http") {
		action = p.url.ResolveReference(&url.URL{Path: action}).String()
	}
	return b.post(action, f.fields)
}

// samlResponseOf decodes the SAMLResponse a page is about to post.
func samlResponseOf(t *testing.T, p page) (string, []byte) {
	t.Helper()
	f, ok := samlForm(t, p)
	if !ok || f.fields.Get("SAMLResponse") == "" {
		t.Fatalf("no SAMLResponse form on %s (status %d):\n%s", p.url, p.status, p.body)
	}
	raw, err := base64.StdEncoding.DecodeString(f.fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	return f.action, raw
}

// statusOf reads the status codes of a SAML Response or LogoutResponse.
func statusOf(t *testing.T, doc []byte) (top, second string) {
	t.Helper()
	var r struct {
		Status struct {
			Code struct {
				Value string `xml:"Value,attr"`
				Sub   struct {
					Value string `xml:"Value,attr"`
				} `xml:"StatusCode"`
			} `xml:"StatusCode"`
		} `xml:"Status"`
	}
	if err := xml.Unmarshal(doc, &r); err != nil {
		t.Fatalf("status of %s: %v", doc, err)
	}
	return r.Status.Code.Value, r.Status.Code.Sub.Value
}

// helloOf reads the SP's /hello answer.
func helloOf(t *testing.T, p page) (subject string, attrs map[string][]string) {
	t.Helper()
	if p.status != http.StatusOK || p.url.Path != "/hello" {
		t.Fatalf("want the SP's /hello, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	var out struct {
		Subject    string              `json:"subject"`
		Attributes map[string][]string `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(p.body), &out); err != nil {
		t.Fatalf("/hello: %v\n%s", err, p.body)
	}
	return out.Subject, out.Attributes
}

func classRefOf(a *saml.Assertion) string {
	for _, s := range a.AuthnStatements {
		if s.AuthnContext.AuthnContextClassRef != nil {
			return s.AuthnContext.AuthnContextClassRef.Value
		}
	}
	return ""
}

// goSP is the other independent SP: russellhaering/gosaml2, with its ACS
// on an httptest server. The ACS validates the Response with the
// certificates of the IdP metadata and keeps the assertion info.
type goSP struct {
	t   *testing.T
	url string
	sp  *saml2.SAMLServiceProvider

	mu    sync.Mutex
	infos []*saml2.AssertionInfo
	errs  []error
	// logoutRequests counts LogoutRequests received at /slo.
	logoutRequests int
}

type goOpts struct {
	sign, noEncryption bool
	forceAuthn         bool
	rac                *saml2.RequestedAuthnContext
	minACR             string
	attributes         []string
	nameID             string
}

// newGoSP starts a gosaml2 SP trusting the certificates of the node's
// metadata (parsed with gosaml2's own types) and registers it.
func newGoSP(t *testing.T, n *node, o goOpts) *goSP {
	t.Helper()
	var ed types.EntityDescriptor
	if err := xml.Unmarshal(idpMetadata(t, n), &ed); err != nil {
		t.Fatalf("gosaml2 cannot parse the IdP metadata: %v", err)
	}
	if ed.IDPSSODescriptor == nil {
		t.Fatal("gosaml2 finds no IDPSSODescriptor in the IdP metadata")
	}
	certs := &dsig.MemoryX509CertificateStore{}
	for _, kd := range ed.IDPSSODescriptor.KeyDescriptors {
		if kd.Use == "encryption" {
			continue
		}
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.Data))
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			certs.Roots = append(certs.Roots, cert)
		}
	}
	var ssoURL, sloURL string
	for _, e := range ed.IDPSSODescriptor.SingleSignOnServices {
		if e.Binding == saml2.BindingHttpRedirect {
			ssoURL = e.Location
		}
	}
	for _, e := range ed.IDPSSODescriptor.SingleLogoutServices {
		if e.Binding == saml2.BindingHttpPost {
			sloURL = e.Location
		}
	}
	s := &goSP{t: t}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	key, cert := spKeys()
	nameIDFormat := saml2.NameIdFormatPersistent
	if o.nameID == "transient" {
		nameIDFormat = saml2.NameIdFormatTransient
	}
	ks := dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert})
	s.sp = &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      ssoURL,
		IdentityProviderSSOBinding:  saml2.BindingHttpRedirect,
		IdentityProviderSLOURL:      sloURL,
		IdentityProviderSLOBinding:  saml2.BindingHttpPost,
		IdentityProviderIssuer:      ed.EntityID,
		ServiceProviderIssuer:       srv.URL + "/metadata",
		AssertionConsumerServiceURL: srv.URL + "/acs",
		ServiceProviderSLOURL:       srv.URL + "/slo",
		AudienceURI:                 srv.URL + "/metadata",
		SignAuthnRequests:           o.sign,
		ForceAuthn:                  o.forceAuthn,
		RequestedAuthnContext:       o.rac,
		IDPCertificateStore:         certs,
		SPKeyStore:                  ks,
		SPSigningKeyStore:           ks,
		NameIdFormat:                nameIDFormat,
		Clock:                       dsig.NewRealClock(),
	}
	md, err := s.sp.MetadataWithSLO(24)
	if err != nil {
		t.Fatal(err)
	}
	md.ValidUntil = time.Now().Add(24 * time.Hour) // gosaml2 takes the hours as nanoseconds
	if o.noEncryption {
		var kept []types.KeyDescriptor
		for _, kd := range md.SPSSODescriptor.KeyDescriptors {
			if kd.Use != "encryption" {
				kept = append(kept, kd)
			}
		}
		md.SPSSODescriptor.KeyDescriptors = kept
	}
	raw, err := xml.Marshal(md)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.admin(t).AddServiceProvider(context.Background(), admin.SPSpec{
		Metadata: raw, MinACR: o.minACR, Attributes: o.attributes, NameIDFormat: o.nameID,
	}); err != nil {
		t.Fatalf("AddServiceProvider(gosaml2): %v", err)
	}
	return s
}

func (s *goSP) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/acs":
		_ = r.ParseForm()
		info, err := s.sp.RetrieveAssertionInfo(r.PostForm.Get("SAMLResponse"))
		s.mu.Lock()
		s.infos = append(s.infos, info)
		s.errs = append(s.errs, err)
		s.mu.Unlock()
		if err != nil {
			http.Error(w, "assertion refused: "+err.Error(), http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, "welcome "+info.NameID)
	case "/slo":
		s.mu.Lock()
		s.logoutRequests++
		s.mu.Unlock()
		_, _ = io.WriteString(w, "logged out")
	default:
		http.NotFound(w, r)
	}
}

func (s *goSP) last() *saml2.AssertionInfo {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.infos) == 0 {
		s.t.Fatal("the gosaml2 SP received no Response")
	}
	if err := s.errs[len(s.errs)-1]; err != nil {
		s.t.Fatalf("gosaml2 refused the Response: %v", err)
	}
	return s.infos[len(s.infos)-1]
}

// loginURL is the HTTP-Redirect binding URL of a new AuthnRequest.
func (s *goSP) loginURL(relay string) string {
	s.t.Helper()
	u, err := s.sp.BuildAuthURL(relay)
	if err != nil {
		s.t.Fatal(err)
	}
	return u
}

// loginPost is the HTTP-POST binding page of a new AuthnRequest, as the SP
// would serve it.
func (s *goSP) loginPost(relay string) page {
	s.t.Helper()
	body, err := s.sp.BuildAuthBodyPost(relay)
	if err != nil {
		s.t.Fatal(err)
	}
	u, _ := url.Parse(s.url)
	return page{status: http.StatusOK, url: u, body: string(body)}
}

func goClassRef(info *saml2.AssertionInfo) string {
	if len(info.Assertions) == 0 {
		return ""
	}
	a := info.Assertions[0]
	if a.AuthnStatement == nil || a.AuthnStatement.AuthnContext == nil || a.AuthnStatement.AuthnContext.AuthnContextClassRef == nil {
		return ""
	}
	return a.AuthnStatement.AuthnContext.AuthnContextClassRef.Value
}

// redirectMessageOf decodes the SAML message (param SAMLRequest or
// SAMLResponse) of an HTTP-Redirect URL.
func redirectMessageOf(t *testing.T, raw, param string) []byte {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(u.Query().Get(param))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deflateB64 encodes a message for the HTTP-Redirect binding.
func deflateB64(t *testing.T, doc []byte) string {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	_, _ = w.Write(doc)
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}
