package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cardsso/cardsso/idp"
)

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

	if err := c.validateComponents(); err != nil {
		return err
	}

	if c.MasterKey.Value != "" {
		k, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(c.MasterKey.Value))
		if err != nil || len(k) != 32 {
			// Never echo the value: it is the key.
			return c.invalid("master_key.value", "want base64 of exactly 32 bytes (make one with: head -c 32 /dev/urandom | base64)")
		}
	}

	if err := c.validateLifetimes(); err != nil {
		return err
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

// validateComponents checks storage.type and connector.type against the
// registries, then the chosen flavour's and connector's configuration with
// their own Validate.
func (c *fileConfig) validateComponents() error {
	if c.Storage.Flavour == nil {
		return c.invalid("storage.type", "unsupported %q (want %s)", c.Storage.Type, orList(names(storages())))
	}
	if err := c.Storage.Flavour.Validate(); err != nil {
		return c.componentError("storage", err)
	}
	cfg, ok := c.Connector.Configs[c.Connector.Type]
	if !ok {
		return c.invalid("connector.type", "unsupported %q (want %s)", c.Connector.Type, orList(names(connectorTypes())))
	}
	if err := cfg.Validate(); err != nil {
		return c.componentError("connector."+c.Connector.Type, err)
	}
	return nil
}

// validateLifetimes checks the lifetimes and periods (positive), the
// session cookie's name, the signing algorithm and the password cost.
func (c *fileConfig) validateLifetimes() error {
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

	minPassword := idp.MinPassword()
	if c.Password.MemoryKiB < minPassword.MemoryKiB {
		return c.invalid("password.memory_kib", "%d is weaker than the minimum %d (19 MiB)", c.Password.MemoryKiB, minPassword.MemoryKiB)
	}
	if c.Password.Time < minPassword.Time {
		return c.invalid("password.time", "%d is weaker than the minimum %d", c.Password.Time, minPassword.Time)
	}
	if c.Password.Threads < minPassword.Threads {
		return c.invalid("password.threads", "%d is weaker than the minimum %d", c.Password.Threads, minPassword.Threads)
	}
	return nil
}
