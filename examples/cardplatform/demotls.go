package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The files of the demo TLS directory.
const (
	demoCAFile         = "ca.pem"         // the demo CA: what CardSSO trusts (tls.ca_file)
	demoServerCertFile = "server.pem"     // this server's certificate, for localhost, 127.0.0.1 and ::1
	demoServerKeyFile  = "server-key.pem" // its key
	demoClientCertFile = "client.pem"     // a client certificate for mutual TLS (tls.cert_file)
	demoClientKeyFile  = "client-key.pem" // its key (tls.key_file)
)

// demoTLS returns the server certificate from dir, making a fresh demo CA,
// server certificate and client certificate there first when they are
// missing or the server certificate expires within a day. The CA's key is
// not kept: it signs these two certificates and is thrown away.
func demoTLS(dir string, now time.Time) (tls.Certificate, bool, error) {
	certPath, keyPath := filepath.Join(dir, demoServerCertFile), filepath.Join(dir, demoServerKeyFile)
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && cert.Leaf != nil &&
		now.Add(24*time.Hour).Before(cert.Leaf.NotAfter) && fileExists(filepath.Join(dir, demoCAFile)) {
		return cert, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, err
	}
	ca, err := newDemoCA(now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := ca.issue(dir, now, "localhost", x509.ExtKeyUsageServerAuth, demoServerCertFile, demoServerKeyFile, true); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := ca.issue(dir, now, "cardsso-demo", x509.ExtKeyUsageClientAuth, demoClientCertFile, demoClientKeyFile, false); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := writePEM(filepath.Join(dir, demoCAFile), "CERTIFICATE", ca.der, 0o644); err != nil {
		return tls.Certificate{}, false, err
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	return cert, true, err
}

// demoCA is a fresh self-signed CA, valid for a year from an hour ago,
// that may sign leaf certificates only.
type demoCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	der  []byte
}

func newDemoCA(now time.Time) (*demoCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "CardSSO demo card platform CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &demoCA{key: key, cert: cert, der: der}, nil
}

// issue writes to dir a fresh key (keyFile) and a certificate for it
// (certFile) signed by ca, for cn and usage, valid for a year from an hour
// before now; a server certificate is for localhost, 127.0.0.1 and ::1.
func (ca *demoCA) issue(dir string, now time.Time, cn string, usage x509.ExtKeyUsage, certFile, keyFile string, server bool) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if server {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, keyFile), "PRIVATE KEY", keyDER, 0o600); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, certFile), "CERTIFICATE", der, 0o644)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// writePEM writes a fresh file (removing an old one, so that mode applies).
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
