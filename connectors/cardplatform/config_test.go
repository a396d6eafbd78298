package cardplatform_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/connectors/cardplatform"
)

func TestNewValidates(t *testing.T) {
	dir := t.TempDir()
	shortFile := filepath.Join(dir, "short")
	if err := os.WriteFile(shortFile, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() cardplatform.Config {
		return cardplatform.Config{URL: "https://platform.example:8443", ClientID: "cardsso", Secret: testSecret}
	}
	tests := []struct {
		name  string
		mod   func(*cardplatform.Config)
		field string
	}{
		{"no URL", func(c *cardplatform.Config) { c.URL = "" }, "URL"},
		{"relative URL", func(c *cardplatform.Config) { c.URL = "platform.example" }, "URL"},
		{"ftp URL", func(c *cardplatform.Config) { c.URL = "ftp://platform.example" }, "URL"},
		{"http URL", func(c *cardplatform.Config) { c.URL = "http://platform.example" }, "URL"},
		{"user info", func(c *cardplatform.Config) { c.URL = "https://u:p@platform.example" }, "URL"},
		{"query", func(c *cardplatform.Config) { c.URL = "https://platform.example/?a=1" }, "URL"},
		{"no client id", func(c *cardplatform.Config) { c.ClientID = "" }, "ClientID"},
		{"client id with a space", func(c *cardplatform.Config) { c.ClientID = "card sso" }, "ClientID"},
		{"no secret", func(c *cardplatform.Config) { c.Secret = "" }, "Secret"},
		{"short secret", func(c *cardplatform.Config) { c.Secret = "0123456789" }, "Secret"},
		{"secret and secret file", func(c *cardplatform.Config) { c.SecretFile = shortFile }, "Secret"},
		{"missing secret file", func(c *cardplatform.Config) { c.Secret, c.SecretFile = "", filepath.Join(dir, "none") }, "SecretFile"},
		{"short secret in file", func(c *cardplatform.Config) { c.Secret, c.SecretFile = "", shortFile }, "SecretFile"},
		{"negative timeout", func(c *cardplatform.Config) { c.Timeout = -time.Second }, "Timeout"},
		{"too many retries", func(c *cardplatform.Config) { c.Retries = cardplatform.MaxRetries + 1 }, "Retries"},
		{"negative breaker failures", func(c *cardplatform.Config) { c.Breaker.Failures = -1 }, "Breaker.Failures"},
		{"negative open interval", func(c *cardplatform.Config) { c.Breaker.OpenFor = -time.Second }, "Breaker.OpenFor"},
		{"missing CA file", func(c *cardplatform.Config) { c.TLS.CAFile = filepath.Join(dir, "none") }, "TLS.CAFile"},
		{"CA file without PEM", func(c *cardplatform.Config) { c.TLS.CAFile = notPEM }, "TLS.CAFile"},
		{"cert without key", func(c *cardplatform.Config) { c.TLS.CertFile = notPEM }, "TLS.KeyFile"},
		{"key without cert", func(c *cardplatform.Config) { c.TLS.KeyFile = notPEM }, "TLS.CertFile"},
		{"bad cert and key", func(c *cardplatform.Config) { c.TLS.CertFile, c.TLS.KeyFile = notPEM, notPEM }, "TLS.CertFile"},
		{"TLS with http", func(c *cardplatform.Config) {
			c.URL, c.InsecurePlainHTTP, c.TLS.CAFile = "http://127.0.0.1:1", true, notPEM
		}, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mod(&cfg)
			c, err := cardplatform.New(cfg)
			ce, ok := errors.AsType[*cardplatform.ConfigError](err)
			if !ok || ce.Field != tt.field {
				t.Fatalf("New() = %v, %v; want a *ConfigError for %s", c, err, tt.field)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		for _, cfg := range []cardplatform.Config{
			valid(),
			{URL: "https://gw.example/cardplatform/", ClientID: "cardsso", SecretFile: writeSecret(t, testSecret+"\n")},
			{URL: "http://127.0.0.1:8443", ClientID: "cardsso", Secret: testSecret, InsecurePlainHTTP: true, Retries: -1},
		} {
			if _, err := cardplatform.New(cfg); err != nil {
				t.Errorf("New(%+v) error = %v; want nil", cfg, err)
			}
		}
	})
}

func writeSecret(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := cardplatform.Config{URL: "https://platform.example", ClientID: "cardsso", Secret: testSecret, Registerer: reg}
	if _, err := cardplatform.New(cfg); err != nil {
		t.Fatalf("New error = %v; want nil", err)
	}
	_, err := cardplatform.New(cfg)
	if ce, ok := errors.AsType[*cardplatform.ConfigError](err); !ok || ce.Field != "Registerer" {
		t.Errorf("second New on the same registry error = %v; want a *ConfigError for Registerer", err)
	}
	// No Registerer: nothing registered anywhere, New works any number of times.
	cfg.Registerer = nil
	for range 2 {
		if _, err := cardplatform.New(cfg); err != nil {
			t.Errorf("New without Registerer error = %v; want nil", err)
		}
	}
}

// TestMetrics checks the calls counter and the latency histogram against
// the real platform.
func TestMetrics(t *testing.T) {
	p := startPlatform(t)
	cfg := p.config()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	c := newClient(t, cfg)
	zhang := mustParse(t, zhangNumber)
	for _, name := range []string{zhangName, zhangName, "李四"} {
		if _, err := c.CheckRealName(t.Context(), name, zhang); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CheckCard(t.Context(), zhangName, zhang, "A00000002"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"check": "realname", "outcome": "match"}, 2},
		{map[string]string{"check": "realname", "outcome": "mismatch"}, 1},
		{map[string]string{"check": "card", "outcome": "mismatch"}, 1},
	} {
		if got := metricValue(t, reg, "cardsso_cardplatform_calls_total", tt.labels); got != tt.want {
			t.Errorf("calls_total%v = %v; want %v", tt.labels, got, tt.want)
		}
	}
	if got := metricValue(t, reg, "cardsso_cardplatform_call_duration_seconds", map[string]string{"check": "realname"}); got != 3 {
		t.Errorf("call_duration_seconds{realname} count = %v; want 3", got)
	}
}

// ConfigKey names each field by its key in the configuration file, so that
// cmd/cardsso can say connector.cardplatform.<key>.
func TestConfigKey(t *testing.T) {
	for field, want := range map[string]string{
		"TLS.CertFile":             "tls.cert_file",
		"URL":                      "url",
		"ClientID":                 "client_id",
		"Breaker.HalfOpenRequests": "breaker.half_open_requests",
		"InsecurePlainHTTP":        "insecure_plain_http",
		"SecretFile":               "secret_file",
		"Registerer":               "Registerer", // no YAML key
	} {
		if got := (&cardplatform.ConfigError{Field: field}).ConfigKey(); got != want {
			t.Errorf("ConfigError{Field: %q}.ConfigKey() = %q; want %q", field, got, want)
		}
	}
}

// Validate refuses what New refuses without reading a file, and names the
// field; New reads the files only after it.
func TestValidateNamesTheField(t *testing.T) {
	valid := cardplatform.Config{URL: "https://platform.example:8443", ClientID: "cardsso", SecretFile: "/nonexistent/secret"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil (the secret file is read by New, not by Validate)", err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*cardplatform.Config)
		key  string
	}{
		{"retries -2", func(c *cardplatform.Config) { c.Retries = -2 }, "retries"},
		{"half open", func(c *cardplatform.Config) { c.Breaker.HalfOpenRequests = cardplatform.MaxHalfOpenRequests + 1 }, "breaker.half_open_requests"},
		{"cert without key", func(c *cardplatform.Config) { c.TLS.CertFile = "c.pem" }, "tls.key_file"},
		{"user info", func(c *cardplatform.Config) { c.URL = "https://u:hunter2@platform.example" }, "url"},
	} {
		c := valid
		tt.mod(&c)
		err := c.Validate()
		ce, ok := errors.AsType[*cardplatform.ConfigError](err)
		if !ok || ce.ConfigKey() != tt.key {
			t.Errorf("%s: Validate() = %v; want a *ConfigError for %s", tt.name, err, tt.key)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: Validate() = %v; it echoes the URL's password", tt.name, err)
		}
	}
}
