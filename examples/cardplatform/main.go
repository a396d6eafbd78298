package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

// The demo client, which examples/config/cardplatform.yaml uses. The secret
// is public: it is for a demo on one machine, never for anything else.
const (
	demoClientID = "cardsso-demo"
	demoSecret   = "cardsso-demo-secret-not-for-production-0123"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cardplatform:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	addr           string
	appBaseURL     string
	clientsFile    string
	clientID       string
	clientSecret   string
	fixture        string
	photoDir       string
	faceThreshold  float64
	skew           time.Duration
	tlsCert        string
	tlsKey         string
	tlsDir         string
	clientCA       string
	logFormat      string
	secretExplicit bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("cardplatform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: go run ./examples/cardplatform [flags]

A demo card service platform: the HTTP API of docs/cardplatform-api.md over
the simulator's card holders, for CardSSO's cardplatform connector
(examples/config/cardplatform.yaml).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8443", "listen `address` (host:port)")
	fs.StringVar(&o.appBaseURL, "app-base-url", "", "public `URL` of the e-card app API, which login tickets name, when the simulator offers the e-card (default https://<listen address>/app)")
	fs.StringVar(&o.clientsFile, "clients", "", "YAML `file` of clients (clients: [{id, secret | secret_file}]); replaces --client-id/--client-secret")
	fs.StringVar(&o.clientID, "client-id", demoClientID, "the one client's `id`")
	fs.StringVar(&o.clientSecret, "client-secret", "", "the one client's `secret`, at least 32 bytes (default: $CARDPLATFORM_CLIENT_SECRET, else the public demo secret)")
	fs.StringVar(&o.fixture, "fixture", "", "simulator fixture `file` (default: the embedded demo card holders)")
	fs.StringVar(&o.photoDir, "photo-dir", "", "`directory` of the card photos the fixture names (default: the embedded demo photos)")
	fs.Float64Var(&o.faceThreshold, "face-threshold", 0, "face similarity `threshold` in (0, 1] (default: the simulator's)")
	fs.DurationVar(&o.skew, "skew", wire.DefaultSkew, "accepted clock `skew` of request timestamps, either way")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "server certificate PEM `file` (default: a demo certificate in --tls-dir)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "server key PEM `file`, with --tls-cert")
	fs.StringVar(&o.tlsDir, "tls-dir", "data/cardplatform", "`directory` of the demo CA and certificates, made when missing")
	fs.StringVar(&o.clientCA, "client-ca", "", "require client certificates (mutual TLS) signed by the CAs in this PEM `file`")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "client-secret" {
			o.secretExplicit = true
		}
	})
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("--tls-cert and --tls-key go together")
	}
	if o.appBaseURL != "" {
		if u, err := url.Parse(o.appBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return o, errors.New("--app-base-url must be an absolute http(s) URL without query or fragment")
		}
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return o, errors.New("--log-format must be text or json")
	}
	return o, nil
}

