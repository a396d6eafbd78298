package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/policies/assurance"
)

// fileConfig is the configuration as an operator writes it: the YAML file
// (snake_case keys), CARDSSO_* environment variables and flags all set its
// fields. Validate checks it; idpConfig turns it into an idp.Config.
//
// Precedence: defaults < file < environment < flags. A key that is absent
// from the file, or null, keeps its default; an empty environment variable
// counts as unset.
type fileConfig struct {
	Issuer      string `yaml:"issuer"`
	Addr        string `yaml:"addr"`
	DataDir     string `yaml:"data_dir"`
	MetricsAddr string `yaml:"metrics_addr"`
	// TrustedProxies and ClientIPHeader: see idp.Config.
	TrustedProxies []string        `yaml:"trusted_proxies"`
	ClientIPHeader string          `yaml:"client_ip_header"`
	Storage        storageConfig   `yaml:"storage"`
	MasterKey      masterKeyConfig `yaml:"master_key"`
	Connector      connectorConfig `yaml:"connector"`
	Tokens         tokensConfig    `yaml:"tokens"`
	Session        sessionConfig   `yaml:"session"`
	Keys           keysConfig      `yaml:"keys"`
	Password       passwordConfig  `yaml:"password"`
	Checks         checksConfig    `yaml:"checks"`
	Lockout        lockoutConfig   `yaml:"lockout"`
	SAML           samlConfig      `yaml:"saml"`
	Logout         logoutConfig    `yaml:"logout"`
	Log            logConfig       `yaml:"log"`

	// sources records, by YAML path, which environment variable or flag set
	// a value, so that an error can say where the bad value came from.
	sources map[string]string
}

