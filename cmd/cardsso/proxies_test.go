package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestTrustedProxiesConfig: trusted_proxies and client_ip_header come from
// the file or the environment, reach idp.Config, and a bad entry is a
// configuration error naming the key and the entry, exit code 2.
func TestTrustedProxiesConfig(t *testing.T) {
	clearEnv(t)
	file := writeFile(t, "cardsso.yaml", "trusted_proxies: [10.0.0.0/8, \"192.0.2.7\", \"fd00::/8\"]\nclient_ip_header: Forwarded\n")
	c, err := loadConfig(file, env{}.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	got := c.idpConfig(nil)
	if want := []string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"}; !reflect.DeepEqual(got.TrustedProxies, want) || got.ClientIPHeader != "Forwarded" {
		t.Errorf("idpConfig: %q, %q; want %q, Forwarded", got.TrustedProxies, got.ClientIPHeader, want)
	}
	c, err = loadConfig("", env{"CARDSSO_TRUSTED_PROXIES": "10.1.0.0/16, 10.2.0.0/16"}.lookup, nil)
	if err != nil || c.Validate() != nil || !reflect.DeepEqual(c.TrustedProxies, []string{"10.1.0.0/16", "10.2.0.0/16"}) {
		t.Errorf("from the environment: %q, %v", c.TrustedProxies, err)
	}

	for _, tc := range []struct {
		yaml, env, want string
	}{
		{"trusted_proxies: [10.0.0.0/33]\n", "", `config: trusted_proxies: entry 1, "10.0.0.0/33", is not a CIDR or an IP address`},
		{"trusted_proxies: [10.0.0.0/8, lb.example]\n", "", `config: trusted_proxies: entry 2, "lb.example", is not a CIDR`},
		{"", "10.0.0.0/8,10.0.0/8", `config: trusted_proxies: entry 2, "10.0.0/8", is not a CIDR or an IP address (want e.g. 10.0.0.0/8, fd00::/8 or 192.0.2.7) (from CARDSSO_TRUSTED_PROXIES)`},
		{"trusted_proxies: 10.0.0.0/8\n", "", "config: trusted_proxies: want a list"},
		{"client_ip_header: X-Real-IP\n", "", `config: client_ip_header: unsupported "X-Real-IP"`},
	} {
		e := env{}
		if tc.env != "" {
			e["CARDSSO_TRUSTED_PROXIES"] = tc.env
		}
		path := ""
		if tc.yaml != "" {
			path = writeFile(t, "bad.yaml", tc.yaml)
		}
		c, err := loadConfig(path, e.lookup, nil)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q / %q: %v; want %s…", tc.yaml, tc.env, err, tc.want)
		}
	}

	// The command refuses to start: exit code 2.
	code, _, stderr := runCLI(t, "serve", "--config", writeFile(t, "bad.yaml", "trusted_proxies: [\"10.0.0.0/8\", \"0.0.0.0/99\"]\n"),
		"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "trusted_proxies: entry 2") {
		t.Errorf("serve with a bad CIDR: exit %d, %q; want %d naming the entry", code, stderr, exitUsage)
	}
}

// TestLockoutConfig: the lockout section reaches idp.Config, and a limit
// that would switch a check's limit off is refused.
func TestLockoutConfig(t *testing.T) {
	clearEnv(t)
	c, err := loadConfig(writeFile(t, "cardsso.yaml", "lockout:\n  card_per_account: 3\n  password_per_ip: 50\n  form_rate: 0.5\n"),
		env{"CARDSSO_LOCKOUT_FACE_WINDOW": "2h"}.lookup, nil)
	if err != nil || c.Validate() != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	l := c.idpConfig(nil).Lockout
	if l.CardPerAccount != 3 || l.PasswordPerIP != 50 || l.FormRate != 0.5 || l.FaceWindow.Hours() != 2 || l.PasswordFailures != 5 {
		t.Errorf("idpConfig().Lockout = %+v", l)
	}
	for _, y := range []string{"lockout:\n  card_per_ip: 0\n", "lockout:\n  password_window: 0s\n", "lockout:\n  form_rate: -1\n"} {
		c, err := loadConfig(writeFile(t, "bad.yaml", y), env{}.lookup, nil)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "config: lockout.") {
			t.Errorf("%q: %v; want a lockout config error", y, err)
		}
	}
}
