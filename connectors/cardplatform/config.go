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
	"reflect"
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
	URL string `yaml:"url"`
	// ClientID is the id the platform knows CardSSO by (X-Card-Client).
	ClientID string `yaml:"client_id"`
	// Secret is the shared HMAC-SHA256 key, at least 32 bytes. Exactly one
	// of Secret and SecretFile must be set.
	Secret string `yaml:"secret"`
	// SecretFile is a file holding the secret; surrounding white space
	// (a trailing newline) is trimmed.
	SecretFile string `yaml:"secret_file"`

	// Timeout bounds one check, retries and their back-off included: a
	// check returns within about Timeout. Zero means DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times an idempotent check (real-name, real-card)
	// is sent again after a network error or a 502, 503 or 504 answer, with
	// exponential back-off and jitter, within Timeout. Zero means
	// DefaultRetries; a negative value means no retries. The real-person
	// check is sent again only when no connection could be made (see the
	// package doc). At most MaxRetries.
	Retries int `yaml:"retries"`
	// RetryBackoff is the first back-off; each retry doubles it (up to 2s)
	// and waits a random time between half of it and all of it. Zero means
	// DefaultRetryBackoff.
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// Skew is how far the timestamp of a signed answer may be from Now.
	// Zero means wire.DefaultSkew (5 minutes).
	Skew time.Duration `yaml:"skew"`

	// TLS configures certificate checks and the client certificate.
	TLS TLSConfig `yaml:"tls"`
	// Breaker configures the circuit breaker.
	Breaker BreakerConfig `yaml:"breaker"`

	// InsecurePlainHTTP allows an http:// URL. The signatures still
	// authenticate requests and answers, but names, numbers and photos
	// cross the network in clear text and a listener learns them. Safe
	// only where the path is protected otherwise: loopback, or a
	// service-mesh sidecar that does the TLS.
	InsecurePlainHTTP bool `yaml:"insecure_plain_http"`

	// Now returns the current time, for timestamps. Nil means time.Now.
	Now func() time.Time `yaml:"-"`
	// Rand is the source of nonces and of back-off jitter. Nil means
	// crypto/rand.Reader. It must be unpredictable outside tests.
	Rand io.Reader `yaml:"-"`
	// Registerer gets the client's metrics (see the package doc). Nil means
	// the metrics are kept but not registered anywhere. Two Clients cannot
	// register on the same Registerer.
	Registerer prometheus.Registerer `yaml:"-"`
	// Logger gets a warning for every fault and every change of the
	// breaker's state, with the number masked. Nil means no logs.
	Logger *slog.Logger `yaml:"-"`
}

