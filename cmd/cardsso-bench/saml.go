package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/crewjam/saml"
)

// The saml-sso workload: a SAML 2.0 service provider (crewjam/saml's SP)
// whose browser has a live SSO session. Each iteration is SP-initiated
// single sign-on: an AuthnRequest over HTTP-Redirect, the IdP's redirects,
// the auto-posting form with the Response, and the Response validated as the
// SP's assertion consumer service would (signature, InResponseTo,
// audience, destination, time; a encrypted assertion decrypted).
//
// The SP's key and certificate live in a PEM file (--saml-sp-key), made on
// first use; --saml-sp-metadata writes its metadata, to register it once:
//
//	cardsso-bench --saml-sp-key sp.pem --saml-sp-metadata sp.xml
//	cardsso sps add --metadata sp.xml --id bench-sp

// The bench SP's URLs; nothing needs to listen there.
const (
	benchSPEntityID = "http://127.0.0.1:9998/saml/metadata"
	benchSPACS      = "http://127.0.0.1:9998/saml/acs"
)

// loadSPKey reads the SP's key and certificate from path, creating the file
// (mode 0600) with a new RSA-2048 key and a self-signed certificate when it
// does not exist.
func loadSPKey(path string) (*rsa.PrivateKey, *x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newSPKey(path)
	}
	if err != nil {
		return nil, nil, err
	}
	var key *rsa.PrivateKey
	var cert *x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("%s: not an RSA key", path)
			}
			key = rk
		case "CERTIFICATE":
			if cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if key == nil || cert == nil {
		return nil, nil, fmt.Errorf("%s: want a PRIVATE KEY and a CERTIFICATE", path)
	}
	return key, cert, nil
}

func newSPKey(path string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cardsso-bench SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	_ = pem.Encode(&out, &pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// benchSP is the bench's service provider; idp is the IdP's metadata
// (nil when only the SP's own metadata is wanted).
func benchSP(key *rsa.PrivateKey, cert *x509.Certificate, idp *saml.EntityDescriptor) *saml.ServiceProvider {
	md, _ := url.Parse(benchSPEntityID)
	acs, _ := url.Parse(benchSPACS)
	return &saml.ServiceProvider{
		EntityID: benchSPEntityID, Key: key, Certificate: cert,
		MetadataURL: *md, AcsURL: *acs, IDPMetadata: idp,
		AuthnNameIDFormat: saml.PersistentNameIDFormat,
	}
}

// writeSPMetadata writes the SP's metadata for `cardsso sps add`.
func writeSPMetadata(keyPath, out string) error {
	key, cert, err := loadSPKey(keyPath)
	if err != nil {
		return err
	}
	b, err := xml.MarshalIndent(benchSP(key, cert, nil).Metadata(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append([]byte(xml.Header), b...), 0o644)
}

// samlSP loads the SP with the IdP's metadata (once per Env).
func (e *Env) samlSP(ctx context.Context) (*saml.ServiceProvider, error) {
	e.samlOnce.Do(func() {
		if e.SAMLKey == "" {
			e.samlErr = errors.New("the saml-sso workload needs --saml-sp-key (and the SP registered: see --saml-sp-metadata)")
			return
		}
		key, cert, err := loadSPKey(e.SAMLKey)
		if err != nil {
			e.samlErr = err
			return
		}
		c := plainClient(e)
		body, err := c.getOK(ctx, strings.TrimSuffix(e.T.Issuer, "/")+"/saml/metadata")
		if err != nil {
			e.samlErr = fmt.Errorf("IdP metadata: %w", err)
			return
		}
		var md saml.EntityDescriptor
		if err := xml.Unmarshal(body, &md); err != nil {
			e.samlErr = fmt.Errorf("IdP metadata: %w", err)
			return
		}
		e.sp = benchSP(key, cert, &md)
	})
	return e.sp, e.samlErr
}

// samlWorker is a browser with a live SSO session at the IdP.
type samlWorker struct {
	b  *client
	sp *saml.ServiceProvider
}

func newSAMLWorker(ctx context.Context, e *Env, i int) (Worker, error) {
	sp, err := e.samlSP(ctx)
	if err != nil {
		return nil, err
	}
	b := newBrowser(e.T, e.browserClient(uint64(i)))
	// The SSO session comes from a sign-in at an OpenID Connect portal:
	// the session both protocols share.
	code, f, err := signIn(ctx, b, e.citizen(i), nil)
	if err != nil {
		return nil, fmt.Errorf("worker %d: sign in: %w", i, err)
	}
	if _, err := b.exchange(ctx, code, f); err != nil {
		return nil, fmt.Errorf("worker %d: exchange: %w", i, err)
	}
	w := &samlWorker{b: b, sp: sp}
	if err := w.Do(ctx); err != nil {
		return nil, fmt.Errorf("worker %d: first SAML sign-in: %w", i, err)
	}
	return w, nil
}

var samlResponseInput = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

func (w *samlWorker) Do(ctx context.Context) error {
	req, err := w.sp.MakeAuthenticationRequest(w.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return err
	}
	relay := randomString(9)
	u, err := req.Redirect(relay, w.sp)
	if err != nil {
		return err
	}
	_, err = w.b.follow(ctx, u.String(), flow{})
	var page *errPage
	if !errors.As(err, &page) {
		if err == nil {
			err = errors.New("SAML flow ended at a redirect, not at the response form")
		}
		return err
	}
	m := samlResponseInput.FindSubmatch(page.body)
	if m == nil {
		return page // a page without the Response: a login form, an error
	}
	form := url.Values{"SAMLResponse": {html.UnescapeString(string(m[1]))}, "RelayState": {relay}}
	acs, err := http.NewRequestWithContext(ctx, http.MethodPost, benchSPACS, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	acs.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := acs.ParseForm(); err != nil {
		return err
	}
	a, err := w.sp.ParseResponse(acs, []string{req.ID})
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			return fmt.Errorf("SAML response: %v", ire.PrivateErr)
		}
		return fmt.Errorf("SAML response: %w", err)
	}
	if a == nil || a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return errors.New("SAML response: assertion without a NameID")
	}
	return nil
}