type storageConfig struct {
	Type            string        `yaml:"type"`
	DSN             string        `yaml:"dsn"`
	MaxOpenConns    int           `yaml:"max_open_conns"`
	MaxIdleConns    int           `yaml:"max_idle_conns"`
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`
	ConnMaxIdleTime time.Duration `yaml:"conn_max_idle_time"`
	QueryTimeout    time.Duration `yaml:"query_timeout"`
}

type masterKeyConfig struct {
	File  string `yaml:"file"`
	Value string `yaml:"value"`
}

type connectorConfig struct {
	Type         string             `yaml:"type"`
	Simulator    simulatorConfig    `yaml:"simulator"`
	CardPlatform cardPlatformConfig `yaml:"cardplatform"`
}

type simulatorConfig struct {
	Fixture string `yaml:"fixture"`
}

// cardPlatformConfig is the networked connector (connectors/cardplatform).
// Zero values take the connector's own defaults: timeout 5s, retries 2,
// retry_backoff 100ms, skew 5m, breaker 5 failures / open for 30s / 1
// half-open request.
type cardPlatformConfig struct {
	URL               string              `yaml:"url"`
	ClientID          string              `yaml:"client_id"`
	Secret            string              `yaml:"secret"`
	SecretFile        string              `yaml:"secret_file"`
	Timeout           time.Duration       `yaml:"timeout"`
	Retries           int                 `yaml:"retries"`
	RetryBackoff      time.Duration       `yaml:"retry_backoff"`
	Skew              time.Duration       `yaml:"skew"`
	TLS               cardPlatformTLS     `yaml:"tls"`
	Breaker           cardPlatformBreaker `yaml:"breaker"`
	InsecurePlainHTTP bool                `yaml:"insecure_plain_http"`
}

type cardPlatformTLS struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

type cardPlatformBreaker struct {
	Failures         int           `yaml:"failures"`
	OpenFor          time.Duration `yaml:"open_for"`
	HalfOpenRequests int           `yaml:"half_open_requests"`
}

// Limits of the cardplatform connector, checked here so that a bad value
// stops the command before anything starts.
const (
	cardPlatformMinSecretBytes      = 32 // wire.MinSecretBytes
	cardPlatformMaxRetries          = 10 // cardplatform.MaxRetries
	cardPlatformMaxHalfOpenRequests = 1000
	cardPlatformMaxClientIDLen      = 128
)

type tokensConfig struct {
	AccessTokenLifetime  time.Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime      time.Duration `yaml:"id_token_lifetime"`
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	AuthRequestLifetime  time.Duration `yaml:"auth_request_lifetime"`
	CodeLifetime         time.Duration `yaml:"code_lifetime"`
}

type sessionConfig struct {
	Lifetime    time.Duration `yaml:"lifetime"`
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	CookieName  string        `yaml:"cookie_name"`
}

type keysConfig struct {
	Algorithm       string        `yaml:"algorithm"`
	RotationPeriod  time.Duration `yaml:"rotation_period"`
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

type passwordConfig struct {
	MemoryKiB uint32 `yaml:"memory_kib"`
	Time      uint32 `yaml:"time"`
	Threads   uint8  `yaml:"threads"`
}

type checksConfig struct {
	CardTTL time.Duration `yaml:"card_ttl"`
}

// lockoutConfig is the abuse limits (idp.LockoutConfig).
type lockoutConfig struct {
	PasswordFailures   int           `yaml:"password_failures"`
	PasswordPerIP      int           `yaml:"password_per_ip"`
	PasswordWindow     time.Duration `yaml:"password_window"`
	PasswordDelayAfter int           `yaml:"password_delay_after"`
	PasswordDelay      time.Duration `yaml:"password_delay"`
	PasswordMaxDelay   time.Duration `yaml:"password_max_delay"`
	RealNamePerNumber  int           `yaml:"realname_per_number"`
	RealNamePerIP      int           `yaml:"realname_per_ip"`
	RealNameWindow     time.Duration `yaml:"realname_window"`
	CardPerAccount     int           `yaml:"card_per_account"`
	CardPerIP          int           `yaml:"card_per_ip"`
	CardWindow         time.Duration `yaml:"card_window"`
	FaceFailures       int           `yaml:"face_failures"`
	FaceWindow         time.Duration `yaml:"face_window"`
	FormRate           float64       `yaml:"form_rate"`
	FormBurst          int           `yaml:"form_burst"`
}

// samlConfig is the SAML identity provider (idp.SAMLConfig).
type samlConfig struct {
	AssertionLifetime time.Duration  `yaml:"assertion_lifetime"`
	MetadataValidity  time.Duration  `yaml:"metadata_validity"`
	KeyRotationPeriod time.Duration  `yaml:"key_rotation_period"`
	ACRAliases        samlACRAliases `yaml:"acr_aliases"`
	AssertAliases     bool           `yaml:"assert_aliases"`
}

// samlACRAliases names each level in another framework; "none" for no
// alias.
type samlACRAliases struct {
	LoA1 string `yaml:"loa1"`
	LoA2 string `yaml:"loa2"`
	LoA3 string `yaml:"loa3"`
}

// logoutConfig is how ended sessions are announced (idp.LogoutConfig).
type logoutConfig struct {
	BackchannelTimeout  time.Duration `yaml:"backchannel_timeout"`
	BackchannelAttempts int           `yaml:"backchannel_attempts"`
	BackchannelBackoff  time.Duration `yaml:"backchannel_backoff"`
}

// noAlias is the acr alias value that leaves a level without alias.
const noAlias = "none"

type logConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Minimum argon2id cost: OWASP's minimum for argon2id.
const (
	minPasswordMemoryKiB = 19456
	minPasswordTime      = 2
	minPasswordThreads   = 1
)

// defaultConfig is what `cardsso serve` runs on with no file, no environment
// and no flags. Storage DSN and master key file stay empty: they default to
// files in data_dir, which may be set later (see idpConfig).
func defaultConfig() fileConfig {
	return fileConfig{
		Issuer:         "http://localhost:8080",
		Addr:           "127.0.0.1:8080",
		DataDir:        "./data",
		TrustedProxies: []string{},
		ClientIPHeader: "X-Forwarded-For",
		Storage:        storageConfig{Type: "sqlite", QueryTimeout: 5 * time.Second},
		Connector:      connectorConfig{Type: "simulator"},
		Tokens: tokensConfig{
			AccessTokenLifetime:  15 * time.Minute,
			IDTokenLifetime:      15 * time.Minute,
			RefreshTokenLifetime: 720 * time.Hour,
			AuthRequestLifetime:  30 * time.Minute,
			CodeLifetime:         60 * time.Second,
		},
		Session: sessionConfig{
			Lifetime:    12 * time.Hour,
			IdleTimeout: 2 * time.Hour,
			CookieName:  "cardsso_session",
		},
		Keys:     keysConfig{Algorithm: "ES256", RotationPeriod: 720 * time.Hour, RefreshInterval: time.Minute},
		Password: passwordConfig{MemoryKiB: minPasswordMemoryKiB, Time: minPasswordTime, Threads: minPasswordThreads},
		Checks:   checksConfig{CardTTL: 24 * time.Hour},
		Lockout: lockoutConfig{
			PasswordFailures: 5, PasswordPerIP: 30, PasswordWindow: 15 * time.Minute,
			PasswordDelayAfter: 2, PasswordDelay: 500 * time.Millisecond, PasswordMaxDelay: 4 * time.Second,
			RealNamePerNumber: 5, RealNamePerIP: 20, RealNameWindow: time.Hour,
			CardPerAccount: 5, CardPerIP: 20, CardWindow: time.Hour,
			FaceFailures: 5, FaceWindow: time.Hour,
			FormRate: 5, FormBurst: 20,
		},
		SAML: samlConfig{
			AssertionLifetime: 5 * time.Minute, MetadataValidity: 8760 * time.Hour, KeyRotationPeriod: 17520 * time.Hour,
			ACRAliases: samlACRAliases{
				LoA1: "http://eidas.europa.eu/LoA/low", LoA2: "http://eidas.europa.eu/LoA/low", LoA3: "http://eidas.europa.eu/LoA/substantial",
			},
		},
		Logout: logoutConfig{BackchannelTimeout: 5 * time.Second, BackchannelAttempts: 3, BackchannelBackoff: time.Second},
		Log:    logConfig{Level: "info", Format: "json"},
	}
}

// configError is a configuration value that cannot be used. It names the
// value by its YAML path and, when it did not come from the file, says which
// environment variable or flag set it. It makes the exit code 2.
type configError struct {
	Path   string // YAML path, e.g. keys.algorithm; empty for the file as a whole
	Reason string
	Source string // "CARDSSO_KEYS_ALGORITHM", "--issuer", "cardsso.yaml:3" or ""
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Reason)
	if e.Source != "" {
		b.WriteString(" (from " + e.Source + ")")
	}
	return b.String()
}

func (c *fileConfig) invalid(path, format string, args ...any) error {
	return &configError{Path: path, Reason: fmt.Sprintf(format, args...), Source: c.sources[path]}
}

// setting is one configuration value that an environment variable (and
// possibly a flag) can set. Its parser is the one used for both.
type setting struct {
	Path string // YAML path
	Env  string // environment variable
	set  func(c *fileConfig, v string) error
}

// settings is the table of environment variables: CARDSSO_ followed by the
// YAML path in upper case with "." and "_" both written "_", except
// CARDSSO_MASTER_KEY (master_key.value), CARDSSO_SIMULATOR_FIXTURE
// (connector.simulator.fixture) and CARDSSO_CARDPLATFORM_* (the path after
// "connector.", e.g. CARDSSO_CARDPLATFORM_TLS_CA_FILE for
// connector.cardplatform.tls.ca_file). The README lists the same table.
func settings() []setting {
	str := func(f func(c *fileConfig) *string) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error { *f(c) = v; return nil }
	}
	dur := func(f func(c *fileConfig) *time.Duration) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			d, err := parseDuration(v)
			if err != nil {
				return err
			}
			*f(c) = d
			return nil
		}
	}
	num := func(bits int, f func(c *fileConfig, n uint64)) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			n, err := strconv.ParseUint(v, 10, bits)
			if err != nil {
				return fmt.Errorf("want a whole number from 0 to %d, got %q", uint64(1)<<bits-1, v)
			}
			f(c, n)
			return nil
		}
	}
	signed := func(f func(c *fileConfig) *int) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("want a whole number, got %q", v)
			}
			*f(c) = int(n)
			return nil
		}
	}
	boolean := func(f func(c *fileConfig) *bool) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			*f(c) = b
			return nil
		}
	}
	list := func(f func(c *fileConfig) *[]string) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			out := []string{}
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					out = append(out, e)
				}
			}
			*f(c) = out
			return nil
		}
	}
	decimal := func(f func(c *fileConfig) *float64) func(*fileConfig, string) error {
		return func(c *fileConfig, v string) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("want a number, got %q", v)
			}
			*f(c) = x
			return nil
		}
	}
	lo := func(c *fileConfig) *lockoutConfig { return &c.Lockout }
	cp := func(c *fileConfig) *cardPlatformConfig { return &c.Connector.CardPlatform }
	return []setting{
		{"issuer", "CARDSSO_ISSUER", str(func(c *fileConfig) *string { return &c.Issuer })},
		{"addr", "CARDSSO_ADDR", str(func(c *fileConfig) *string { return &c.Addr })},
		{"metrics_addr", "CARDSSO_METRICS_ADDR", str(func(c *fileConfig) *string { return &c.MetricsAddr })},
		{"data_dir", "CARDSSO_DATA_DIR", str(func(c *fileConfig) *string { return &c.DataDir })},
		{"storage.type", "CARDSSO_STORAGE_TYPE", str(func(c *fileConfig) *string { return &c.Storage.Type })},
		{"storage.dsn", "CARDSSO_STORAGE_DSN", str(func(c *fileConfig) *string { return &c.Storage.DSN })},
		{"storage.max_open_conns", "CARDSSO_STORAGE_MAX_OPEN_CONNS", num(31, func(c *fileConfig, n uint64) { c.Storage.MaxOpenConns = int(n) })},
		{"storage.max_idle_conns", "CARDSSO_STORAGE_MAX_IDLE_CONNS", num(31, func(c *fileConfig, n uint64) { c.Storage.MaxIdleConns = int(n) })},
		{"storage.conn_max_lifetime", "CARDSSO_STORAGE_CONN_MAX_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Storage.ConnMaxLifetime })},
		{"storage.conn_max_idle_time", "CARDSSO_STORAGE_CONN_MAX_IDLE_TIME", dur(func(c *fileConfig) *time.Duration { return &c.Storage.ConnMaxIdleTime })},
		{"storage.query_timeout", "CARDSSO_STORAGE_QUERY_TIMEOUT", dur(func(c *fileConfig) *time.Duration { return &c.Storage.QueryTimeout })},
		{"master_key.file", "CARDSSO_MASTER_KEY_FILE", str(func(c *fileConfig) *string { return &c.MasterKey.File })},
		{"master_key.value", "CARDSSO_MASTER_KEY", str(func(c *fileConfig) *string { return &c.MasterKey.Value })},
		{"connector.type", "CARDSSO_CONNECTOR_TYPE", str(func(c *fileConfig) *string { return &c.Connector.Type })},
		{"connector.simulator.fixture", "CARDSSO_SIMULATOR_FIXTURE", str(func(c *fileConfig) *string { return &c.Connector.Simulator.Fixture })},
		{"connector.cardplatform.url", "CARDSSO_CARDPLATFORM_URL", str(func(c *fileConfig) *string { return &cp(c).URL })},
		{"connector.cardplatform.client_id", "CARDSSO_CARDPLATFORM_CLIENT_ID", str(func(c *fileConfig) *string { return &cp(c).ClientID })},
		{"connector.cardplatform.secret", "CARDSSO_CARDPLATFORM_SECRET", str(func(c *fileConfig) *string { return &cp(c).Secret })},
		{"connector.cardplatform.secret_file", "CARDSSO_CARDPLATFORM_SECRET_FILE", str(func(c *fileConfig) *string { return &cp(c).SecretFile })},
		{"connector.cardplatform.timeout", "CARDSSO_CARDPLATFORM_TIMEOUT", dur(func(c *fileConfig) *time.Duration { return &cp(c).Timeout })},
		{"connector.cardplatform.retries", "CARDSSO_CARDPLATFORM_RETRIES", signed(func(c *fileConfig) *int { return &cp(c).Retries })},
		{"connector.cardplatform.retry_backoff", "CARDSSO_CARDPLATFORM_RETRY_BACKOFF", dur(func(c *fileConfig) *time.Duration { return &cp(c).RetryBackoff })},
		{"connector.cardplatform.skew", "CARDSSO_CARDPLATFORM_SKEW", dur(func(c *fileConfig) *time.Duration { return &cp(c).Skew })},
		{"connector.cardplatform.tls.ca_file", "CARDSSO_CARDPLATFORM_TLS_CA_FILE", str(func(c *fileConfig) *string { return &cp(c).TLS.CAFile })},
		{"connector.cardplatform.tls.cert_file", "CARDSSO_CARDPLATFORM_TLS_CERT_FILE", str(func(c *fileConfig) *string { return &cp(c).TLS.CertFile })},
		{"connector.cardplatform.tls.key_file", "CARDSSO_CARDPLATFORM_TLS_KEY_FILE", str(func(c *fileConfig) *string { return &cp(c).TLS.KeyFile })},
		{"connector.cardplatform.breaker.failures", "CARDSSO_CARDPLATFORM_BREAKER_FAILURES", num(31, func(c *fileConfig, n uint64) { cp(c).Breaker.Failures = int(n) })},
		{"connector.cardplatform.breaker.open_for", "CARDSSO_CARDPLATFORM_BREAKER_OPEN_FOR", dur(func(c *fileConfig) *time.Duration { return &cp(c).Breaker.OpenFor })},
		{"connector.cardplatform.breaker.half_open_requests", "CARDSSO_CARDPLATFORM_BREAKER_HALF_OPEN_REQUESTS", num(31, func(c *fileConfig, n uint64) { cp(c).Breaker.HalfOpenRequests = int(n) })},
		{"connector.cardplatform.insecure_plain_http", "CARDSSO_CARDPLATFORM_INSECURE_PLAIN_HTTP", boolean(func(c *fileConfig) *bool { return &cp(c).InsecurePlainHTTP })},
		{"tokens.access_token_lifetime", "CARDSSO_TOKENS_ACCESS_TOKEN_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Tokens.AccessTokenLifetime })},
		{"tokens.id_token_lifetime", "CARDSSO_TOKENS_ID_TOKEN_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Tokens.IDTokenLifetime })},
		{"tokens.refresh_token_lifetime", "CARDSSO_TOKENS_REFRESH_TOKEN_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Tokens.RefreshTokenLifetime })},
		{"tokens.auth_request_lifetime", "CARDSSO_TOKENS_AUTH_REQUEST_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Tokens.AuthRequestLifetime })},
		{"tokens.code_lifetime", "CARDSSO_TOKENS_CODE_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Tokens.CodeLifetime })},
		{"session.lifetime", "CARDSSO_SESSION_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.Session.Lifetime })},
		{"session.idle_timeout", "CARDSSO_SESSION_IDLE_TIMEOUT", dur(func(c *fileConfig) *time.Duration { return &c.Session.IdleTimeout })},
		{"session.cookie_name", "CARDSSO_SESSION_COOKIE_NAME", str(func(c *fileConfig) *string { return &c.Session.CookieName })},
		{"keys.algorithm", "CARDSSO_KEYS_ALGORITHM", str(func(c *fileConfig) *string { return &c.Keys.Algorithm })},
		{"keys.rotation_period", "CARDSSO_KEYS_ROTATION_PERIOD", dur(func(c *fileConfig) *time.Duration { return &c.Keys.RotationPeriod })},
		{"keys.refresh_interval", "CARDSSO_KEYS_REFRESH_INTERVAL", dur(func(c *fileConfig) *time.Duration { return &c.Keys.RefreshInterval })},
		{"password.memory_kib", "CARDSSO_PASSWORD_MEMORY_KIB", num(32, func(c *fileConfig, n uint64) { c.Password.MemoryKiB = uint32(n) })},
		{"password.time", "CARDSSO_PASSWORD_TIME", num(32, func(c *fileConfig, n uint64) { c.Password.Time = uint32(n) })},
		{"password.threads", "CARDSSO_PASSWORD_THREADS", num(8, func(c *fileConfig, n uint64) { c.Password.Threads = uint8(n) })},
		{"checks.card_ttl", "CARDSSO_CHECKS_CARD_TTL", dur(func(c *fileConfig) *time.Duration { return &c.Checks.CardTTL })},
		{"trusted_proxies", "CARDSSO_TRUSTED_PROXIES", list(func(c *fileConfig) *[]string { return &c.TrustedProxies })},
		{"client_ip_header", "CARDSSO_CLIENT_IP_HEADER", str(func(c *fileConfig) *string { return &c.ClientIPHeader })},
		{"lockout.password_failures", "CARDSSO_LOCKOUT_PASSWORD_FAILURES", signed(func(c *fileConfig) *int { return &lo(c).PasswordFailures })},
		{"lockout.password_per_ip", "CARDSSO_LOCKOUT_PASSWORD_PER_IP", signed(func(c *fileConfig) *int { return &lo(c).PasswordPerIP })},
		{"lockout.password_window", "CARDSSO_LOCKOUT_PASSWORD_WINDOW", dur(func(c *fileConfig) *time.Duration { return &lo(c).PasswordWindow })},
		{"lockout.password_delay_after", "CARDSSO_LOCKOUT_PASSWORD_DELAY_AFTER", signed(func(c *fileConfig) *int { return &lo(c).PasswordDelayAfter })},
		{"lockout.password_delay", "CARDSSO_LOCKOUT_PASSWORD_DELAY", dur(func(c *fileConfig) *time.Duration { return &lo(c).PasswordDelay })},
		{"lockout.password_max_delay", "CARDSSO_LOCKOUT_PASSWORD_MAX_DELAY", dur(func(c *fileConfig) *time.Duration { return &lo(c).PasswordMaxDelay })},
		{"lockout.realname_per_number", "CARDSSO_LOCKOUT_REALNAME_PER_NUMBER", signed(func(c *fileConfig) *int { return &lo(c).RealNamePerNumber })},
		{"lockout.realname_per_ip", "CARDSSO_LOCKOUT_REALNAME_PER_IP", signed(func(c *fileConfig) *int { return &lo(c).RealNamePerIP })},
		{"lockout.realname_window", "CARDSSO_LOCKOUT_REALNAME_WINDOW", dur(func(c *fileConfig) *time.Duration { return &lo(c).RealNameWindow })},
		{"lockout.card_per_account", "CARDSSO_LOCKOUT_CARD_PER_ACCOUNT", signed(func(c *fileConfig) *int { return &lo(c).CardPerAccount })},
		{"lockout.card_per_ip", "CARDSSO_LOCKOUT_CARD_PER_IP", signed(func(c *fileConfig) *int { return &lo(c).CardPerIP })},
		{"lockout.card_window", "CARDSSO_LOCKOUT_CARD_WINDOW", dur(func(c *fileConfig) *time.Duration { return &lo(c).CardWindow })},
		{"lockout.face_failures", "CARDSSO_LOCKOUT_FACE_FAILURES", signed(func(c *fileConfig) *int { return &lo(c).FaceFailures })},
		{"lockout.face_window", "CARDSSO_LOCKOUT_FACE_WINDOW", dur(func(c *fileConfig) *time.Duration { return &lo(c).FaceWindow })},
		{"lockout.form_rate", "CARDSSO_LOCKOUT_FORM_RATE", decimal(func(c *fileConfig) *float64 { return &lo(c).FormRate })},
		{"lockout.form_burst", "CARDSSO_LOCKOUT_FORM_BURST", signed(func(c *fileConfig) *int { return &lo(c).FormBurst })},
		{"saml.assertion_lifetime", "CARDSSO_SAML_ASSERTION_LIFETIME", dur(func(c *fileConfig) *time.Duration { return &c.SAML.AssertionLifetime })},
		{"saml.metadata_validity", "CARDSSO_SAML_METADATA_VALIDITY", dur(func(c *fileConfig) *time.Duration { return &c.SAML.MetadataValidity })},
		{"saml.key_rotation_period", "CARDSSO_SAML_KEY_ROTATION_PERIOD", dur(func(c *fileConfig) *time.Duration { return &c.SAML.KeyRotationPeriod })},
		{"saml.acr_aliases.loa1", "CARDSSO_SAML_ACR_ALIASES_LOA1", str(func(c *fileConfig) *string { return &c.SAML.ACRAliases.LoA1 })},
		{"saml.acr_aliases.loa2", "CARDSSO_SAML_ACR_ALIASES_LOA2", str(func(c *fileConfig) *string { return &c.SAML.ACRAliases.LoA2 })},
		{"saml.acr_aliases.loa3", "CARDSSO_SAML_ACR_ALIASES_LOA3", str(func(c *fileConfig) *string { return &c.SAML.ACRAliases.LoA3 })},
		{"saml.assert_aliases", "CARDSSO_SAML_ASSERT_ALIASES", boolean(func(c *fileConfig) *bool { return &c.SAML.AssertAliases })},
		{"logout.backchannel_timeout", "CARDSSO_LOGOUT_BACKCHANNEL_TIMEOUT", dur(func(c *fileConfig) *time.Duration { return &c.Logout.BackchannelTimeout })},
		{"logout.backchannel_attempts", "CARDSSO_LOGOUT_BACKCHANNEL_ATTEMPTS", signed(func(c *fileConfig) *int { return &c.Logout.BackchannelAttempts })},
		{"logout.backchannel_backoff", "CARDSSO_LOGOUT_BACKCHANNEL_BACKOFF", dur(func(c *fileConfig) *time.Duration { return &c.Logout.BackchannelBackoff })},
		{"log.level", "CARDSSO_LOG_LEVEL", str(func(c *fileConfig) *string { return &c.Log.Level })},
		{"log.format", "CARDSSO_LOG_FORMAT", str(func(c *fileConfig) *string { return &c.Log.Format })},
	}
}

// configFileEnv names the config file when --config is not given.
const configFileEnv = "CARDSSO_CONFIG"

// flagSetting is a flag that overrides one YAML path.
type flagSetting struct {
	Path  string // YAML path, e.g. "addr"
	Flag  string // "--addr"
	Value string
}

// loadConfig builds the configuration: defaults, then the YAML file (path, or
// $CARDSSO_CONFIG when path is empty; none when both are empty), then the
// CARDSSO_* variables found by lookupEnv, then the flags. It does not
// validate: call Validate.
func loadConfig(path string, lookupEnv func(string) (string, bool), flags []flagSetting) (fileConfig, error) {
	c := defaultConfig()
	c.sources = map[string]string{}
	if path == "" {
		if v, ok := lookupEnv(configFileEnv); ok {
			path = v
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, &configError{Reason: fmt.Sprintf("cannot read config file: %v", unwrapPathError(err)), Source: path}
		}
		if err := decodeYAML(data, path, &c); err != nil {
			return c, err
		}
	}
	byPath := map[string]setting{}
	for _, s := range settings() {
		byPath[s.Path] = s
		v, ok := lookupEnv(s.Env)
		if !ok || v == "" {
			continue
		}
		c.sources[s.Path] = s.Env
		if err := s.set(&c, v); err != nil {
			return c, c.invalid(s.Path, "%v", err)
		}
	}
	for _, f := range flags {
		s, ok := byPath[f.Path]
		if !ok {
			panic("cardsso: flag " + f.Flag + " overrides unknown config path " + f.Path)
		}
		c.sources[f.Path] = f.Flag
		if err := s.set(&c, f.Value); err != nil {
			return c, c.invalid(f.Path, "%v", err)
		}
	}
	// A PostgreSQL URL as the DSN selects the postgres flavour unless an
	// environment variable or flag chose sqlite (CARDSSO_STORAGE_DSN alone is
	// enough to point a node at PostgreSQL).
	if c.Storage.Type == "sqlite" && isPostgresDSN(c.Storage.DSN) && c.sources["storage.type"] == "" {
		c.Storage.Type = "postgres"
	}
	return c, nil
}

func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// decodeYAML decodes one YAML document over c, rejecting unknown keys. Its
// errors name the offending key by its YAML path and line.
func decodeYAML(data []byte, file string, c *fileConfig) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil // an empty file: defaults
	}
	if err == nil {
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return &configError{Reason: "more than one YAML document", Source: file}
		}
		return nil
	}
	// Find the first bad key or value ourselves, to name it by its path.
	var root yaml.Node
	if yaml.Unmarshal(data, &root) == nil {
		if ce := checkNode(&root, reflect.TypeOf(*c), "", file); ce != nil {
			return ce
		}
	}
	return &configError{Reason: strings.TrimPrefix(oneLine(err.Error()), "yaml: "), Source: file}
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkNode walks a YAML node against the Go type it decodes into and returns
// the first unknown key or undecodable value, or nil.
func checkNode(n *yaml.Node, t reflect.Type, path, file string) *configError {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.DocumentNode {
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		} else {
			n = n.Alias
		}
	}
	at := fmt.Sprintf("%s:%d", file, n.Line)
	if n.Tag == "!!null" {
		return nil // null keeps the default
	}
	if t.Kind() == reflect.Struct {
		if n.Kind != yaml.MappingNode {
			return &configError{Path: path, Reason: "want a mapping of keys", Source: at}
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				return &configError{Path: p, Reason: "unknown key (want " + orList(names) + ")", Source: fmt.Sprintf("%s:%d", file, k.Line)}
			}
			if ce := checkNode(v, f.Type, p, file); ce != nil {
				return ce
			}
		}
		return nil
	}
	if t.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			return &configError{Path: path, Reason: "want a list (e.g. [10.0.0.0/8])", Source: at}
		}
		for i, e := range n.Content {
			if ce := checkNode(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), file); ce != nil {
				return ce
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return &configError{Path: path, Reason: "want a single value, not a list or mapping", Source: at}
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		var reason string
		switch {
		case t == durationType:
			reason = fmt.Sprintf("invalid duration %q (want a Go duration such as \"90s\", \"15m\" or \"720h\")", n.Value)
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
			reason = fmt.Sprintf("want a whole number, got %q", n.Value)
		case t.Kind() == reflect.Bool:
			reason = fmt.Sprintf("want true or false, got %q", n.Value)
		default:
			reason = fmt.Sprintf("cannot use %q", n.Value)
		}
		return &configError{Path: path, Reason: reason, Source: at}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// orList writes "a, b or c".
func orList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// parseDuration parses a Go duration string ("15m", "1h30m").
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want a Go duration such as \"90s\", \"15m\" or \"720h\")", v)
	}
	return d, nil
}

// Validate checks every value and returns the first bad one as a
// *configError naming it by its YAML path.
func (c *fileConfig) Validate() error {
	if err := c.validateIssuer(); err != nil {
		return err
	}
	if err := validateAddr(c.Addr); err != nil {
		return c.invalid("addr", "%v", err)
	}
	if c.MetricsAddr != "" {
		if err := validateAddr(c.MetricsAddr); err != nil {
			return c.invalid("metrics_addr", "%v", err)
		}
		if sameListener(c.MetricsAddr, c.Addr) {
			return c.invalid("metrics_addr", "%q is addr's port: give /metrics a port of its own (e.g. 127.0.0.1:9090), or leave it empty to serve it on addr", c.MetricsAddr)
		}
	}
	if c.DataDir == "" {
		return c.invalid("data_dir", "must not be empty")
	}

	switch c.Storage.Type {
	case "sqlite":
		if isPostgresDSN(c.Storage.DSN) {
			return c.invalid("storage.dsn", "is a PostgreSQL URL but storage.type is sqlite")
		}
	case "postgres":
		if c.Storage.DSN == "" {
			return c.invalid("storage.dsn", "required when storage.type is postgres (a URL such as postgres://user@host:5432/cardsso)")
		}
	default:
		return c.invalid("storage.type", "unsupported %q (want sqlite or postgres)", c.Storage.Type)
	}
	if c.Storage.MaxOpenConns < 0 {
		return c.invalid("storage.max_open_conns", "must not be negative, got %d", c.Storage.MaxOpenConns)
	}
	if c.Storage.Type == "sqlite" && c.Storage.MaxOpenConns == 1 {
		// Migrations hold one connection while they run.
		return c.invalid("storage.max_open_conns", "1 is too few for sqlite (want 0 for the default, or at least 2)")
	}
	if c.Storage.MaxIdleConns < 0 {
		return c.invalid("storage.max_idle_conns", "must not be negative, got %d", c.Storage.MaxIdleConns)
	}
	if c.Storage.ConnMaxLifetime < 0 {
		return c.invalid("storage.conn_max_lifetime", "must not be negative, got %s", c.Storage.ConnMaxLifetime)
	}
	if c.Storage.ConnMaxIdleTime < 0 {
		return c.invalid("storage.conn_max_idle_time", "must not be negative, got %s", c.Storage.ConnMaxIdleTime)
	}
	if c.Storage.QueryTimeout < 100*time.Millisecond || c.Storage.QueryTimeout > 5*time.Minute {
		return c.invalid("storage.query_timeout", "must be between 100ms and 5m, got %s", c.Storage.QueryTimeout)
	}

	if c.MasterKey.Value != "" {
		k, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(c.MasterKey.Value))
		if err != nil || len(k) != 32 {
			// Never echo the value: it is the key.
			return c.invalid("master_key.value", "want base64 of exactly 32 bytes (make one with: head -c 32 /dev/urandom | base64)")
		}
	}

	switch c.Connector.Type {
	case "simulator":
	case "cardplatform":
		if err := c.validateCardPlatform(); err != nil {
			return err
		}
	default:
		return c.invalid("connector.type", "unsupported %q (want simulator or cardplatform)", c.Connector.Type)
	}

	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"tokens.access_token_lifetime", c.Tokens.AccessTokenLifetime},
		{"tokens.id_token_lifetime", c.Tokens.IDTokenLifetime},
		{"tokens.refresh_token_lifetime", c.Tokens.RefreshTokenLifetime},
		{"tokens.auth_request_lifetime", c.Tokens.AuthRequestLifetime},
		{"tokens.code_lifetime", c.Tokens.CodeLifetime},
		{"session.lifetime", c.Session.Lifetime},
		{"session.idle_timeout", c.Session.IdleTimeout},
		{"keys.rotation_period", c.Keys.RotationPeriod},
		{"keys.refresh_interval", c.Keys.RefreshInterval},
		{"checks.card_ttl", c.Checks.CardTTL},
		{"saml.assertion_lifetime", c.SAML.AssertionLifetime},
		{"saml.metadata_validity", c.SAML.MetadataValidity},
		{"saml.key_rotation_period", c.SAML.KeyRotationPeriod},
		{"logout.backchannel_timeout", c.Logout.BackchannelTimeout},
		{"logout.backchannel_backoff", c.Logout.BackchannelBackoff},
	} {
		if d.v <= 0 {
			return c.invalid(d.path, "must be a positive duration, got %s", d.v)
		}
	}
	if !isCookieName(c.Session.CookieName) {
		return c.invalid("session.cookie_name", "invalid cookie name %q (want letters, digits and !#$%%&'*+-.^_`|~)", c.Session.CookieName)
	}

	switch c.Keys.Algorithm {
	case "ES256", "RS256", "EdDSA":
	default:
		return c.invalid("keys.algorithm", "unsupported %q (want ES256, RS256 or EdDSA)", c.Keys.Algorithm)
	}

	if c.Password.MemoryKiB < minPasswordMemoryKiB {
		return c.invalid("password.memory_kib", "%d is weaker than the minimum %d (19 MiB)", c.Password.MemoryKiB, minPasswordMemoryKiB)
	}
	if c.Password.Time < minPasswordTime {
		return c.invalid("password.time", "%d is weaker than the minimum %d", c.Password.Time, minPasswordTime)
	}
	if c.Password.Threads < minPasswordThreads {
		return c.invalid("password.threads", "%d is weaker than the minimum %d", c.Password.Threads, minPasswordThreads)
	}

	if err := c.validateSAML(); err != nil {
		return err
	}
	if err := c.validateProxies(); err != nil {
		return err
	}
	if err := c.validateLockout(); err != nil {
		return err
	}

	if _, err := parseLevel(c.Log.Level); err != nil {
		return c.invalid("log.level", "%v", err)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return c.invalid("log.format", "unsupported %q (want json or text)", c.Log.Format)
	}
	return nil
}

