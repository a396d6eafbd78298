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
	"github.com/cardsso/cardsso/idp/internal/password"
)

// withDefaults returns cfg with every zero field set to its default.
func withDefaults(cfg Config) Config {
	if cfg.Issuer == "" {
		cfg.Issuer = "http://localhost:8080"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.Storage.Type == "" {
		cfg.Storage.Type = "sqlite"
	}
	if cfg.Storage.DSN == "" && cfg.Storage.Type == "sqlite" {
		cfg.Storage.DSN = filepath.Join(cfg.DataDir, "cardsso.db")
	}
	if cfg.MasterKey.File == "" {
		cfg.MasterKey.File = filepath.Join(cfg.DataDir, "master.key")
	}
	if cfg.Connector.Type == "" {
		cfg.Connector.Type = "simulator"
	}
	t := &cfg.Tokens
	t.AccessTokenLifetime = or(t.AccessTokenLifetime, 15*time.Minute)
	t.IDTokenLifetime = or(t.IDTokenLifetime, 15*time.Minute)
	t.RefreshTokenLifetime = or(t.RefreshTokenLifetime, 30*24*time.Hour)
	t.AuthRequestLifetime = or(t.AuthRequestLifetime, 30*time.Minute)
	t.CodeLifetime = or(t.CodeLifetime, 60*time.Second)
	s := &cfg.Session
	s.Lifetime = or(s.Lifetime, 12*time.Hour)
	s.IdleTimeout = or(s.IdleTimeout, 2*time.Hour)
	if s.CookieName == "" {
		s.CookieName = "cardsso_session"
	}
	if cfg.Keys.Algorithm == "" {
		cfg.Keys.Algorithm = "ES256"
	}
	cfg.Keys.RotationPeriod = or(cfg.Keys.RotationPeriod, 30*24*time.Hour)
	cfg.Keys.RefreshInterval = or(cfg.Keys.RefreshInterval, time.Minute)
	cfg.Checks.CardTTL = or(cfg.Checks.CardTTL, 24*time.Hour)
	cfg.SAML.AssertionLifetime = or(cfg.SAML.AssertionLifetime, 5*time.Minute)
	cfg.SAML.MetadataValidity = or(cfg.SAML.MetadataValidity, 365*24*time.Hour)
	cfg.SAML.KeyRotationPeriod = or(cfg.SAML.KeyRotationPeriod, max(2*365*24*time.Hour, cfg.SAML.MetadataValidity))
	cfg.Logout.BackchannelTimeout = or(cfg.Logout.BackchannelTimeout, 5*time.Second)
	cfg.Logout.BackchannelBackoff = or(cfg.Logout.BackchannelBackoff, time.Second)
	if cfg.Logout.BackchannelAttempts <= 0 {
		cfg.Logout.BackchannelAttempts = 3
	}
	if cfg.Password == (PasswordConfig{}) {
		d := password.Defaults()
		cfg.Password = PasswordConfig{MemoryKiB: d.MemoryKiB, Time: d.Time, Threads: d.Threads}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
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
	if c.Storage.Type != "sqlite" && c.Storage.Type != "postgres" {
		return &InvalidError{Field: "storage.type", Reason: fmt.Sprintf("unsupported %q", c.Storage.Type)}
	}
	if c.Connector.Type != "simulator" && c.Connector.Type != "cardplatform" {
		return &InvalidError{Field: "connector.type", Reason: fmt.Sprintf("unsupported %q", c.Connector.Type)}
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
