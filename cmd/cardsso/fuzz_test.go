package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfigFile feeds configuration files, which an operator (or a
// mistaken template) writes, through the loader and its validation as
// `cardsso serve --config` does: nothing panics, and every refusal is a
// configuration error (exit code 2) that names where it came from.
func FuzzConfigFile(f *testing.F) {
	f.Add("issuer: https://sso.example.gov.cn\naddr: 127.0.0.1:8080\n")
	f.Add("storage:\n  type: postgres\n  dsn: postgres://u@db/cardsso\nlockout:\n  password_failures: 3\n")
	f.Add("trusted_proxies: [10.0.0.0/8, \"::1/128\"]\nmetrics_addr: 127.0.0.1:9090\n")
	f.Add("saml:\n  acr_aliases: {x: y}\nconnector:\n  type: cardplatform\n  cardplatform: {url: 'https://p', retries: 99}\n")
	f.Add("a: &a [*a, *a]\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, yamlText string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(yamlText), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := loadConfig(path, func(string) (string, bool) { return "", false }, nil)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			return
		}
		var ce *configError
		if !errors.As(err, &ce) {
			t.Fatalf("a refused file gives %T %v; want a configuration error (exit 2)", err, err)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("configuration error over several lines: %q", err)
		}
	})
}
