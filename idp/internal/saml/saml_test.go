package saml

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

func TestCheckXML(t *testing.T) {
	deep := strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65)
	for _, tc := range []struct {
		doc  string
		want error
	}{
		{`<a/>`, nil},
		{`<?xml version="1.0" encoding="UTF-8"?><!-- c --><a x="1"><b>t</b></a>`, nil},
		{`<!DOCTYPE a><a/>`, ErrDoctype},
		{`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`, ErrDoctype},
		{`<a><!ENTITY e "x"></a>`, ErrDoctype},
		{`<a>&e;</a>`, ErrMalformed},
		{`<a><?php x?></a>`, ErrMalformed},
		{`<a></b>`, ErrMalformed},
		{`<a/><b/>`, ErrMalformed},
		{`text<a/>`, ErrMalformed},
		{``, ErrMalformed},
		{deep, ErrTooLarge},
		{`<a>` + strings.Repeat("<b/>", maxXMLTokens) + `</a>`, ErrTooLarge},
	} {
		name := tc.doc
		if len(name) > 40 {
			name = name[:40]
		}
		if err := CheckXML([]byte(tc.doc)); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("CheckXML(%q) = %v; want %v", name, err, tc.want)
		}
	}
}

// checkXMLByToken is CheckXML as it was first written, on
// xml.Decoder.Token (which matches end tags to start tags itself, and
// translates name spaces): FuzzCheckXML holds CheckXML to its answers.
func checkXMLByToken(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, tokens, roots := 0, 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return inputErr(ErrMalformed, "XML: %v", err)
		}
		if tokens++; tokens > maxXMLTokens {
			return inputErr(ErrTooLarge, "more than %d XML tokens", maxXMLTokens)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return &InputError{Err: ErrDoctype}
		case xml.ProcInst:
			if t.Target != "xml" || tokens != 1 {
				return inputErr(ErrMalformed, "processing instruction <?%s?>", t.Target)
			}
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			if depth++; depth > maxXMLDepth {
				return inputErr(ErrTooLarge, "elements nested deeper than %d", maxXMLDepth)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return inputErr(ErrMalformed, "text outside the root element")
			}
		}
	}
	if roots != 1 || depth != 0 {
		return inputErr(ErrMalformed, "want one root element")
	}
	return nil
}

// guardClass is the guard error err wraps, or nil.
func guardClass(err error) error {
	for _, e := range []error{ErrTooLarge, ErrDoctype, ErrMalformed} {
		if errors.Is(err, e) {
			return e
		}
	}
	return err
}

// FuzzCheckXML: CheckXML, which reads raw tokens and matches end tags
// itself, accepts what checkXMLByToken accepts and refuses the rest for
// the same reason.
func FuzzCheckXML(f *testing.F) {
	for _, doc := range []string{seedAuthn, seedLogout, `<a/>`, `<!DOCTYPE a><a/>`, `<a></b>`, `<p:a xmlns:p="u"></q:a>`,
		`<p:a xmlns:p="u"><p:b/></p:a>`, `</a>`, `<a>`, `<?xml version="1.0"?><a/>`, `<a><?x y?></a>`, `<a/>t`,
		strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65)} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, want := CheckXML(doc), checkXMLByToken(doc)
		if guardClass(got) != guardClass(want) {
			t.Fatalf("CheckXML(%q) = %v; want %v (as on Token)", doc, got, want)
		}
	})
}

// deflaters keeps compressors (each over a megabyte of tables) for reuse:
// making one per fuzz input, under the fuzzer's instrumentation, is what
// made FuzzAuthnRequest crawl.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.BestSpeed)
	return w
}}

// deflate64 is the HTTP-Redirect encoding of b: DEFLATE (RFC 1951), then
// base64.
func deflate64(b []byte) string { return deflateLevel64(b, &deflaters) }

// storers keep compressors that write stored blocks (flate.NoCompression).
var storers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.NoCompression)
	return w
}}

