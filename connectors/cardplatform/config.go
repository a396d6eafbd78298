package cardplatform

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
)

// The defaults of Config.
const (
	DefaultTimeout             = 5 * time.Second
	DefaultRetries             = 2
	DefaultRetryBackoff        = 100 * time.Millisecond
	DefaultBreakerFailures     = 5
	DefaultBreakerOpenFor      = 30 * time.Second
	DefaultBreakerHalfOpen     = 1
	MaxRetries                 = 10
	maxBackoff                 = 2 * time.Second
	maxResponseBytes           = 64 << 10
	maxServerMessageRunes      = 200
	defaultMaxIdleConnsPerHost = 16
)

// Config configures a Client. URL, ClientID and one of Secret and
// SecretFile are required; every other field has a default.
type Config struct {
	// URL is the platform's base URL, e.g. https://cardplatform.example:8443
	// or https://gw.example/cardplatform; the endpoint paths (/v1/realname,
	// …) are appended to its path. It must be https unless
	// InsecurePlainHTTP is set, and carry no user info, query or fragment.
	URL string
	// ClientID is the id the platform knows CardSSO by (X-Card-Client).
	ClientID string
	// Secret is the shared HMAC-SHA256 key, at least 32 bytes. Exactly one
	// of Secret and SecretFile must be set.
	Secret string
	// SecretFile is a file holding the secret; surrounding white space
	// (a trailing newline) is trimmed.
	SecretFile string

	// Timeout bounds one check, retries and their back-off included: a
	// check returns within about Timeout. Zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times an idempotent check (real-name, real-card)
	// is sent again after a network error or a 502, 503 or 504 answer, with
	// exponential back-off and jitter, within Timeout. Zero means
	// DefaultRetries; a negative value means no retries. The real-person
	// check is sent again only when no connection could be made (see the
	// package doc). At most MaxRetries.
	Retries int
	// RetryBackoff is the first back-off; each retry doubles it (up to 2s)
	// and waits a random time between half of it and all of it. Zero means
	// DefaultRetryBackoff.
	RetryBackoff time.Duration
	// Skew is how far the timestamp of a signed answer may be from Now.
	// Zero means wire.DefaultSkew (5 minutes).
	Skew time.Duration

	// TLS configures certificate checks and the client certificate.
	TLS TLSConfig
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig

	// InsecurePlainHTTP allows an http:// URL. The signatures still
	// authenticate requests and answers, but names, numbers and photos
	// cross the network in clear text and a listener learns them. Safe
	// only where the path is protected otherwise: loopback, or a
	// service-mesh sidecar that does the TLS.
	InsecurePlainHTTP bool

	// Now returns the current time, for timestamps. Nil means time.Now.
	Now func() time.Time
	// Rand is the source of nonces and of back-off jitter. Nil means
	// crypto/rand.Reader. It must be unpredictable outside tests.
	Rand io.Reader
	// Registerer gets the client's metrics (see the package doc). Nil means
	// the metrics are kept but not registered anywhere. Two Clients cannot
	// register on the same Registerer.
	Registerer prometheus.Registerer
	// Logger gets a warning for every fault and every change of the
	// breaker's state, with the number masked. Nil means no logs.
	Logger *slog.Logger
}

// TLSConfig is the TLS part of Config. All paths are PEM files.
type TLSConfig struct {
	// CAFile holds the certificates that may sign the platform's
	// certificate. Empty means the system's roots.
	CAFile string
	// CertFile and KeyFile are CardSSO's client certificate and key for
	// mutual TLS: both or neither.
	CertFile string
	KeyFile  string
}

// BreakerConfig is the circuit-breaker part of Config. A fault is any
// check that ends with an error wrapping connectors.ErrUnavailable; an
// answer (a match, a mismatch, a refusal) is a success; a check the caller
// cancelled counts as neither.
type BreakerConfig struct {
	// Failures is how many consecutive faults open the breaker. While it is
	// open, checks fail at once with a FaultError of kind FaultBreakerOpen,
	// without reaching the platform. Zero means DefaultBreakerFailures.
	Failures int
	// OpenFor is how long the breaker stays open before it half-opens and
	// lets HalfOpenRequests checks through: if they succeed it closes, if one
	// fails it opens again. Zero means DefaultBreakerOpenFor.
	OpenFor time.Duration
	// HalfOpenRequests is how many checks a half-open breaker lets through.
	// Zero means DefaultBreakerHalfOpen.
	HalfOpenRequests int
}

// ConfigError reports a Config field that is not valid. Field is the Go
// field name, dotted for nested ones ("TLS.CertFile", "Breaker.OpenFor").
type ConfigError struct {
	Field  string
	Reason string
	Err    error // the underlying error, if any (reading a file)
}

// Error returns "cardplatform: config: Field: reason[: err]".
func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("cardplatform: config: %s: %s: %v", e.Field, e.Reason, e.Err)
	}
	return fmt.Sprintf("cardplatform: config: %s: %s", e.Field, e.Reason)
}

