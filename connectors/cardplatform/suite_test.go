package cardplatform_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"testing"

	"github.com/cardsso/cardsso/internal/testlog"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/connectorstest"
)

// TestSuite runs the shared suite against the client talking to
// examples/cardplatform's server over TLS.
func TestSuite(t *testing.T) {
	p := startPlatform(t)
	connectorstest.Run(t, newClient(t, p.config()))
}

// TestSuiteMutualTLS runs the shared suite over mutual TLS, and checks that
// a client without a certificate, or with one from another CA, cannot
// check at all.
func TestSuiteMutualTLS(t *testing.T) {
	pki := newPKI(t, "platform")
	srv := httptest.NewUnstartedServer(newHandler(t, &testlog.Buffer{}))
	srv.TLS = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pki.serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.caPool,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg := cardplatform.Config{
		URL:      srv.URL,
		ClientID: testClientID,
		Secret:   testSecret,
		TLS:      cardplatform.TLSConfig{CAFile: pki.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFle},
	}
	connectorstest.Run(t, newClient(t, cfg))

	other := newPKI(t, "someone else")
	for _, tt := range []struct {
		name string
		tls  cardplatform.TLSConfig
	}{
		{"no client certificate", cardplatform.TLSConfig{CAFile: pki.caFile}},
		{"client certificate from another CA", cardplatform.TLSConfig{CAFile: pki.caFile, CertFile: other.clientCertFile, KeyFile: other.clientKeyFle}},
		{"server not trusted", cardplatform.TLSConfig{CAFile: other.caFile, CertFile: pki.clientCertFile, KeyFile: pki.clientKeyFle}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			cfg.TLS = tt.tls
			cfg.Retries = -1
			c := newClient(t, cfg)
			got, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
			if !errors.Is(err, connectors.ErrUnavailable) || got.Matched {
				t.Errorf("CheckRealName = %+v, %v; want an error wrapping ErrUnavailable", got, err)
			}
		})
	}
}