// validateSAML checks the saml and logout sections.
func (c *fileConfig) validateSAML() error {
	if c.SAML.AssertionLifetime > time.Hour {
		return c.invalid("saml.assertion_lifetime", "%s is longer than an hour: an assertion is a bearer credential", c.SAML.AssertionLifetime)
	}
	if c.SAML.KeyRotationPeriod < c.SAML.MetadataValidity {
		return c.invalid("saml.key_rotation_period", "%s is shorter than saml.metadata_validity %s: an SP holding a copy of the metadata could meet a key it does not know",
			c.SAML.KeyRotationPeriod, c.SAML.MetadataValidity)
	}
	for i, v := range []string{c.SAML.ACRAliases.LoA1, c.SAML.ACRAliases.LoA2, c.SAML.ACRAliases.LoA3} {
		path := fmt.Sprintf("saml.acr_aliases.loa%d", i+1)
		if v == noAlias {
			continue
		}
		u, err := url.Parse(v)
		switch {
		case v == "" || err != nil || !u.IsAbs() || strings.ContainsAny(v, " \t\n"):
			return c.invalid(path, "%q is not an absolute URI (or %q for no alias)", v, noAlias)
		case strings.HasPrefix(v, "urn:cardsso:loa:"):
			return c.invalid(path, "%q is one of CardSSO's own level names; an alias names the level in another framework (or %q)", v, noAlias)
		}
	}
	if n := c.Logout.BackchannelAttempts; n < 1 || n > 10 {
		return c.invalid("logout.backchannel_attempts", "want 1 to 10, got %d", n)
	}
	return nil
}