// Unwrap returns e.Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// settings is a validated Config with its defaults filled in.
type settings struct {
	base       *url.URL
	clientID   string
	secret     []byte
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	skew       time.Duration
	tls        *tls.Config // nil for plain HTTP
	failures   int
	openFor    time.Duration
	halfOpen   int
	now        func() time.Time
	rand       io.Reader
	logger     *slog.Logger
	registerer prometheus.Registerer
}

func (cfg Config) settings() (*settings, error) {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	s := &settings{
		clientID:   cfg.ClientID,
		timeout:    orDefault(cfg.Timeout, DefaultTimeout),
		backoff:    orDefault(cfg.RetryBackoff, DefaultRetryBackoff),
		skew:       orDefault(cfg.Skew, wire.DefaultSkew),
		openFor:    orDefault(cfg.Breaker.OpenFor, DefaultBreakerOpenFor),
		now:        cfg.Now,
		rand:       cfg.Rand,
		logger:     cfg.Logger,
		registerer: cfg.Registerer,
	}

	if cfg.URL == "" {
		return nil, bad("URL", "is required")
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		return nil, bad("URL", "is not a URL")
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", u.Opaque != "":
		return nil, bad("URL", "must be an absolute https URL such as https://cardplatform.example:8443")
	case u.Scheme == "http" && !cfg.InsecurePlainHTTP:
		return nil, bad("URL", "must be https (set InsecurePlainHTTP to allow http, safe only on loopback or behind a TLS sidecar)")
	case u.User != nil:
		return nil, bad("URL", "must not carry user info; the client authenticates with ClientID and Secret")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, bad("URL", "must not have a query or a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	s.base = u

	if cfg.ClientID == "" {
		return nil, bad("ClientID", "is required")
	}
	if len(cfg.ClientID) > 128 || strings.ContainsFunc(cfg.ClientID, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return nil, bad("ClientID", "must be 1 to 128 printable ASCII characters without spaces")
	}

	switch {
	case cfg.Secret != "" && cfg.SecretFile != "":
		return nil, bad("Secret", "set Secret or SecretFile, not both")
	case cfg.Secret != "":
		s.secret = []byte(cfg.Secret)
		if len(s.secret) < wire.MinSecretBytes {
			return nil, bad("Secret", "must be at least %d bytes", wire.MinSecretBytes)
		}
	case cfg.SecretFile != "":
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, &ConfigError{Field: "SecretFile", Reason: "cannot read it", Err: err}
		}
		s.secret = bytes.TrimSpace(b)
		if len(s.secret) < wire.MinSecretBytes {
			return nil, bad("SecretFile", "the secret in it must be at least %d bytes", wire.MinSecretBytes)
		}
	default:
		return nil, bad("Secret", "is required (or SecretFile)")
	}

	if cfg.Timeout < 0 {
		return nil, bad("Timeout", "must not be negative")
	}
	switch {
	case cfg.Retries == 0:
		s.retries = DefaultRetries
	case cfg.Retries < 0:
		s.retries = 0
	case cfg.Retries > MaxRetries:
		return nil, bad("Retries", "must be at most %d", MaxRetries)
	default:
		s.retries = cfg.Retries
	}
	if cfg.RetryBackoff < 0 {
		return nil, bad("RetryBackoff", "must not be negative")
	}
	if cfg.Skew < 0 {
		return nil, bad("Skew", "must not be negative")
	}
	if cfg.Breaker.Failures < 0 {
		return nil, bad("Breaker.Failures", "must not be negative")
	}
	s.failures = orDefault(cfg.Breaker.Failures, DefaultBreakerFailures)
	if cfg.Breaker.OpenFor < 0 {
		return nil, bad("Breaker.OpenFor", "must not be negative")
	}
	if cfg.Breaker.HalfOpenRequests < 0 || cfg.Breaker.HalfOpenRequests > 1000 {
		return nil, bad("Breaker.HalfOpenRequests", "must be between 0 and 1000")
	}
	s.halfOpen = orDefault(cfg.Breaker.HalfOpenRequests, DefaultBreakerHalfOpen)

	if u.Scheme == "https" {
		if s.tls, err = cfg.TLS.load(); err != nil {
			return nil, err
		}
	} else if cfg.TLS != (TLSConfig{}) {
		return nil, bad("TLS", "is set but URL is http")
	}

	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// load builds the client's TLS configuration: TLS 1.2 or later, the
// platform's certificate checked against CAFile (or the system roots), and
// the client certificate if one is given.
func (c TLSConfig) load() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &ConfigError{Field: "TLS.CAFile", Reason: "cannot read it", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Field: "TLS.CAFile", Reason: "holds no PEM certificate"}
		}
		tc.RootCAs = pool
	}
	switch {
	case c.CertFile == "" && c.KeyFile == "":
	case c.CertFile == "":
		return nil, &ConfigError{Field: "TLS.CertFile", Reason: "is required with TLS.KeyFile"}
	case c.KeyFile == "":
		return nil, &ConfigError{Field: "TLS.KeyFile", Reason: "is required with TLS.CertFile"}
	default:
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, &ConfigError{Field: "TLS.CertFile", Reason: "cannot load the certificate and key", Err: err}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