// store64 is deflate64 in stored (uncompressed) DEFLATE blocks: a valid
// HTTP-Redirect encoding that the guard and crewjam/saml inflate as any
// other, at a fraction of the cost of compressing. The fuzz targets use it:
// compressing every input was a fifth of their time, spent in the test.
func store64(b []byte) string { return deflateLevel64(b, &storers) }

func deflateLevel64(b []byte, pool *sync.Pool) string {
	var buf bytes.Buffer
	w := pool.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	pool.Put(w)
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestReadMessage(t *testing.T) {
	doc := []byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x"/>`)
	get := func(q url.Values) *http.Request {
		return httptest.NewRequest(http.MethodGet, "/saml/sso?"+q.Encode(), nil)
	}
	post := func(v url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/saml/sso", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	bomb := deflate64(bytes.Repeat([]byte("a"), 10*MaxMessageSize))
	for _, tc := range []struct {
		name string
		r    *http.Request
		want error
	}{
		{"redirect", get(url.Values{"SAMLRequest": {deflate64(doc)}, "RelayState": {"r"}}), nil},
		{"post", post(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}}), nil},
		{"post with line breaks", post(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)[:20] + "\r\n" + base64.StdEncoding.EncodeToString(doc)[20:]}}), nil},
		{"post with spaces and tabs", post(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)[:20] + " \t " + base64.StdEncoding.EncodeToString(doc)[20:]}}), nil},
		{"response", post(url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(doc)}}), nil},
		{"relay state 81 bytes", get(url.Values{"SAMLRequest": {deflate64(doc)}, "RelayState": {strings.Repeat("r", 81)}}), ErrRelayState},
		{"deflate bomb", get(url.Values{"SAMLRequest": {bomb}}), ErrTooLarge},
		{"query too long", get(url.Values{"SAMLRequest": {strings.Repeat("A", maxQuerySize)}}), ErrTooLarge},
		{"body too long", post(url.Values{"SAMLRequest": {strings.Repeat("A", maxBodySize)}}), ErrTooLarge},
		{"not deflated", get(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(doc)}}), ErrMalformed},
		{"not base64", post(url.Values{"SAMLRequest": {"%%%"}}), ErrMalformed},
		{"two messages", post(url.Values{"SAMLRequest": {"a", "b"}}), ErrMalformed},
		{"both", post(url.Values{"SAMLRequest": {"a"}, "SAMLResponse": {"b"}}), ErrMalformed},
		{"none", get(url.Values{}), ErrNoSAMLMessage},
		{"doctype", post(url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(append([]byte("<!DOCTYPE x>"), doc...))}}), ErrDoctype},
		{"encoding", get(url.Values{"SAMLRequest": {deflate64(doc)}, "SAMLEncoding": {"gzip"}}), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := readMessage(tc.r)
			if tc.want == nil {
				if err != nil || !bytes.Equal(m.XML, doc) {
					t.Fatalf("readMessage = %q, %v; want the message", m.XML, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("readMessage = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestRequireAndAssert(t *testing.T) {
	c := contexts{aliases: assurance.EIDAS()}
	const low, sub = "http://eidas.europa.eu/LoA/low", "http://eidas.europa.eu/LoA/substantial"
	const ppt = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	rac := func(cmp string, classes ...string) *crewjam.RequestedAuthnContext {
		return &crewjam.RequestedAuthnContext{Comparison: cmp, AuthnContextClassRefs: classes}
	}
	for _, tc := range []struct {
		name       string
		rac        *crewjam.RequestedAuthnContext
		min        assurance.Level
		impossible bool
		reached    assurance.Level
		class      string
	}{
		{"none", nil, 1, false, 2, "urn:cardsso:loa:2"},
		{"exact 2", rac("exact", "urn:cardsso:loa:2"), 2, false, 3, "urn:cardsso:loa:2"},
		{"exact 2 or 3", rac("", "urn:cardsso:loa:3", "urn:cardsso:loa:2"), 2, false, 3, "urn:cardsso:loa:3"},
		{"exact 3 at 2", rac("exact", "urn:cardsso:loa:3"), 3, false, 2, ""},
		{"minimum 1", rac("minimum", "urn:cardsso:loa:1"), 1, false, 2, "urn:cardsso:loa:2"},
		{"minimum low", rac("minimum", low), 1, false, 2, low},
		{"minimum low at 3", rac("minimum", low), 1, false, 3, sub},
		{"minimum substantial", rac("minimum", sub), 3, false, 3, sub},
		{"better low", rac("better", low), 3, false, 3, sub},
		{"better 1", rac("better", "urn:cardsso:loa:1"), 2, false, 2, "urn:cardsso:loa:2"},
		{"better 3", rac("better", "urn:cardsso:loa:3"), 0, true, 3, "urn:cardsso:loa:3"},
		{"maximum 2 at 3", rac("maximum", "urn:cardsso:loa:2"), 1, false, 3, "urn:cardsso:loa:2"},
		{"password protected transport", rac("", ppt), 1, false, 2, ppt},
		{"unknown only", rac("exact", "urn:example:x"), 0, true, 3, ""},
		{"unknown and known", rac("minimum", "urn:example:x", "urn:cardsso:loa:2"), 2, false, 2, "urn:cardsso:loa:2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.require(tc.rac)
			if got.Impossible != tc.impossible || (!tc.impossible && got.Min != tc.min) {
				t.Errorf("require = %+v; want min %d impossible %v", got, tc.min, tc.impossible)
			}
			class, ok := c.assert(tc.rac, tc.reached)
			if tc.class == "" {
				if ok {
					t.Errorf("assert at %d = %q; want nothing", tc.reached, class)
				}
				return
			}
			if class != tc.class {
				t.Errorf("assert at %d = %q, %v; want %q", tc.reached, class, ok, tc.class)
			}
			if tc.impossible {
				return // refused before the login, whatever assert says
			}
			// crewjam/saml's own check agrees.
			idp := &crewjam.IdentityProvider{EnforceRequestedAuthnContext: true, AuthnContextClassStrengths: c.strengths()}
			req := &crewjam.IdpAuthnRequest{IDP: idp, HTTPRequest: httptest.NewRequest(http.MethodGet, "/", nil),
				ServiceProviderMetadata: &crewjam.EntityDescriptor{}, ACSEndpoint: &crewjam.IndexedEndpoint{}}
			req.Request.RequestedAuthnContext = tc.rac
			err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, &crewjam.Session{AuthnContextClassRef: class})
			var se *crewjam.StatusError
			if errors.As(err, &se) {
				t.Errorf("crewjam/saml refuses %q for %+v: %v", class, tc.rac, err)
			}
		})
	}
	aliased := contexts{aliases: assurance.EIDAS(), assertAliases: true}
	if got, _ := aliased.assert(nil, 2); got != low {
		t.Errorf("with assertAliases, level 2 = %q; want %s", got, low)
	}
}

var testMK = sync.OnceValue(func() *keys.MasterKey {
	mk, err := keys.ParseMasterKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		panic(err)
	}
	return mk
})

func TestSessionIndex(t *testing.T) {
	p := &Provider{cfg: Config{Sealer: testMK()}}
	const sid = "4f6b0d1c3a2e5f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"
	a, err := p.sessionIndex(sid, "https://a.example/sp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.sessionIndex(sid, "https://a.example/sp")
	if a == b || strings.Contains(a, sid[:16]) {
		t.Errorf("session indexes repeat or show the session id: %q %q", a, b)
	}
	if got, ok := p.openSessionIndex(a, "https://a.example/sp"); !ok || got != sid {
		t.Errorf("openSessionIndex = %q, %v; want %s", got, ok, sid)
	}
	if _, ok := p.openSessionIndex(a, "https://b.example/sp"); ok {
		t.Errorf("another SP opened the session index")
	}
	if _, ok := p.openSessionIndex("not-an-index", "https://a.example/sp"); ok {
		t.Errorf("garbage opened")
	}
}

func TestPersistentNameID(t *testing.T) {
	p := &Provider{cfg: Config{NameIDKey: bytes.Repeat([]byte{1}, 32)}}
	a1 := p.persistentNameID("acct", "https://a.example/sp")
	if a1 != p.persistentNameID("acct", "https://a.example/sp") {
		t.Errorf("persistent NameID is not stable")
	}
	if a1 == p.persistentNameID("acct", "https://b.example/sp") || a1 == p.persistentNameID("acct2", "https://a.example/sp") {
		t.Errorf("persistent NameID is not pairwise")
	}
}

// A test SP for the fuzz targets: metadata with a signing certificate.
var fuzzFixture = sync.OnceValues(func() (*crewjam.IdentityProvider, *Provider) {
	// A certificate from a file: generating an RSA key in a fuzz worker,
	// whose crypto code is instrumented, takes minutes.
	pemBytes, err := os.ReadFile("testdata/sp-cert.pem")
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(pemBytes)
	der := block.Bytes
	md := fmt.Sprintf(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/md">`+
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`+
		`<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`+
		`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>`+
		`<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/>`+
		`</md:SPSSODescriptor></md:EntityDescriptor>`, base64.StdEncoding.EncodeToString(der))
	parsed, err := ParseMetadata([]byte(md), time.Now())
	if err != nil {
		panic(err)
	}
	idp := &crewjam.IdentityProvider{
		Logger:      crewjamLogger{discard()},
		MetadataURL: mustURL("https://idp.example/saml/metadata"), SSOURL: mustURL("https://idp.example/saml/sso"),
		LogoutURL: mustURL("https://idp.example/saml/slo"), ServiceProviderProvider: fixedSP{parsed.Descriptor},
		EnforceNameIDPolicy: true, EnforceRequestedAuthnContext: true,
	}
	p := &Provider{cfg: Config{Sealer: testMK(), Sessions: session.New(nil, session.Config{})}, contexts: contexts{aliases: assurance.EIDAS()}}
	return idp, p
})

type fixedSP struct{ ed *crewjam.EntityDescriptor }

func (f fixedSP) GetServiceProvider(_ *http.Request, id string) (*crewjam.EntityDescriptor, error) {
	if id != f.ed.EntityID {
		return nil, errNotExist
	}
	return f.ed, nil
}

var errNotExist = fmt.Errorf("no such SP: %w", errOSNotExist)

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}

// fuzzRequest builds the HTTP request carrying doc with either binding, as
// a server hands it to a handler (built directly: httptest.NewRequest
// parses a request line, a cost per fuzz input that tells nothing).
func fuzzRequest(path string, doc []byte, redirect bool, relay string) *http.Request {
	r := &http.Request{
		Method: http.MethodGet, URL: &url.URL{Path: path}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Host: "idp.example", RemoteAddr: "192.0.2.1:1234", Body: http.NoBody,
	}
	if redirect {
		r.URL.RawQuery = "RelayState=" + url.QueryEscape(relay) + "&SAMLRequest=" + url.QueryEscape(store64(doc))
		r.RequestURI = r.URL.RequestURI()
		return r
	}
	body := "RelayState=" + url.QueryEscape(relay) + "&SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(doc))
	r.Method, r.RequestURI = http.MethodPost, path
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

const seedAuthn = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example/saml/sso" ForceAuthn="true" IsPassive="false" AssertionConsumerServiceURL="https://sp.example/acs"><saml:Issuer>https://sp.example/md</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/><samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>http://eidas.europa.eu/LoA/low</saml:AuthnContextClassRef></samlp:RequestedAuthnContext></samlp:AuthnRequest>`

const seedLogout = `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="id-2" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://idp.example/saml/slo"><saml:Issuer>https://sp.example/md</saml:Issuer><saml:NameID>abc</saml:NameID><samlp:SessionIndex>AQID</samlp:SessionIndex></samlp:LogoutRequest>`

// FuzzAuthnRequest feeds the AuthnRequest decoder (the guard, then
// crewjam/saml's parsing and validation, then CardSSO's reading of
// RequestedAuthnContext and NameIDPolicy): nothing may panic.
func FuzzAuthnRequest(f *testing.F) {
	f.Add([]byte(seedAuthn), true, "relay")
	f.Add([]byte(seedAuthn), false, "")
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY e "x">]>`+seedAuthn), false, "")
	f.Add([]byte(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:RequestedAuthnContext Comparison="better"/></samlp:AuthnRequest>`), true, "")
	f.Fuzz(func(t *testing.T, doc []byte, redirect bool, relay string) { fuzzAuthn(doc, redirect, relay) })
}

// fuzzAuthn is FuzzAuthnRequest's body.
func fuzzAuthn(doc []byte, redirect bool, relay string) {
	if len(doc) > MaxMessageSize {
		return // the guard refuses it by its size (TestReadMessage); encoding it would only cost time
	}
	idp, p := fuzzFixture()
	r := fuzzRequest("/saml/sso", doc, redirect, relay)
	if _, err := readMessage(r); err != nil {
		return
	}
	req, err := crewjam.NewIdpAuthnRequest(idp, r)
	if err != nil {
		return
	}
	_ = req.Validate()
	_ = p.contexts.require(req.Request.RequestedAuthnContext)
	for l := assurance.LoA1; l <= assurance.LoA3; l++ {
		_, _ = p.contexts.assert(req.Request.RequestedAuthnContext, l)
	}
	_, _ = nameIDFormat(spOf("transient"), req)
}

// FuzzLogoutRequest feeds the LogoutRequest decoder (the guard, CardSSO's
// reading of the issuer and session indexes, crewjam/saml's parsing and
// validation): nothing may panic.
func FuzzLogoutRequest(f *testing.F) {
	f.Add([]byte(seedLogout), true, "")
	f.Add([]byte(seedLogout), false, "r")
	f.Add([]byte(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><samlp:SessionIndex>`+strings.Repeat("A", 600)+`</samlp:SessionIndex></samlp:LogoutRequest>`), false, "")
	f.Fuzz(func(t *testing.T, doc []byte, redirect bool, relay string) { fuzzLogout(doc, redirect, relay) })
}

// fuzzLogout is FuzzLogoutRequest's body.
func fuzzLogout(doc []byte, redirect bool, relay string) {
	if len(doc) > 2*MaxMessageSize {
		return // as in fuzzAuthn
	}
	idp, p := fuzzFixture()
	r := fuzzRequest("/saml/slo", doc, redirect, relay)
	m, err := readMessage(r)
	if err != nil {
		return
	}
	p.logoutCandidates(r, m.XML)
	req, err := crewjam.NewIdpLogoutRequest(idp, r)
	if err != nil {
		return
	}
	_ = req.Validate()
}

// FuzzParseMetadata: SP metadata import never panics, and what it accepts
// has an HTTP-POST ACS at an https (or loopback http) URL.
func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://a/sp"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://a/acs" index="1"/></md:SPSSODescriptor></md:EntityDescriptor>`))
	f.Add([]byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:SPSSODescriptor><md:AssertionConsumerService Binding="urn:x" Location="javascript:x"/></md:SPSSODescriptor></md:EntityDescriptor>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := ParseMetadata(data, time.Now())
		if err != nil {
			return
		}
		if len(md.ACS) == 0 || md.EntityID == "" {
			t.Fatalf("accepted metadata without ACS or entity ID: %+v", md)
		}
		for _, acs := range md.ACS {
			if err := checkLocation(acs); err != nil {
				t.Fatalf("accepted ACS %q: %v", acs, err)
			}
		}
	})
}

var errOSNotExist = os.ErrNotExist

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func spOf(format string) storage.ServiceProvider {
	return storage.ServiceProvider{NameIDFormat: format}
}
