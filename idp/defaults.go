package idp

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cardsso/cardsso/idp/internal/clientip"
	"github.com/cardsso/cardsso/idp/internal/login"
	"github.com/cardsso/cardsso/idp/internal/password"
	"github.com/cardsso/cardsso/policies/assurance"
)

// Defaults is the node's configuration when nothing is set: the one table
// of the node's defaults (cmd/cardsso starts from it; New fills every zero
// field of its Config from it). The lockout limits come from
// idp/internal/login's table.
func Defaults() Config {
	pw := password.Defaults()
	return Config{
		Issuer:         "http://localhost:8080",
		Addr:           "127.0.0.1:8080",
		DataDir:        "./data",
		TrustedProxies: []string{},
		ClientIPHeader: "X-Forwarded-For",
		Tokens: TokenConfig{
			AccessTokenLifetime:  15 * time.Minute,
			IDTokenLifetime:      15 * time.Minute,
			RefreshTokenLifetime: 30 * 24 * time.Hour,
			AuthRequestLifetime:  30 * time.Minute,
			CodeLifetime:         60 * time.Second,
		},
		Session:  SessionConfig{Lifetime: 12 * time.Hour, IdleTimeout: 2 * time.Hour, CookieName: "cardsso_session"},
		Keys:     KeyConfig{Algorithm: "ES256", RotationPeriod: 30 * 24 * time.Hour, RefreshInterval: time.Minute},
		Password: PasswordConfig{MemoryKiB: pw.MemoryKiB, Time: pw.Time, Threads: pw.Threads},
		Checks:   ChecksConfig{CardTTL: 24 * time.Hour},
		Lockout:  defaultLockout(),
		SAML: SAMLConfig{
			AssertionLifetime: 5 * time.Minute,
			MetadataValidity:  365 * 24 * time.Hour,
			KeyRotationPeriod: 2 * 365 * 24 * time.Hour,
			ACRAliases:        assurance.EIDAS(),
		},
		Logout: LogoutConfig{BackchannelTimeout: 5 * time.Second, BackchannelAttempts: 3, BackchannelBackoff: time.Second},
	}
}

// defaultLockout is idp/internal/login's table of limits.
func defaultLockout() LockoutConfig {
	l := login.DefaultLockout()
	return LockoutConfig{
		PasswordFailures: l.PasswordFailures, PasswordPerIP: l.PasswordPerIP, PasswordWindow: l.PasswordWindow,
		PasswordDelayAfter: l.PasswordDelayAfter, PasswordDelay: l.PasswordDelay, PasswordMaxDelay: l.PasswordMaxDelay,
		RealNamePerNumber: l.RealNamePerNumber, RealNamePerIP: l.RealNamePerIP, RealNameWindow: l.RealNameWindow,
		CardPerAccount: l.CardPerAccount, CardPerIP: l.CardPerIP, CardWindow: l.CardWindow,
		FaceFailures: login.DefaultFaceFailures, FaceWindow: login.DefaultFaceWindow,
		FormRate: float64(l.FormRate), FormBurst: l.FormBurst,
	}
}