// TLSConfig is the TLS part of Config. All paths are PEM files.
type TLSConfig struct {
	// CAFile holds the certificates that may sign the platform's
	// certificate. Empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are CardSSO's client certificate and key for
	// mutual TLS: both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// BreakerConfig is the circuit-breaker part of Config. A fault is any
// check that ends with an error wrapping connectors.ErrUnavailable; an
// answer (a match, a mismatch, a refusal) is a success; a check the caller
// cancelled counts as neither.
type BreakerConfig struct {
	// Failures is how many consecutive faults open the breaker. While it is
	// open, checks fail at once with a FaultError of kind FaultBreakerOpen,
	// without reaching the platform. Zero means DefaultBreakerFailures.
	Failures int `yaml:"failures"`
	// OpenFor is how long the breaker stays open before it half-opens and
	// lets HalfOpenRequests checks through: if they succeed it closes, if one
	// fails it opens again. Zero means DefaultBreakerOpenFor.
	OpenFor time.Duration `yaml:"open_for"`
	// HalfOpenRequests is how many checks a half-open breaker lets through.
	// Zero means DefaultBreakerHalfOpen.
	HalfOpenRequests int `yaml:"half_open_requests"`
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

// ConfigKey is Field as the YAML key of the configuration file
// ("tls.cert_file" for "TLS.CertFile"), from Config's yaml tags; Field itself
// when it has none (Registerer).
func (e *ConfigError) ConfigKey() string {
	t := reflect.TypeOf(Config{})
	var keys []string
	for _, name := range strings.Split(e.Field, ".") {
		f, ok := t.FieldByName(name)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !ok || tag == "" || tag == "-" {
			return e.Field
		}
		keys = append(keys, tag)
		t = f.Type
	}
	return strings.Join(keys, ".")
}

// ConfigReason is the reason of e with the underlying error, if any.
func (e *ConfigError) ConfigReason() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

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

// MaxHalfOpenRequests is the most trial checks a half-open breaker may let
// through (BreakerConfig.HalfOpenRequests).
const MaxHalfOpenRequests = 1000

// maxClientIDLen is the longest ClientID.
const maxClientIDLen = 128

// Validate checks cfg as New will, without reading any file: the first bad
// field gives a *ConfigError. Secrets are never echoed, nor a URL with user
// info in it. Messages name the other fields by their YAML keys.
func (cfg Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.URL == "" {
		return bad("URL", "is required (an https URL such as https://cardplatform.example:8443)")
	}
	u, err := url.Parse(cfg.URL)
	switch {
	case err == nil && u.User != nil:
		// Not echoed: user info may hold a password.
		return bad("URL", "must not have user info (the connector authenticates with client_id and secret)")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return bad("URL", "%q is not an absolute URL (want e.g. https://cardplatform.example:8443)", cfg.URL)
	case u.Scheme != "https" && u.Scheme != "http":
		return bad("URL", "scheme %q not allowed (want https)", u.Scheme)
	case u.Scheme == "http" && !cfg.InsecurePlainHTTP:
		return bad("URL", "must use https, got %q (plain http needs insecure_plain_http: true, safe only on loopback or behind a TLS sidecar)", cfg.URL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(cfg.URL, "#"):
		return bad("URL", "must not have a query or a fragment, got %q", cfg.URL)
	}

	if cfg.ClientID == "" {
		return bad("ClientID", "is required")
	}
	if len(cfg.ClientID) > maxClientIDLen || strings.ContainsFunc(cfg.ClientID, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return bad("ClientID", "want 1 to %d printable ASCII characters without spaces", maxClientIDLen)
	}

	switch {
	case cfg.Secret != "" && cfg.SecretFile != "":
		return bad("Secret", "set secret or secret_file, not both")
	case cfg.Secret == "" && cfg.SecretFile == "":
		return bad("Secret", "is required (set secret or secret_file)")
	case cfg.Secret != "" && len(cfg.Secret) < wire.MinSecretBytes:
		// Never echo the value, nor its length.
		return bad("Secret", "at least %d bytes (make one with: head -c 32 /dev/urandom | base64)", wire.MinSecretBytes)
	}

	switch {
	case cfg.Retries < -1:
		return bad("Retries", "want -1 (no retries), 0 (the default, %d) or 1 to %d, got %d", DefaultRetries, MaxRetries, cfg.Retries)
	case cfg.Retries > MaxRetries:
		return bad("Retries", "at most %d, got %d", MaxRetries, cfg.Retries)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"Timeout", cfg.Timeout}, {"RetryBackoff", cfg.RetryBackoff}, {"Skew", cfg.Skew}, {"Breaker.OpenFor", cfg.Breaker.OpenFor},
	} {
		if d.v < 0 {
			return bad(d.field, "must not be negative, got %s", d.v)
		}
	}
	if cfg.Breaker.Failures < 0 {
		return bad("Breaker.Failures", "must not be negative, got %d", cfg.Breaker.Failures)
	}
	if n := cfg.Breaker.HalfOpenRequests; n < 0 || n > MaxHalfOpenRequests {
		return bad("Breaker.HalfOpenRequests", "want 0 (the default, %d) to %d, got %d", DefaultBreakerHalfOpen, MaxHalfOpenRequests, n)
	}

	switch {
	case cfg.TLS.CertFile != "" && cfg.TLS.KeyFile == "":
		return bad("TLS.KeyFile", "required with tls.cert_file (set both or neither)")
	case cfg.TLS.CertFile == "" && cfg.TLS.KeyFile != "":
		return bad("TLS.CertFile", "required with tls.key_file (set both or neither)")
	}
	if u.Scheme == "http" && cfg.TLS != (TLSConfig{}) {
		return bad("TLS", "set, but url is plain http")
	}
	return nil
}

// Open validates cfg, reads its files and returns the client: New(cfg).
func (cfg Config) Open() (*Client, error) { return New(cfg) }

// settings validates cfg, reads the files it names and fills in the
// defaults.
func (cfg Config) settings() (*settings, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &settings{
		clientID:   cfg.ClientID,
		timeout:    orDefault(cfg.Timeout, DefaultTimeout),
		backoff:    orDefault(cfg.RetryBackoff, DefaultRetryBackoff),
		skew:       orDefault(cfg.Skew, wire.DefaultSkew),
		openFor:    orDefault(cfg.Breaker.OpenFor, DefaultBreakerOpenFor),
		failures:   orDefault(cfg.Breaker.Failures, DefaultBreakerFailures),
		halfOpen:   orDefault(cfg.Breaker.HalfOpenRequests, DefaultBreakerHalfOpen),
		now:        cfg.Now,
		rand:       cfg.Rand,
		logger:     cfg.Logger,
		registerer: cfg.Registerer,
	}
	u, _ := url.Parse(cfg.URL) // checked by Validate
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	s.base = u

	if cfg.Secret != "" {
		s.secret = []byte(cfg.Secret)
	} else {
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, &ConfigError{Field: "SecretFile", Reason: "cannot read it", Err: err}
		}
		s.secret = bytes.TrimSpace(b)
		if len(s.secret) < wire.MinSecretBytes {
			return nil, &ConfigError{Field: "SecretFile", Reason: fmt.Sprintf("the secret in it must be at least %d bytes", wire.MinSecretBytes)}
		}
	}
	switch {
	case cfg.Retries == 0:
		s.retries = DefaultRetries
	case cfg.Retries < 0:
		s.retries = 0
	default:
		s.retries = cfg.Retries
	}

	if u.Scheme == "https" {
		var err error
		if s.tls, err = cfg.TLS.load(); err != nil {
			return nil, err
		}
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