// validateProxies checks trusted_proxies (each a CIDR or an address, as
// idp/internal/clientip takes them) and client_ip_header.
func (c *fileConfig) validateProxies() error {
	for i, e := range c.TrustedProxies {
		e = strings.TrimSpace(e)
		var err error
		if strings.Contains(e, "/") {
			var p netip.Prefix
			if p, err = netip.ParsePrefix(e); err == nil && p.Addr().Zone() != "" {
				err = errors.New("zone")
			}
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil && a.Zone() != "" {
				err = errors.New("zone")
			}
		}
		if err != nil {
			return c.invalid("trusted_proxies", "entry %d, %q, is not a CIDR or an IP address (want e.g. 10.0.0.0/8, fd00::/8 or 192.0.2.7)", i+1, e)
		}
	}
	switch strings.ToLower(c.ClientIPHeader) {
	case "x-forwarded-for", "forwarded":
	default:
		return c.invalid("client_ip_header", "unsupported %q (want X-Forwarded-For or Forwarded)", c.ClientIPHeader)
	}
	return nil
}

// validateLockout checks the lockout section: every limit and window
// positive (a limit cannot be switched off here).
func (c *fileConfig) validateLockout() error {
	l := c.Lockout
	for _, n := range []struct {
		path string
		v    int
	}{
		{"lockout.password_failures", l.PasswordFailures}, {"lockout.password_per_ip", l.PasswordPerIP},
		{"lockout.password_delay_after", l.PasswordDelayAfter},
		{"lockout.realname_per_number", l.RealNamePerNumber}, {"lockout.realname_per_ip", l.RealNamePerIP},
		{"lockout.card_per_account", l.CardPerAccount}, {"lockout.card_per_ip", l.CardPerIP},
		{"lockout.face_failures", l.FaceFailures}, {"lockout.form_burst", l.FormBurst},
	} {
		if n.v < 1 {
			return c.invalid(n.path, "want at least 1, got %d", n.v)
		}
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"lockout.password_window", l.PasswordWindow}, {"lockout.password_delay", l.PasswordDelay},
		{"lockout.password_max_delay", l.PasswordMaxDelay}, {"lockout.realname_window", l.RealNameWindow},
		{"lockout.card_window", l.CardWindow}, {"lockout.face_window", l.FaceWindow},
	} {
		if d.v <= 0 {
			return c.invalid(d.path, "must be a positive duration, got %s", d.v)
		}
	}
	if l.PasswordMaxDelay < l.PasswordDelay {
		return c.invalid("lockout.password_max_delay", "%s is shorter than lockout.password_delay %s", l.PasswordMaxDelay, l.PasswordDelay)
	}
	if !(l.FormRate > 0) || l.FormRate > 1e6 {
		return c.invalid("lockout.form_rate", "want a positive number of posts a second, got %v", l.FormRate)
	}
	return nil
}

