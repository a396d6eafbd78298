package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardsso/cardsso/internal/testlog"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runCLI runs the command line and returns the exit code and outputs.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// clearEnv unsets every CARDSSO_* variable for the test, so that the
// developer's environment does not leak in.
func clearEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CARDSSO_") && k != "CARDSSO_TEST_POSTGRES" {
			t.Setenv(k, "") // restores the value after the test
			os.Unsetenv(k)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	clearEnv(t)
	badConfig := writeFile(t, "bad.yaml", "keys:\n  algorithm: HS256\n")
	unknownKey := writeFile(t, "unknown.yaml", "storage:\n  tpye: sqlite\n")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // the whole stderr line is "cardsso: " + this, up to any " (see ..." hint
	}{
		{"no command", nil, nil, `missing command for "cardsso" (want backup, clients, ecard, keys, license, migrate, seed, serve or sps)`},
		{"unknown command", []string{"serv"}, nil, `unknown command "serv" for "cardsso"; did you mean: serve seed`},
		{"unknown flag", []string{"serve", "--adr", "x"}, nil, "unknown flag: --adr"},
		{"flag without value", []string{"serve", "--addr"}, nil, "flag needs an argument: --addr"},
		{"bad bool", []string{"clients", "list", "--json=maybe"}, nil, `invalid argument "maybe" for "--json" flag: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"serve takes no args", []string{"serve", "now"}, nil, `unknown command "now" for "cardsso serve"`},
		{"group without command", []string{"clients"}, nil, `missing command for "cardsso clients" (want create, delete, list, rotate-secret, show or update)`},
		{"group with unknown command", []string{"keys", "shred"}, nil, `unknown command "shred" for "cardsso keys"`},
		{"create without flags", []string{"clients", "create"}, nil, `required flag(s) "id", "redirect-uri" not set`},
		{"create without redirect", []string{"clients", "create", "--id", "p"}, nil, `required flag(s) "redirect-uri" not set`},
		{"public with secret", []string{"clients", "create", "--id", "p", "--redirect-uri", "https://p/cb", "--public", "--secret", strings.Repeat("s", 32)}, nil, "--secret: a public client has no secret (drop --public or --secret)"},
		{"show without id", []string{"clients", "show"}, nil, "missing client ID"},
		{"delete with two ids", []string{"clients", "delete", "a", "b"}, nil, "want one client ID, got 2 arguments"},
		{"bad --addr", []string{"serve", "--addr", "8080"}, nil, `config: addr: want host:port (e.g. 127.0.0.1:8080 or :8080), got "8080" (from --addr)`},
		{"http issuer", []string{"serve", "--issuer", "http://sso.example.gov.cn"}, nil, `config: issuer: must use https (plain http is allowed only for localhost, 127.0.0.1 and ::1), got "http://sso.example.gov.cn" (from --issuer)`},
		{"empty --data-dir", []string{"migrate", "--data-dir", ""}, nil, "config: data_dir: must not be empty (from --data-dir)"},
		{"bad config file value", []string{"keys", "list", "--config", badConfig}, nil, `config: keys.algorithm: unsupported "HS256" (want ES256, RS256 or EdDSA)`},
		{"unknown config key", []string{"clients", "list", "--config", unknownKey}, nil, "config: storage.tpye: unknown key (want type, dsn, max_open_conns, max_idle_conns, conn_max_lifetime, conn_max_idle_time or query_timeout) (from " + unknownKey + ":2)"},
		{"missing config file", []string{"migrate", "--config", "/nonexistent/cardsso.yaml"}, nil, "config: cannot read config file: no such file or directory (from /nonexistent/cardsso.yaml)"},
		{"bad env", []string{"migrate"}, map[string]string{"CARDSSO_LOG_LEVEL": "loud"}, `config: log.level: unsupported "loud" (want debug, info, warn or error) (from CARDSSO_LOG_LEVEL)`},
		{"env config file", []string{"migrate"}, map[string]string{"CARDSSO_CONFIG": badConfig}, `config: keys.algorithm: unsupported "HS256" (want ES256, RS256 or EdDSA)`},
		{"flag beats env", []string{"serve", "--addr", "bad"}, map[string]string{"CARDSSO_ADDR": "127.0.0.1:1"}, `config: addr: want host:port (e.g. 127.0.0.1:8080 or :8080), got "bad" (from --addr)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != exitUsage {
				t.Errorf("cardsso %q exit code = %d; want %d (stderr %q)", tt.args, code, exitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("cardsso %q stdout = %q; want nothing", tt.args, stdout)
			}
			line, _, _ := strings.Cut(strings.TrimSuffix(stderr, "\n"), " (see '")
			if want := "cardsso: " + tt.want; line != want || strings.Count(stderr, "\n") != 1 {
				t.Errorf("cardsso %q stderr = %q; want one line %q", tt.args, stderr, want)
			}
		})
	}
}

