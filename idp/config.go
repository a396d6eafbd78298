package idp

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/policies/assurance"
)

// Config is what a CardSSO node needs besides its store and its connector,
// which New receives opened. The zero value of every field means "the
// embedded default" (Defaults); cmd/cardsso fills it from YAML, CARDSSO_*
// environment variables and flags, decoding the sections whose structs carry
// yaml tags (tokens, session, …) straight into them.
type Config struct {
	// Issuer is the OpenID issuer URL, e.g. https://sso.example.gov.cn.
	// Default http://localhost:8080.
	Issuer string
	// Addr is the listen address. Default 127.0.0.1:8080.
	Addr string
	// MetricsAddr, when set, is where /metrics is served (Server.ServeMetrics)
	// instead of the main listener, which then answers 404 there: the
	// metrics (request counts per route, login and check outcomes) are for
	// the operator's scraper, not for the Internet. Empty (the default)
	// serves /metrics on the main listener.
	MetricsAddr string
	// DataDir holds the generated master key (and, in cmd/cardsso, the
	// SQLite file). Default ./data.
	DataDir string
	// TrustedProxies are the load balancers and reverse proxies in front of
	// the node, as CIDRs or single addresses: only from them is the client
	// address taken from ClientIPHeader (idp/internal/clientip), for per-address
	// limits and log lines. Empty (the default): the peer of each
	// connection is the client.
	TrustedProxies []string
	// ClientIPHeader is the header the trusted proxies write:
	// "X-Forwarded-For" (the default) or "Forwarded" (RFC 7239). Only this
	// one is read.
	ClientIPHeader string

	MasterKey MasterKeyConfig
	Tokens    TokenConfig
	Session   SessionConfig
	Keys      KeyConfig
	Password  PasswordConfig
	Checks    ChecksConfig
	Lockout   LockoutConfig
	SAML      SAMLConfig
	Logout    LogoutConfig

	// ExtraMetrics are served on /metrics beside the node's own: the
	// metrics of what the caller opened for the node (the connector's).
	// Nil: none.
	ExtraMetrics prometheus.Gatherer

	// Logger receives structured logs. Default: JSON to stderr at info.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// MasterKeyConfig says where the master key comes from. The master key seals
// social security numbers and private keys and derives every other secret
// key; all nodes of a deployment share it.
type MasterKeyConfig struct {
	// File holds the key (base64 of 32 bytes). Default DataDir/master.key;
	// when the default file does not exist it is generated (mode 0600) with a
	// warning that production needs its own key.
	File string `yaml:"file"`
	// Value is the key itself (base64 of 32 bytes), e.g. from
	// CARDSSO_MASTER_KEY. It wins over File.
	Value string `yaml:"value"`
}

// TokenConfig sets lifetimes.
type TokenConfig struct {
	AccessTokenLifetime  time.Duration `yaml:"access_token_lifetime"`  // default 15m
	IDTokenLifetime      time.Duration `yaml:"id_token_lifetime"`      // default 15m
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"` // default 720h (30 days)
	AuthRequestLifetime  time.Duration `yaml:"auth_request_lifetime"`  // login must finish within; default 30m
	CodeLifetime         time.Duration `yaml:"code_lifetime"`          // default 60s
}

// SessionConfig sets the SSO session.
type SessionConfig struct {
	Lifetime    time.Duration `yaml:"lifetime"`     // absolute; default 12h
	IdleTimeout time.Duration `yaml:"idle_timeout"` // default 2h
	CookieName  string        `yaml:"cookie_name"`  // default cardsso_session
}

// KeyConfig sets token signing.
type KeyConfig struct {
	// Algorithm is ES256 (default), RS256 or EdDSA.
	Algorithm string `yaml:"algorithm"`
	// RotationPeriod is how long a key signs before the next takes over.
	// Default 720h (30 days).
	RotationPeriod time.Duration `yaml:"rotation_period"`
	// RefreshInterval is how often a node reloads the keys from storage
	// (picking up `cardsso keys rotate`) and checks whether rotation is due.
	// Default 1m.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
}

// ChecksConfig sets how identity checks count.
type ChecksConfig struct {
	// CardTTL is how long a real-card check counts before the card's status
	// is asked again at the next login that needs level 2. Default 24h.
	CardTTL time.Duration `yaml:"card_ttl"`
}

// LockoutConfig sets the abuse limits; zero fields take the defaults of
// idp/internal/login (5 failed passwords per number and 30 per client address in 15
// minutes lock password login for it until the window ends, with a delay
// doubling from 500ms up to 4s from the second failure; 5 failed real-name
// checks per number and 20 per client address in an hour; 5 card numbers
// that do not match per account and 20 per client address in an hour; 5
// failed face checks per account in an hour; 5 form posts a second, burst
// 20, per client address and node).
type LockoutConfig struct {
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
	// FormRate (posts a second) and FormBurst bound the login form posts
	// of one client address on one node.
	FormRate  float64 `yaml:"form_rate"`
	FormBurst int     `yaml:"form_burst"`
}

// PasswordConfig sets the argon2id cost. The defaults are OWASP's minimum
// (m = 19 MiB, t = 2, p = 1); weaker values are refused.
type PasswordConfig struct {
	MemoryKiB uint32 `yaml:"memory_kib"`
	Time      uint32 `yaml:"time"`
	Threads   uint8  `yaml:"threads"`
}

// SAMLConfig sets the SAML 2.0 identity provider (idp/internal/saml).
type SAMLConfig struct {
	// AssertionLifetime is how long an assertion may be used
	// (Conditions/NotOnOrAfter). Default 5m.
	AssertionLifetime time.Duration
	// MetadataValidity is how far ahead the metadata's validUntil lies.
	// Default 8760h (a year): service providers that import a static copy
	// should refresh it before then.
	MetadataValidity time.Duration
	// KeyRotationPeriod is how long a SAML signing key signs before the
	// next one takes over. Default 17520h (two years), at least
	// MetadataValidity, so that an SP which refreshes its copy when
	// validUntil passes always holds the signing certificate (the metadata
	// publishes the next certificate too).
	KeyRotationPeriod time.Duration
	// ACRAliases names levels in another framework, for
	// RequestedAuthnContext and for the AuthnContextClassRef answering it.
	// Nil means the eIDAS table, assurance.EIDAS (low, low, substantial); a
	// level missing from a non-nil table has no alias.
	ACRAliases assurance.Aliases
	// AssertAliases names the level by its alias also when the request asks
	// for no class. Default false: urn:cardsso:loa:N.
	AssertAliases bool
}

// LogoutConfig sets how ended sessions are announced to relying parties.
type LogoutConfig struct {
	// BackchannelTimeout bounds one delivery of an OIDC logout token.
	// Default 5s.
	BackchannelTimeout time.Duration `yaml:"backchannel_timeout"`
	// BackchannelAttempts is how many times a delivery is tried (network
	// errors and 5xx answers are tried again). Default 3.
	BackchannelAttempts int `yaml:"backchannel_attempts"`
	// BackchannelBackoff is the wait before the second attempt, doubled for
	// each further one. Default 1s.
	BackchannelBackoff time.Duration `yaml:"backchannel_backoff"`
}
