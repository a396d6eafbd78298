package cardplatform_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/internal/testlog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

const (
	testClientID = "cardsso-test"
	testSecret   = "test-secret-0123456789abcdef-0123456789"
	zhangNumber  = "110105199003070017"
	zhangName    = "张三"
)

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// platform is examples/cardplatform's handler over the default simulator,
// served over TLS on 127.0.0.1:0.
type platform struct {
	srv    *httptest.Server
	caFile string // the server's certificate, for TLS.CAFile
	logs   *testlog.Buffer
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	p := &platform{logs: &testlog.Buffer{}}
	h := newHandler(t, p.logs)
	p.srv = httptest.NewTLSServer(h)
	t.Cleanup(p.srv.Close)
	p.caFile = writeCertPEM(t, p.srv.Certificate())
	return p
}

// newHandler is the platform's handler over the default simulator, with
// newFakeECard's e-card.
func newHandler(t *testing.T, logs io.Writer) http.Handler {
	t.Helper()
	return newHandlerWith(t, logs, newFakeECard())
}

func newHandlerWith(t *testing.T, logs io.Writer, e server.ECard) http.Handler {
	t.Helper()
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatalf("simulator.New error = %v", err)
	}
	h, err := server.NewHandler(server.Config{
		Clients: map[string]string{testClientID: testSecret},
		Checker: sim,
		ECard:   e,
		Logger:  newLogger(logs),
	})
	if err != nil {
		t.Fatalf("server.NewHandler error = %v", err)
	}
	return h
}

// config returns a client Config for p.
func (p *platform) config() cardplatform.Config {
	return cardplatform.Config{
		URL:      p.srv.URL,
		ClientID: testClientID,
		Secret:   testSecret,
		TLS:      cardplatform.TLSConfig{CAFile: p.caFile},
	}
}

func newClient(t *testing.T, cfg cardplatform.Config) *cardplatform.Client {
	t.Helper()
	c, err := cardplatform.New(cfg)
	if err != nil {
		t.Fatalf("New error = %v; want nil", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func writeCertPEM(t *testing.T, certs ...*x509.Certificate) string {
	t.Helper()
	var b bytes.Buffer
	for _, c := range certs {
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustParse(t *testing.T, s string) citizenid.Number {
	t.Helper()
	n, err := citizenid.Parse(s)
	if err != nil {
		t.Fatalf("citizenid.Parse(%s) error = %v", citizenid.Mask(s), err)
	}
	return n
}

// fake is a scripted platform: answer decides each answer from the
// request; the fake signs it with secret (unless sign is false) over the
// request's nonce, as the real platform does. It counts requests.
type fake struct {
	srv      *httptest.Server
	requests atomic.Int64
	caFile   string
}

type fakeAnswer struct {
	status int
	body   string
	// unsigned leaves the signature headers out; secret, when set, signs
	// with it instead of testSecret; nonce, when set, signs over it instead
	// of the request's; at, when set, is the response's timestamp.
	unsigned bool
	secret   string
	nonce    string
	at       time.Time
}

func startFake(t *testing.T, answer func(n int64, r *http.Request) fakeAnswer) *fake {
	t.Helper()
	return startFakeHandler(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		a := answer(n, r)
		if a.status == 0 {
			return // the answer function wrote the response, or hijacked the connection
		}
		if !a.unsigned {
			secret, nonce, at := testSecret, r.Header.Get(wire.HeaderNonce), time.Now()
			if a.secret != "" {
				secret = a.secret
			}
			if a.nonce != "" {
				nonce = a.nonce
			}
			if !a.at.IsZero() {
				at = a.at
			}
			ts := wire.FormatTimestamp(at)
			w.Header().Set(wire.HeaderTimestamp, ts)
			w.Header().Set(wire.HeaderSignature, wire.ResponseSignature([]byte(secret), a.status, ts, nonce, wire.Digest([]byte(a.body))))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	})
}

// startFakeHandler starts a fake whose handler is h, called after the
// request is counted and its body read (r.Body reads it again).
// n is the number of the request, from 1.
func startFakeHandler(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(n, w, r)
	}))
	t.Cleanup(f.srv.Close)
	f.caFile = writeCertPEM(t, f.srv.Certificate())
	return f
}

// metricValue returns the value of the counter or gauge name with labels in
// reg, failing the test when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s%v in the registry", name, labels)
	return 0
}

// callCheck makes the check named for 张三 with plausible arguments.
func callCheck(t *testing.T, c *cardplatform.Client, check string) error {
	t.Helper()
	n := mustParse(t, zhangNumber)
	var err error
	switch check {
	case cardplatform.CheckRealName:
		_, err = c.CheckRealName(t.Context(), zhangName, n)
	case cardplatform.CheckCard:
		_, err = c.CheckCard(t.Context(), zhangName, n, "A00000001")
	case cardplatform.CheckFace:
		_, err = c.CheckFace(t.Context(), n, []byte("\x89PNG not really"), "challenge-1")
	default:
		t.Fatalf("unknown check %q", check)
	}
	return err
}

// citizenidMust parses a number known to be valid.
func citizenidMust(s string) citizenid.Number {
	n, err := citizenid.Parse(s)
	if err != nil {
		panic("test number not valid: " + err.Error())
	}
	return n
}

func (f *fake) config() cardplatform.Config {
	return cardplatform.Config{
		URL:      f.srv.URL,
		ClientID: testClientID,
		Secret:   testSecret,
		TLS:      cardplatform.TLSConfig{CAFile: f.caFile},
	}
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caPool                       *x509.CertPool
	caFile                       string
	serverCert                   tls.Certificate
	clientCertFile, clientKeyFle string
}

func newPKI(t *testing.T, cn string) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage, ip bool) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if ip {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	p := &testPKI{caPool: x509.NewCertPool(), caFile: writeCertPEM(t, ca)}
	p.caPool.AddCert(ca)
	sc, sk := issue(2, x509.ExtKeyUsageServerAuth, true)
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, x509.ExtKeyUsageClientAuth, false)
	p.clientCertFile, p.clientKeyFle = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	if err := os.WriteFile(p.clientCertFile, cc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.clientKeyFle, ck, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hang is a platform that never answers: it holds the request until the
// client goes away (or 10s pass), then drops the connection without an
// answer, so that no late answer can race the client's deadline.
func hang(_ int64, w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}