// withDefaults returns cfg with every zero field set from Defaults. The
// master key file defaults to DataDir/master.key; a SAML key rotation
// period left zero is at least the metadata validity.
func withDefaults(cfg Config) Config {
	d := Defaults()
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	str(&cfg.Issuer, d.Issuer)
	str(&cfg.Addr, d.Addr)
	str(&cfg.DataDir, d.DataDir)
	str(&cfg.MasterKey.File, filepath.Join(cfg.DataDir, "master.key"))
	t, dt := &cfg.Tokens, d.Tokens
	t.AccessTokenLifetime = or(t.AccessTokenLifetime, dt.AccessTokenLifetime)
	t.IDTokenLifetime = or(t.IDTokenLifetime, dt.IDTokenLifetime)
	t.RefreshTokenLifetime = or(t.RefreshTokenLifetime, dt.RefreshTokenLifetime)
	t.AuthRequestLifetime = or(t.AuthRequestLifetime, dt.AuthRequestLifetime)
	t.CodeLifetime = or(t.CodeLifetime, dt.CodeLifetime)
	s := &cfg.Session
	s.Lifetime = or(s.Lifetime, d.Session.Lifetime)
	s.IdleTimeout = or(s.IdleTimeout, d.Session.IdleTimeout)
	str(&s.CookieName, d.Session.CookieName)
	str(&cfg.Keys.Algorithm, d.Keys.Algorithm)
	cfg.Keys.RotationPeriod = or(cfg.Keys.RotationPeriod, d.Keys.RotationPeriod)
	cfg.Keys.RefreshInterval = or(cfg.Keys.RefreshInterval, d.Keys.RefreshInterval)
	cfg.Checks.CardTTL = or(cfg.Checks.CardTTL, d.Checks.CardTTL)
	cfg.Lockout = lockoutDefaults(cfg.Lockout, d.Lockout)
	cfg.SAML.AssertionLifetime = or(cfg.SAML.AssertionLifetime, d.SAML.AssertionLifetime)
	cfg.SAML.MetadataValidity = or(cfg.SAML.MetadataValidity, d.SAML.MetadataValidity)
	cfg.SAML.KeyRotationPeriod = or(cfg.SAML.KeyRotationPeriod, max(d.SAML.KeyRotationPeriod, cfg.SAML.MetadataValidity))
	cfg.Logout.BackchannelTimeout = or(cfg.Logout.BackchannelTimeout, d.Logout.BackchannelTimeout)
	cfg.Logout.BackchannelBackoff = or(cfg.Logout.BackchannelBackoff, d.Logout.BackchannelBackoff)
	if cfg.Logout.BackchannelAttempts <= 0 {
		cfg.Logout.BackchannelAttempts = d.Logout.BackchannelAttempts
	}
	if cfg.Password == (PasswordConfig{}) {
		cfg.Password = d.Password
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// lockoutDefaults fills the zero fields of l from d.
func lockoutDefaults(l, d LockoutConfig) LockoutConfig {
	for _, p := range []struct{ v, def *int }{
		{&l.PasswordFailures, &d.PasswordFailures}, {&l.PasswordPerIP, &d.PasswordPerIP},
		{&l.PasswordDelayAfter, &d.PasswordDelayAfter}, {&l.RealNamePerNumber, &d.RealNamePerNumber},
		{&l.RealNamePerIP, &d.RealNamePerIP}, {&l.CardPerAccount, &d.CardPerAccount}, {&l.CardPerIP, &d.CardPerIP},
		{&l.FaceFailures, &d.FaceFailures}, {&l.FormBurst, &d.FormBurst},
	} {
		if *p.v == 0 {
			*p.v = *p.def
		}
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&l.PasswordWindow, &d.PasswordWindow}, {&l.PasswordDelay, &d.PasswordDelay},
		{&l.PasswordMaxDelay, &d.PasswordMaxDelay}, {&l.RealNameWindow, &d.RealNameWindow},
		{&l.CardWindow, &d.CardWindow}, {&l.FaceWindow, &d.FaceWindow},
	} {
		*p.v = or(*p.v, *p.def)
	}
	if l.FormRate == 0 {
		l.FormRate = d.FormRate
	}
	return l
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (c PasswordConfig) params() password.Params {
	return password.Params{MemoryKiB: c.MemoryKiB, Time: c.Time, Threads: c.Threads}
}

// check refuses a configuration the node cannot run with; cmd/cardsso
// validates field by field before, this is the last line.
func (c Config) check() error {
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return &InvalidError{Field: "issuer", Reason: fmt.Sprintf("%q is not an absolute http(s) URL", c.Issuer)}
	}
	if c.SAML.KeyRotationPeriod < c.SAML.MetadataValidity {
		return &InvalidError{Field: "saml.key_rotation_period", Reason: fmt.Sprintf("%s is shorter than saml.metadata_validity %s: an SP holding a copy of the metadata could meet a key it does not know", c.SAML.KeyRotationPeriod, c.SAML.MetadataValidity)}
	}
	if err := c.Password.params().Validate(); err != nil {
		return &InvalidError{Field: "password", Reason: err.Error()}
	}
	if _, err := clientip.New(c.TrustedProxies, c.ClientIPHeader); err != nil {
		return &InvalidError{Field: "trusted_proxies", Reason: strings.TrimPrefix(err.Error(), clientip.ErrConfig.Error()+": ")}
	}
	return nil
}

// MinPassword is the weakest argon2id cost New accepts, each parameter on
// its own: OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1).
func MinPassword() PasswordConfig {
	return PasswordConfig{MemoryKiB: password.MinMemoryKiB, Time: password.MinTime, Threads: password.MinThreads}
}