func TestRunHelpAndVersion(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"serve", "--help"}, {"migrate", "-h"}, {"clients", "--help"},
		{"clients", "create", "--help"}, {"help", "keys", "rotate"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("cardsso %q = exit %d, stdout %q, stderr %q; want exit 0 with usage on stdout", args, code, stdout, stderr)
		}
	}
	code, stdout, _ := runCLI(t, "--version")
	if code != exitOK || !strings.HasPrefix(stdout, "cardsso ") {
		t.Errorf("cardsso --version = exit %d, %q; want exit 0, \"cardsso <version>\"", code, stdout)
	}
}

// The command tree is the contract the README ("Command line") documents: these commands, each
// with --config and --data-dir, these flags, and --json where it lists or
// creates.
func TestCommandContract(t *testing.T) {
	root := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	want := map[string][]string{
		"serve":                 {"addr", "issuer", "pprof-addr"},
		"seed":                  {"accounts", "first", "password", "sessions", "session-lifetime", "clients", "citizens-file", "citizens-count", "batch", "json"},
		"migrate":               {"json"},
		"backup":                {"to"},
		"clients create":        {"id", "name", "redirect-uri", "post-logout-redirect-uri", "public", "secret", "first-party", "min-acr", "allow-claim", "public-subject", "sector-identifier-uri", "backchannel-logout-uri", "refresh-reuse-grace", "json"},
		"clients list":          {"json"},
		"clients show":          {"json"},
		"clients delete":        {},
		"clients rotate-secret": {"json"},
		"clients update":        {"refresh-reuse-grace", "json"},
		"keys list":             {"json", "use"},
		"keys rotate":           {"json", "use"},
		"license verify":        {"issuer"},
		"sps add":               {"metadata", "id", "name", "min-acr", "attributes", "nameid", "idp-initiated", "relay-state", "json"},
		"sps update":            {"idp-initiated", "relay-state", "clear-relay-states", "json"},
		"sps list":              {"json"},
		"sps show":              {"json"},
		"sps delete":            {},
		"ecard bindings list":   {"ssn", "json"},
		"ecard bindings revoke": {},
	}
	var got []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() {
				continue
			}
			if sub.HasAvailableSubCommands() {
				walk(sub)
				continue
			}
			got = append(got, strings.TrimPrefix(sub.CommandPath(), "cardsso "))
		}
	}
	walk(root)
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	slices.Sort(got)
	slices.Sort(wantNames)
	if !slices.Equal(got, wantNames) {
		t.Errorf("commands = %q; want %q", got, wantNames)
	}
	for name, flags := range want {
		cmd, _, err := root.Find(strings.Fields(name))
		if err != nil {
			t.Errorf("Find(%q) = %v", name, err)
			continue
		}
		var local []string
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				local = append(local, f.Name)
			}
		})
		slices.Sort(local)
		flags = slices.Clone(flags)
		slices.Sort(flags)
		if !slices.Equal(local, flags) {
			t.Errorf("cardsso %s flags = %q; want %q", name, local, flags)
		}
		for _, p := range []string{"config", "data-dir"} {
			if cmd.Flags().Lookup(p) == nil {
				t.Errorf("cardsso %s has no --%s", name, p)
			}
		}
	}
	if f := root.PersistentFlags().Lookup("data-dir"); f == nil || f.DefValue != "./data" {
		t.Errorf("--data-dir default = %v; want ./data", f)
	}
}

