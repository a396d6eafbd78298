// Command saml-sp is a demo legacy system that signs citizens in with
// CardSSO through SAML 2.0 (crewjam/saml's samlsp middleware): it shows the
// NameID, the level (AuthnContextClassRef) and the attributes CardSSO
// released, and logs out with SAML single logout. See README.md.
//
//	go run ./cmd/cardsso serve &
//	go run ./examples/saml-sp &
//	go run ./cmd/cardsso sps add --metadata http://127.0.0.1:9100/saml/metadata \
//	    --id saml-demo --attributes name,ssn_masked,card_region
//	open http://127.0.0.1:9100/
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io/fs"
	"log"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
)

func main() {
	idpMetadata := flag.String("idp-metadata", "http://localhost:8080/saml/metadata", "CardSSO's SAML metadata URL")
	addr := flag.String("addr", "127.0.0.1:9100", "listen address of this service provider")
	dataDir := flag.String("data-dir", filepath.Join("data", "saml-sp"), "`directory` for this SP's key and certificate (made on first start)")
	flag.Parse()

	sp, err := newSP(context.Background(), *idpMetadata, "http://"+*addr, *dataDir)
	if err != nil {
		log.Fatalf("saml-sp: %v", err)
	}
	log.Printf("saml-sp: listening on http://%s/ (SP metadata at http://%s/saml/metadata)", *addr, *addr)
	srv := &http.Server{Addr: *addr, Handler: sp, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

// sp is the demo service provider.
type sp struct {
	mw  *samlsp.Middleware
	mux *http.ServeMux

	mu      sync.Mutex
	classes map[string]string // NameID → AuthnContextClassRef of its last assertion
}

func (s *sp) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HandleAssertion remembers the level of each assertion (samlsp keeps the
// attributes in its session, not the AuthnContextClassRef).
func (s *sp) HandleAssertion(a *saml.Assertion) error {
	if a.Subject == nil || a.Subject.NameID == nil {
		return nil
	}
	for _, st := range a.AuthnStatements {
		if st.AuthnContext.AuthnContextClassRef != nil {
			s.mu.Lock()
			s.classes[a.Subject.NameID.Value] = st.AuthnContext.AuthnContextClassRef.Value
			s.mu.Unlock()
		}
	}
	return nil
}

// newSP fetches CardSSO's metadata, loads (or makes) this SP's key and
// certificate and builds the middleware for root (http://host:port).
func newSP(ctx context.Context, idpMetadataURL, root, dataDir string) (*sp, error) {
	key, cert, err := loadOrCreateKey(dataDir)
	if err != nil {
		return nil, err
	}
	mdURL, err := url.Parse(idpMetadataURL)
	if err != nil {
		return nil, fmt.Errorf("--idp-metadata: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := samlsp.FetchMetadata(ctx, http.DefaultClient, *mdURL)
	if err != nil {
		return nil, fmt.Errorf("fetch CardSSO's metadata from %s (is cardsso serve running?): %w", idpMetadataURL, err)
	}
	rootURL, err := url.Parse(root)
	if err != nil {
		return nil, err
	}
	mw, err := samlsp.New(samlsp.Options{
		URL: *rootURL, Key: key, Certificate: cert, IDPMetadata: md,
		SignRequest: true, SignLogout: true, AllowIDPInitiated: true,
		// The demo may run beside another one on the same host: cookies do
		// not tell ports apart.
		CookieName:     "saml_sp_" + strings.NewReplacer(".", "_", ":", "_").Replace(rootURL.Host),
		LogoutBindings: []string{saml.HTTPRedirectBinding},
	})
	if err != nil {
		return nil, err
	}
	// Accept whatever NameID format CardSSO registered this SP for.
	mw.ServiceProvider.AuthnNameIDFormat = saml.UnspecifiedNameIDFormat
	s := &sp{mw: mw, mux: http.NewServeMux(), classes: map[string]string{}}
	mw.AssertionHandler = s
	s.mux.Handle("/saml/", mw)
	s.mux.Handle("GET /{$}", mw.RequireAccount(http.HandlerFunc(s.home)))
	s.mux.HandleFunc("GET /logout", mw.HandleStartLogout)
	return s, nil
}

var page = template.Must(template.New("p").Parse(`<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>社保旧系统 Legacy system</title></head>
<body><h1>社保旧系统 · Legacy system (SAML)</h1>
<p>Signed in through CardSSO.</p>
<table border="1" cellpadding="4">
<tr><th>NameID</th><td><code>{{.NameID}}</code></td></tr>
<tr><th>AuthnContextClassRef (level)</th><td><code>{{.Class}}</code></td></tr>
{{range .Attributes}}<tr><th>{{.Name}}</th><td>{{range .Values}}{{.}} {{end}}</td></tr>{{end}}
</table>
<p><a href="/logout">退出 Log out</a> (SAML single logout: every portal of this session is logged out)</p>
</body></html>`))

type attribute struct {
	Name   string
	Values []string
}

func (s *sp) home(w http.ResponseWriter, r *http.Request) {
	claims, _ := samlsp.SessionFromContext(r.Context()).(samlsp.JWTSessionClaims)
	var attrs []attribute
	for name, values := range claims.Attributes {
		if name == "SessionIndex" {
			continue // samlsp's own bookkeeping
		}
		attrs = append(attrs, attribute{name, values})
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	s.mu.Lock()
	class := s.classes[claims.Subject]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, map[string]any{"NameID": claims.Subject, "Class": class, "Attributes": attrs})
}

// loadOrCreateKey reads the SP's key pair from dir (sp.key, sp.crt), making
// an RSA-2048 key and a self-signed certificate on first start: CardSSO
// holds the SP's metadata with this certificate, so it must not change
// between runs.
func loadOrCreateKey(dir string) (*rsa.PrivateKey, *x509.Certificate, error) {
	keyFile, certFile := filepath.Join(dir, "sp.key"), filepath.Join(dir, "sp.crt")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil {
		key, ok := pair.PrivateKey.(*rsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("%s: want an RSA key", keyFile)
		}
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		return key, cert, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "CardSSO demo SAML SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}