// acrAliases is the alias table of saml.acr_aliases.
func (c *fileConfig) acrAliases() assurance.Aliases {
	out := assurance.Aliases{}
	for i, v := range []string{c.SAML.ACRAliases.LoA1, c.SAML.ACRAliases.LoA2, c.SAML.ACRAliases.LoA3} {
		if v != "" && v != noAlias {
			out[assurance.Level(i+1)] = v
		}
	}
	return out
}

// validateCardPlatform checks connector.cardplatform (when connector.type is
// cardplatform) as the connector will, without reading any file. The secret
// is never echoed.
func (c *fileConfig) validateCardPlatform() error {
	const p = "connector.cardplatform."
	cp := &c.Connector.CardPlatform

	if cp.URL == "" {
		return c.invalid(p+"url", "required when connector.type is cardplatform (an https URL such as https://cardplatform.example:8443)")
	}
	u, err := url.Parse(cp.URL)
	switch {
	case err == nil && u.User != nil:
		// Not echoed: user info may hold a password.
		return c.invalid(p+"url", "must not have user info (the connector authenticates with client_id and secret)")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return c.invalid(p+"url", "%q is not an absolute URL (want e.g. https://cardplatform.example:8443)", cp.URL)
	case u.Scheme != "https" && u.Scheme != "http":
		return c.invalid(p+"url", "scheme %q not allowed (want https)", u.Scheme)
	case u.Scheme == "http" && !cp.InsecurePlainHTTP:
		return c.invalid(p+"url", "must use https, got %q (plain http needs connector.cardplatform.insecure_plain_http: true, safe only on loopback or behind a TLS sidecar)", cp.URL)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(cp.URL, "#"):
		return c.invalid(p+"url", "must not have a query or a fragment, got %q", cp.URL)
	}

	if cp.ClientID == "" {
		return c.invalid(p+"client_id", "required when connector.type is cardplatform")
	}
	if len(cp.ClientID) > cardPlatformMaxClientIDLen || strings.ContainsFunc(cp.ClientID, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return c.invalid(p+"client_id", "want 1 to %d printable ASCII characters without spaces", cardPlatformMaxClientIDLen)
	}

	switch {
	case cp.Secret != "" && cp.SecretFile != "":
		return c.invalid(p+"secret", "set secret or secret_file, not both")
	case cp.Secret == "" && cp.SecretFile == "":
		return c.invalid(p+"secret", "required when connector.type is cardplatform (set secret or secret_file)")
	case cp.Secret != "" && len(cp.Secret) < cardPlatformMinSecretBytes:
		// Never echo the value, nor its length.
		return c.invalid(p+"secret", "at least %d bytes (make one with: head -c 32 /dev/urandom | base64)", cardPlatformMinSecretBytes)
	}

	switch {
	case cp.Retries < -1:
		return c.invalid(p+"retries", "want -1 (no retries), 0 (the default, 2) or 1 to %d, got %d", cardPlatformMaxRetries, cp.Retries)
	case cp.Retries > cardPlatformMaxRetries:
		return c.invalid(p+"retries", "at most %d, got %d", cardPlatformMaxRetries, cp.Retries)
	}

	for _, d := range []struct {
		path string
		v    time.Duration
	}{
		{"timeout", cp.Timeout},
		{"retry_backoff", cp.RetryBackoff},
		{"skew", cp.Skew},
		{"breaker.open_for", cp.Breaker.OpenFor},
	} {
		if d.v < 0 {
			return c.invalid(p+d.path, "must not be negative, got %s", d.v)
		}
	}
	if cp.Breaker.Failures < 0 {
		return c.invalid(p+"breaker.failures", "must not be negative, got %d", cp.Breaker.Failures)
	}
	if cp.Breaker.HalfOpenRequests < 0 || cp.Breaker.HalfOpenRequests > cardPlatformMaxHalfOpenRequests {
		return c.invalid(p+"breaker.half_open_requests", "want 0 (the default, 1) to %d, got %d", cardPlatformMaxHalfOpenRequests, cp.Breaker.HalfOpenRequests)
	}

	switch {
	case cp.TLS.CertFile != "" && cp.TLS.KeyFile == "":
		return c.invalid(p+"tls.key_file", "required with tls.cert_file (set both or neither)")
	case cp.TLS.CertFile == "" && cp.TLS.KeyFile != "":
		return c.invalid(p+"tls.cert_file", "required with tls.key_file (set both or neither)")
	}
	if u.Scheme == "http" && cp.TLS != (cardPlatformTLS{}) {
		return c.invalid(p+"tls", "set, but url is plain http")
	}
	return nil
}

