package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// TestDemo runs the command as the README does, with the demo TLS
// directory in a temporary directory, over mutual TLS with the demo client
// certificate, and checks 张三 through the cardplatform client configured
// as examples/config/cardplatform.yaml configures CardSSO.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cardplatform")
	logs := &strings.Builder{}
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	// The demo CA is made before --client-ca is read, so it can name it.
	go func() {
		errc <- run(ctx, []string{"--addr", "127.0.0.1:0", "--tls-dir", dir, "--client-ca", filepath.Join(dir, demoCAFile)}, logs,
			func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("run = %v", err)
	}

	c, err := cardplatform.New(cardplatform.Config{
		URL:      "https://" + addr,
		ClientID: demoClientID,
		Secret:   demoSecret,
		TLS: cardplatform.TLSConfig{
			CAFile:   filepath.Join(dir, demoCAFile),
			CertFile: filepath.Join(dir, demoClientCertFile),
			KeyFile:  filepath.Join(dir, demoClientKeyFile),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	n, err := citizenid.Parse("110105199003070017")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.CheckRealName(t.Context(), "张三", n)
	if err != nil || !got.Matched || got.CardRegion != "110105" {
		t.Errorf("CheckRealName(张三) = %+v, %v; want a match in 110105", got, err)
	}
	res, err := c.CheckCard(t.Context(), "李四", mustParse(t, "440305198511120028"), "A00000002")
	if err != nil || !res.Matched || res.Card.Status != "reported_lost" {
		t.Errorf("CheckCard(李四) = %+v, %v; want a match, reported_lost", res, err)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel = %v; want nil", err)
	}
	if strings.Contains(logs.String(), "110105199003070017") {
		t.Errorf("logs carry the full number:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "110***********0017") {
		t.Errorf("logs do not mention the check:\n%s", logs)
	}

	// A second start reuses the certificates.
	before, err := os.ReadFile(filepath.Join(dir, demoCAFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, made, err := demoTLS(dir, time.Now()); err != nil || made {
		t.Errorf("demoTLS on an existing directory = made %v, %v; want reused", made, err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, demoCAFile))
	if string(before) != string(after) {
		t.Errorf("demoTLS replaced a valid CA")
	}
	if fi, err := os.Stat(filepath.Join(dir, demoServerKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("server key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func mustParse(t *testing.T, s string) citizenid.Number {
	t.Helper()
	n, err := citizenid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLoadClients(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secretFile := write("secret", "file-secret-0123456789abcdef-0123456789\n")
	good := write("good.yaml", "clients:\n  - id: a\n    secret: a-secret-0123456789abcdef-0123456789\n  - id: b\n    secret_file: "+secretFile+"\n")
	got, err := loadClients(options{clientsFile: good})
	if err != nil || got["a"] != "a-secret-0123456789abcdef-0123456789" || got["b"] != "file-secret-0123456789abcdef-0123456789" {
		t.Errorf("loadClients(good) = %v, %v", got, err)
	}
	for name, content := range map[string]string{
		"empty":        "clients: []\n",
		"short secret": "clients:\n  - id: a\n    secret: short\n",
		"no id":        "clients:\n  - secret: a-secret-0123456789abcdef-0123456789\n",
		"both":         "clients:\n  - id: a\n    secret: a-secret-0123456789abcdef-0123456789\n    secret_file: " + secretFile + "\n",
		"twice":        "clients:\n  - id: a\n    secret: a-secret-0123456789abcdef-0123456789\n  - id: a\n    secret: a-secret-0123456789abcdef-0123456789\n",
		"unknown key":  "clients:\n  - id: a\n    secrets: a-secret-0123456789abcdef-0123456789\n",
	} {
		if _, err := loadClients(options{clientsFile: write(strings.ReplaceAll(name, " ", "_")+".yaml", content)}); err == nil {
			t.Errorf("loadClients(%s) error = nil; want an error", name)
		}
	}
	// The default: the demo client.
	t.Setenv("CARDPLATFORM_CLIENT_SECRET", "")
	if got, err := loadClients(options{clientID: demoClientID}); err != nil || got[demoClientID] != demoSecret {
		t.Errorf("loadClients(defaults) = %v, %v; want the demo client", got, err)
	}
	if _, err := loadClients(options{clientID: "x", clientSecret: "short", secretExplicit: true}); err == nil {
		t.Errorf("loadClients(short --client-secret) error = nil; want an error")
	}
}

// TestSampleConfigMatchesDefaults keeps examples/config/cardplatform.yaml
// and this command's defaults in step: the two README commands work
// together only if they agree.
func TestSampleConfigMatchesDefaults(t *testing.T) {
	data, err := os.ReadFile("../config/cardplatform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Connector struct {
			Type         string `yaml:"type"`
			Cardplatform struct {
				URL      string `yaml:"url"`
				ClientID string `yaml:"client_id"`
				Secret   string `yaml:"secret"`
				TLS      struct {
					CAFile string `yaml:"ca_file"`
				} `yaml:"tls"`
			} `yaml:"cardplatform"`
		} `yaml:"connector"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cp := cfg.Connector.Cardplatform
	for _, c := range []struct{ what, got, want string }{
		{"connector.type", cfg.Connector.Type, "cardplatform"},
		{"url", cp.URL, "https://" + o.addr},
		{"client_id", cp.ClientID, o.clientID},
		{"secret", cp.Secret, demoSecret},
		{"tls.ca_file", filepath.Clean(cp.TLS.CAFile), filepath.Join(o.tlsDir, demoCAFile)},
	} {
		if c.got != c.want {
			t.Errorf("cardplatform.yaml %s = %q; want %q (the command's default)", c.what, c.got, c.want)
		}
	}
}