// run serves until ctx is done. ready, when not nil, is called with the
// address listened on once the server accepts connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(o.logFormat, stderr)

	clients, err := loadClients(o)
	if err != nil {
		return err
	}
	for id, secret := range clients {
		if secret == demoSecret {
			log.Warn("client uses the public demo secret: fine on one machine, never elsewhere", "client", id)
		}
	}
	tc, err := tlsConfig(o, log)
	if err != nil {
		return err
	}
	// Listen first: the app API's URL, which the tickets name, has the
	// port listened on.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	appBase := appBaseURL(o.appBaseURL, ln.Addr())
	sim, err := simulator.New(simulator.Config{Fixture: o.fixture, PhotoDir: o.photoDir, FaceThreshold: o.faceThreshold, AppBaseURL: appBase})
	if err != nil {
		ln.Close()
		return err
	}
	ecard, app := ecardOf(sim)
	h, err := server.NewHandler(server.Config{Clients: clients, Checker: sim, ECard: ecard, App: app, Skew: o.skew, Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	srv := newServer(h, tc, log)
	attrs := []any{"url", "https://" + ln.Addr().String(), "clients", strings.Join(sortedIDs(clients), ","),
		"mutual_tls", o.clientCA != "", "holders", len(sim.Holders()), "ecard", ecard != nil}
	if app != nil {
		attrs = append(attrs, "app_api", appBase)
	}
	log.Info("card service platform listening", attrs...)
	return serve(ctx, srv, ln, ready, log)
}

// appBaseURL is the e-card app API's URL: flag when set, else
// https://<the address listened on>/app, with localhost for an address
// that listens on every interface.
func appBaseURL(flag string, addr net.Addr) string {
	if flag != "" {
		return strings.TrimSuffix(flag, "/")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "https://" + addr.String() + "/app"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port) + "/app"
}

// ecardOf returns the e-card of the simulator and its app API, each nil
// when the simulator does not offer it (found by type assertion).
func ecardOf(sim any) (server.ECard, http.Handler) {
	ecard, _ := sim.(server.ECard)
	var app http.Handler
	if a, ok := sim.(interface{ AppHandler() http.Handler }); ok {
		app = a.AppHandler()
	}
	return ecard, app
}

// newLogger logs to w in format, text or json.
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// tlsConfig is the server's TLS: the certificate of --tls-cert and
// --tls-key, else the demo one in --tls-dir (made when missing); with
// --client-ca, client certificates signed by those CAs are required.
func tlsConfig(o options, log *slog.Logger) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else {
		cert, made, err := demoTLS(o.tlsDir, time.Now())
		if err != nil {
			return nil, fmt.Errorf("demo TLS in %s: %w", o.tlsDir, err)
		}
		tc.Certificates = []tls.Certificate{cert}
		if made {
			log.Info("made a demo CA and certificates", "dir", o.tlsDir)
		}
		log.Info("demo TLS: CardSSO trusts the CA in "+o.tlsDir+"/"+demoCAFile,
			"ca_file", o.tlsDir+"/"+demoCAFile, "client_cert", o.tlsDir+"/"+demoClientCertFile, "client_key", o.tlsDir+"/"+demoClientKeyFile)
	}
	if o.clientCA != "" {
		pemData, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--client-ca: %s holds no PEM certificate", o.clientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// newServer is the HTTPS server of h, with timeouts and a header limit.
func newServer(h http.Handler, tc *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// sortedIDs returns the client ids in order, for the log.
func sortedIDs(clients map[string]string) []string {
	ids := make([]string, 0, len(clients))
	for id := range clients {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// serve serves TLS on ln until ctx is done, then shuts srv down (waiting
// up to 10 s for requests in flight). ready, when not nil, is called with
// the address once the server accepts connections.
func serve(ctx context.Context, srv *http.Server, ln net.Listener, ready func(addr string), log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// clientsFile is the layout of --clients.
type clientsFile struct {
	Clients []struct {
		ID         string `yaml:"id"`
		Secret     string `yaml:"secret"`
		SecretFile string `yaml:"secret_file"`
	} `yaml:"clients"`
}

// loadClients returns the clients: from --clients, or the one of
// --client-id and --client-secret (default $CARDPLATFORM_CLIENT_SECRET,
// else the demo secret).
func loadClients(o options) (map[string]string, error) {
	if o.clientsFile == "" {
		secret := o.clientSecret
		if !o.secretExplicit {
			secret = os.Getenv("CARDPLATFORM_CLIENT_SECRET")
		}
		if secret == "" {
			secret = demoSecret
		}
		if len(secret) < wire.MinSecretBytes {
			return nil, fmt.Errorf("--client-secret must be at least %d bytes", wire.MinSecretBytes)
		}
		return map[string]string{o.clientID: secret}, nil
	}
	data, err := os.ReadFile(o.clientsFile)
	if err != nil {
		return nil, fmt.Errorf("--clients: %w", err)
	}
	var f clientsFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("--clients: %s: %w", o.clientsFile, err)
	}
	clients := make(map[string]string, len(f.Clients))
	for i, c := range f.Clients {
		secret := c.Secret
		switch {
		case c.ID == "":
			return nil, fmt.Errorf("--clients: %s: clients[%d]: id is required", o.clientsFile, i)
		case clients[c.ID] != "":
			return nil, fmt.Errorf("--clients: %s: clients[%d]: client %q appears twice", o.clientsFile, i, c.ID)
		case (c.Secret == "") == (c.SecretFile == ""):
			return nil, fmt.Errorf("--clients: %s: clients[%d]: set secret or secret_file", o.clientsFile, i)
		case c.SecretFile != "":
			b, err := os.ReadFile(c.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("--clients: %s: clients[%d]: secret_file: %w", o.clientsFile, i, err)
			}
			secret = string(bytes.TrimSpace(b))
		}
		if len(secret) < wire.MinSecretBytes {
			return nil, fmt.Errorf("--clients: %s: clients[%d]: the secret must be at least %d bytes", o.clientsFile, i, wire.MinSecretBytes)
		}
		clients[c.ID] = secret
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("--clients: %s: no clients", o.clientsFile)
	}
	return clients, nil
}