// validateIssuer: an absolute http(s) URL with a host, without query,
// fragment, user info or trailing slash; plain http only on loopback names
// (OpenID Connect Discovery 1.0 §3 requires https).
func (c *fileConfig) validateIssuer() error {
	u, err := url.Parse(c.Issuer)
	if c.Issuer == "" || err != nil || !u.IsAbs() || u.Host == "" {
		return c.invalid("issuer", "%q is not an absolute URL (want e.g. https://sso.example.gov.cn)", c.Issuer)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return c.invalid("issuer", "scheme %q not allowed (want https)", u.Scheme)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return c.invalid("issuer", "must use https (plain http is allowed only for localhost, 127.0.0.1 and ::1), got %q", c.Issuer)
	case u.RawQuery != "" || u.ForceQuery:
		return c.invalid("issuer", "must not have a query, got %q", c.Issuer)
	case u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		return c.invalid("issuer", "must not have a fragment, got %q", c.Issuer)
	case u.User != nil:
		return c.invalid("issuer", "must not have user info, got %q", c.Issuer)
	case strings.HasSuffix(u.Path, "/"):
		return c.invalid("issuer", "must not end with \"/\", got %q", c.Issuer)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port (e.g. 127.0.0.1:8080 or :8080), got %q", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("invalid port %q (want 0 to 65535)", port)
	}
	return nil
}

