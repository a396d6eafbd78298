package main

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage/sqlstore"
)

// `cardsso serve --help` lists every key with its environment variable, on
// one line each.
func TestServeHelpListsEverySetting(t *testing.T) {
	code, stdout, stderr := runCLI(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d, %s", code, stderr)
	}
	for _, s := range settings() {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(s.Path) + ` +` + s.Env + `\b`).MatchString(stdout) {
			t.Errorf("serve --help has no line for %s (%s)", s.Path, s.Env)
		}
	}
	if !strings.Contains(stdout, "storage.query_timeout") || !regexp.MustCompile(`(?m)^  tokens\.refresh_token_lifetime +CARDSSO_TOKENS_REFRESH_TOKEN_LIFETIME +720h$`).MatchString(stdout) {
		t.Errorf("serve --help does not give the defaults:\n%s", stdout)
	}
}

// The README's configuration reference and the table agree both ways: a
// row per setting (TestREADMEListsEverySetting), and no row for a key the
// node does not read.
func TestREADMEListsNoUnknownSetting(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, s := range settings() {
		known[s.Path] = s.Env
	}
	rows := regexp.MustCompile("(?m)^\\| `([a-z0-9_.]+)` \\| `(CARDSSO_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(data), -1)
	if len(rows) < len(known) {
		t.Fatalf("README.md has %d configuration rows; want %d", len(rows), len(known))
	}
	for _, r := range rows {
		if env, ok := known[r[1]]; !ok || env != r[2] {
			t.Errorf("README.md row %s (%s): the node has no such setting (want one of settings())", r[1], r[2])
		}
	}
}

// Every setting of the table reaches its value from its environment
// variable, components' keys included (the simulator's photo_dir and
// face_threshold, every storage flavour's pool), and records its source.
func TestEverySettingFromEnv(t *testing.T) {
	d := defaultConfig()
	for _, s := range settings() {
		f, ok := d.field(s.Path)
		if !ok {
			t.Errorf("setting %s: not in the default configuration", s.Path)
			continue
		}
		var v string
		var want any
		switch {
		case s.Path == "storage.type":
			v, want = "postgres", "postgres"
		case s.Path == "connector.type":
			v, want = "cardplatform", "cardplatform"
		case f.Type() == durationType:
			v, want = "7m", 7*time.Minute
		case f.Kind() == reflect.String:
			v, want = "x-"+s.Env, "x-"+s.Env
		case f.Kind() == reflect.Bool:
			v, want = "true", true
		case f.Kind() == reflect.Float64:
			v, want = "0.5", 0.5
		case f.Kind() == reflect.Slice:
			v, want = "10.0.0.0/8, 10.1.0.0/16", []string{"10.0.0.0/8", "10.1.0.0/16"}
		default:
			v, want = "3", "3"
		}
		c, err := loadConfig("", env{s.Env: v}.lookup, nil)
		if err != nil {
			t.Errorf("%s=%s: loadConfig = %v; want nil", s.Env, v, err)
			continue
		}
		got, ok := c.field(s.Path)
		if !ok {
			t.Errorf("%s=%s: %s is gone", s.Env, v, s.Path)
			continue
		}
		g := got.Interface()
		if v == "3" { // a whole number of any width
			g = fmt.Sprint(g)
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("%s=%s: %s = %v; want %v", s.Env, v, s.Path, g, want)
		}
		if c.sources[s.Path] != s.Env {
			t.Errorf("%s=%s: source of %s = %q; want %s", s.Env, v, s.Path, c.sources[s.Path], s.Env)
		}
	}
}

// Choosing the flavour from the environment keeps the file's storage keys
// and takes the other storage variables, whatever their order.
func TestStorageTypeFromEnvKeepsTheFile(t *testing.T) {
	file := writeFile(t, "cardsso.yaml", "storage:\n  max_open_conns: 9\n  query_timeout: 2s\n")
	c, err := loadConfig(file, env{
		"CARDSSO_STORAGE_TYPE":           "postgres",
		"CARDSSO_STORAGE_DSN":            "postgres://db/cardsso",
		"CARDSSO_STORAGE_MAX_IDLE_CONNS": "4",
	}.lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v; want nil", err)
	}
	pg, ok := c.Storage.Flavour.(*sqlstore.PostgresConfig)
	if !ok || pg.DSN != "postgres://db/cardsso" || pg.MaxOpenConns != 9 || pg.MaxIdleConns != 4 || pg.QueryTimeout != 2*time.Second {
		t.Errorf("storage = %s %+v; want postgres with the file's max_open_conns and query_timeout and the environment's dsn and max_idle_conns", c.Storage.Type, c.Storage.Flavour)
	}
}