func TestClientFlag(t *testing.T) {
	for field, want := range map[string]string{
		"RedirectURIs":              "--redirect-uri",
		"redirect_uris[1]":          "--redirect-uri",
		"redirect_uri":              "--redirect-uri",
		"PostLogoutRedirectURIs":    "--post-logout-redirect-uri",
		"post_logout_redirect_uris": "--post-logout-redirect-uri",
		"ID":                        "--id",
		"client_id":                 "--id",
		"Secret":                    "--secret",
		"MinACR":                    "--min-acr",
		"min_acr":                   "--min-acr",
		"FirstParty":                "--first-party",
		"Name":                      "--name",
		"something_else":            "something_else",
	} {
		if got := clientFlag(field); got != want {
			t.Errorf("clientFlag(%q) = %q; want %q", field, got, want)
		}
	}
}

// The administrative commands against one data directory, through run, as
// an operator types them.
func TestAdminCommands(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, append(args, "--data-dir", dir)...)
	}

	code, stdout, stderr := cli("migrate", "--json")
	var m struct {
		SchemaVersion int64 `json:"schema_version"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &m) != nil || m.SchemaVersion <= 0 {
		t.Fatalf("migrate --json = exit %d, %q, stderr %q; want exit 0 and a positive schema_version", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "cardsso.db")); err != nil {
		t.Errorf("migrate did not create the database in --data-dir: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master key in --data-dir: %v, %v; want a generated file with mode 0600", fi, err)
	}

	// A confidential client, with a generated secret shown once.
	code, stdout, stderr = cli("clients", "create", "--id", "demo-portal", "--name", "Demo portal",
		"--redirect-uri", "http://127.0.0.1:9000/callback,http://127.0.0.1:9000/callback2",
		"--post-logout-redirect-uri", "http://127.0.0.1:9000/", "--json")
	var created createdClient
	if code != exitOK || json.Unmarshal([]byte(stdout), &created) != nil {
		t.Fatalf("clients create --json = exit %d, %q, stderr %q", code, stdout, stderr)
	}
	if created.ID != "demo-portal" || created.Public || len(created.Secret) < 32 ||
		!slices.Equal(created.RedirectURIs, []string{"http://127.0.0.1:9000/callback", "http://127.0.0.1:9000/callback2"}) {
		t.Errorf("clients create --json = %+v; want demo-portal, confidential, two redirect URIs, a secret", created)
	}
	if !strings.Contains(stderr, "shown only this once") {
		t.Errorf("clients create --json stderr = %q; want the note that the secret is shown once", stderr)
	}

	// A public client, human output.
	code, stdout, stderr = cli("clients", "create", "--id", "spa", "--redirect-uri", "http://127.0.0.1:9001/cb", "--public", "--first-party", "--min-acr", "urn:cardsso:loa:2")
	if code != exitOK || !strings.Contains(stdout, `Registered client "spa"`) || strings.Contains(stdout, "client_secret:") {
		t.Errorf("clients create --public = exit %d, %q, stderr %q; want a registration without a secret", code, stdout, stderr)
	}

	code, _, stderr = cli("clients", "create", "--id", "spa", "--redirect-uri", "http://127.0.0.1:9001/cb", "--public")
	if code != exitFailure || stderr != "cardsso: client \"spa\" already exists\n" {
		t.Errorf("clients create (duplicate) = exit %d, stderr %q; want exit 1, already exists", code, stderr)
	}
	code, _, stderr = cli("clients", "create", "--id", "bad", "--redirect-uri", "not a url")
	if code != exitUsage || !strings.HasPrefix(stderr, "cardsso: --redirect-uri: ") {
		t.Errorf("clients create (bad redirect URI) = exit %d, stderr %q; want exit 2 naming --redirect-uri", code, stderr)
	}
	code, _, stderr = cli("clients", "create", "--id", "short", "--redirect-uri", "https://p.example/cb", "--secret", "too-short")
	if code != exitUsage || !strings.HasPrefix(stderr, "cardsso: --secret: ") {
		t.Errorf("clients create (short secret) = exit %d, stderr %q; want exit 2 naming --secret", code, stderr)
	}

	code, stdout, stderr = cli("clients", "list", "--json")
	var list []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &list) != nil || len(list) != 2 {
		t.Errorf("clients list --json = exit %d, %q, stderr %q; want two clients", code, stdout, stderr)
	}
	for _, c := range list {
		if _, ok := c["client_secret"]; ok {
			t.Errorf("clients list --json shows a secret: %v", c)
		}
	}
	code, stdout, _ = cli("clients", "list")
	if code != exitOK || !strings.HasPrefix(stdout, "CLIENT_ID") || !strings.Contains(stdout, "demo-portal") || !strings.Contains(stdout, "spa") {
		t.Errorf("clients list = exit %d, %q; want a table of both", code, stdout)
	}
	for _, c := range list {
		if _, ok := c["post_logout_redirect_uris"].([]any); !ok {
			t.Errorf("clients list --json: post_logout_redirect_uris = %v; want a list, never null", c["post_logout_redirect_uris"])
		}
	}
	code, _, stderr = cli("clients", "rotate-secret", "spa")
	if code != exitUsage || strings.Count(stderr, `"spa"`) != 1 || strings.Contains(stderr, "--help") {
		t.Errorf("clients rotate-secret spa (public) = exit %d, stderr %q; want exit 2 naming the client once", code, stderr)
	}
	code, stdout, _ = cli("clients", "show", "spa")
	if code != exitOK || !strings.Contains(stdout, "public") || !strings.Contains(stdout, "urn:cardsso:loa:2") {
		t.Errorf("clients show spa = exit %d, %q", code, stdout)
	}

	code, stdout, _ = cli("clients", "rotate-secret", "demo-portal", "--json")
	var rotated struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if code != exitOK || json.Unmarshal([]byte(stdout), &rotated) != nil || rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Errorf("clients rotate-secret --json = exit %d, %q; want a new secret", code, stdout)
	}

	code, _, _ = cli("clients", "delete", "spa")
	if code != exitOK {
		t.Errorf("clients delete spa = exit %d; want 0", code)
	}
	for _, args := range [][]string{{"clients", "show", "spa"}, {"clients", "delete", "spa"}, {"clients", "rotate-secret", "spa"}} {
		code, _, stderr = cli(args...)
		if code != exitFailure || stderr != "cardsso: client \"spa\" not found\n" {
			t.Errorf("cardsso %q = exit %d, stderr %q; want exit 1, client \"spa\" not found", args, code, stderr)
		}
	}

	code, stdout, _ = cli("keys", "rotate", "--json")
	var keys []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &keys) != nil || len(keys) == 0 {
		t.Errorf("keys rotate --json = exit %d, %q", code, stdout)
	}
	code, stdout, _ = cli("keys", "list")
	if code != exitOK || !strings.HasPrefix(stdout, "KID") || !strings.Contains(stdout, "ES256") {
		t.Errorf("keys list = exit %d, %q; want a table of ES256 keys", code, stdout)
	}
}

// serve on defaults in a temporary data directory: it logs where it
// listens, answers /healthz, and exits 0 on SIGTERM.
func TestServe(t *testing.T) {
	clearEnv(t)
	var stdout, stderr testlog.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, &stdout, &stderr)
	}()

	var addr string
	deadline := time.Now().Add(30 * time.Second)
	for addr == "" {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before listening; stderr %q", code, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log its address within 30s; stderr %q", stderr.String())
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr = rec.Addr
			}
		}
	}

	select {
	case code := <-done:
		t.Fatalf("serve exited with %d right after listening; stderr %q", code, stderr.String())
	default:
	}
	resp, err := httpGet("http://" + addr + "/healthz")
	if err != nil || resp != 200 {
		t.Errorf("GET /healthz = %d, %v; want 200", resp, err)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("serve after SIGTERM exited %d; want 0; stderr %q", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
}

// httpGet returns the status code of a GET.
func httpGet(url string) (int, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// CI runs the README's test command, exactly.
func TestREADMETestCommandIsCIs(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(ci), "\nTEST_CMD=(")
	cmd, _, _ := strings.Cut(rest, ")\n")
	if !ok || cmd == "" {
		t.Fatal(".ci/run has no TEST_CMD=(...) line")
	}
	if !strings.Contains(string(readme), "```sh\n"+cmd+"\n```") {
		t.Errorf("README.md has no ```sh block with .ci/run's test command %q", cmd)
	}
}