// sameListener reports whether two valid host:port addresses would collide:
// the same port (not 0) on the same host, or on the wildcard host of either.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// isCookieName reports whether s is an RFC 6265 cookie-name (an RFC 7230 token).
func isCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unsupported %q (want debug, info, warn or error)", s)
}

// newLogger builds the node's logger from log.level and log.format. Call it
// on a validated config.
func (c *fileConfig) newLogger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Log.Level)
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// idpConfig turns a validated config into the node configuration. Paths in
// data_dir are filled in here: storage.dsn (sqlite) defaults to
// data_dir/cardsso.db and master_key.file to data_dir/master.key, which idp
// generates (mode 0600, with a warning) when it does not exist.
func (c *fileConfig) idpConfig(logger *slog.Logger) idp.Config {
	dsn := c.Storage.DSN
	if c.Storage.Type == "sqlite" && dsn == "" {
		dsn = filepath.Join(c.DataDir, "cardsso.db")
	}
	keyFile := c.MasterKey.File
	if keyFile == "" && c.MasterKey.Value == "" {
		keyFile = filepath.Join(c.DataDir, "master.key")
	}
	cp := c.Connector.CardPlatform
	return idp.Config{
		Issuer:         c.Issuer,
		Addr:           c.Addr,
		DataDir:        c.DataDir,
		MetricsAddr:    c.MetricsAddr,
		TrustedProxies: c.TrustedProxies,
		ClientIPHeader: c.ClientIPHeader,
		Storage: idp.StorageConfig{
			Type:            c.Storage.Type,
			DSN:             dsn,
			MaxOpenConns:    c.Storage.MaxOpenConns,
			MaxIdleConns:    c.Storage.MaxIdleConns,
			ConnMaxLifetime: c.Storage.ConnMaxLifetime,
			ConnMaxIdleTime: c.Storage.ConnMaxIdleTime,
			QueryTimeout:    c.Storage.QueryTimeout,
		},
		MasterKey: idp.MasterKeyConfig{File: keyFile, Value: c.MasterKey.Value},
		Connector: idp.ConnectorConfig{
			Type:      c.Connector.Type,
			Simulator: idp.SimulatorConfig{Fixture: c.Connector.Simulator.Fixture},
			CardPlatform: idp.CardPlatformConfig{
				URL:                     cp.URL,
				ClientID:                cp.ClientID,
				Secret:                  cp.Secret,
				SecretFile:              cp.SecretFile,
				Timeout:                 cp.Timeout,
				Retries:                 cp.Retries,
				RetryBackoff:            cp.RetryBackoff,
				Skew:                    cp.Skew,
				CAFile:                  cp.TLS.CAFile,
				CertFile:                cp.TLS.CertFile,
				KeyFile:                 cp.TLS.KeyFile,
				BreakerFailures:         cp.Breaker.Failures,
				BreakerOpenFor:          cp.Breaker.OpenFor,
				BreakerHalfOpenRequests: cp.Breaker.HalfOpenRequests,
				InsecurePlainHTTP:       cp.InsecurePlainHTTP,
			},
		},
		Tokens: idp.TokenConfig{
			AccessTokenLifetime:  c.Tokens.AccessTokenLifetime,
			IDTokenLifetime:      c.Tokens.IDTokenLifetime,
			RefreshTokenLifetime: c.Tokens.RefreshTokenLifetime,
			AuthRequestLifetime:  c.Tokens.AuthRequestLifetime,
			CodeLifetime:         c.Tokens.CodeLifetime,
		},
		Session: idp.SessionConfig{
			Lifetime:    c.Session.Lifetime,
			IdleTimeout: c.Session.IdleTimeout,
			CookieName:  c.Session.CookieName,
		},
		Keys: idp.KeyConfig{
			Algorithm:       c.Keys.Algorithm,
			RotationPeriod:  c.Keys.RotationPeriod,
			RefreshInterval: c.Keys.RefreshInterval,
		},
		Password: idp.PasswordConfig{MemoryKiB: c.Password.MemoryKiB, Time: c.Password.Time, Threads: c.Password.Threads},
		Checks:   idp.ChecksConfig{CardTTL: c.Checks.CardTTL},
		Lockout: idp.LockoutConfig{
			PasswordFailures: c.Lockout.PasswordFailures, PasswordPerIP: c.Lockout.PasswordPerIP,
			PasswordWindow: c.Lockout.PasswordWindow, PasswordDelayAfter: c.Lockout.PasswordDelayAfter,
			PasswordDelay: c.Lockout.PasswordDelay, PasswordMaxDelay: c.Lockout.PasswordMaxDelay,
			RealNamePerNumber: c.Lockout.RealNamePerNumber, RealNamePerIP: c.Lockout.RealNamePerIP,
			RealNameWindow: c.Lockout.RealNameWindow,
			CardPerAccount: c.Lockout.CardPerAccount, CardPerIP: c.Lockout.CardPerIP, CardWindow: c.Lockout.CardWindow,
			FaceFailures: c.Lockout.FaceFailures, FaceWindow: c.Lockout.FaceWindow,
			FormRate: c.Lockout.FormRate, FormBurst: c.Lockout.FormBurst,
		},
		SAML: idp.SAMLConfig{
			AssertionLifetime: c.SAML.AssertionLifetime, MetadataValidity: c.SAML.MetadataValidity,
			KeyRotationPeriod: c.SAML.KeyRotationPeriod, ACRAliases: c.acrAliases(), AssertAliases: c.SAML.AssertAliases,
		},
		Logout: idp.LogoutConfig{
			BackchannelTimeout: c.Logout.BackchannelTimeout, BackchannelAttempts: c.Logout.BackchannelAttempts,
			BackchannelBackoff: c.Logout.BackchannelBackoff,
		},
		Logger: logger,
	}
}
