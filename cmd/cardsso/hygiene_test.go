package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cardsso/cardsso/internal/testlog"
)

// startServe runs `cardsso serve` with args and waits until it logged the
// messages in wait (each with an "addr"); it returns their addresses and a
// stop that sends SIGTERM and returns the exit code.
func startServe(t *testing.T, args []string, wait ...string) (map[string]string, func() int) {
	t.Helper()
	var stdout, stderr testlog.Buffer
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"serve"}, args...), &stdout, &stderr) }()
	addrs := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(addrs) < len(wait) {
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d before logging %q; stderr %q", code, wait, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log %q within 30s; stderr %q", wait, stderr.String())
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil {
				for _, w := range wait {
					if rec.Msg == w {
						addrs[w] = rec.Addr
					}
				}
			}
		}
	}
	stopped := false
	stop := func() int {
		t.Helper()
		if stopped {
			return exitOK
		}
		stopped = true
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve after SIGTERM exited %d; stderr %q", code, stderr.String())
			}
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop within 30s of SIGTERM")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	return addrs, stop
}

// get returns the status and body of a GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// With metrics_addr set, /metrics is served on its own listener and the
// main one answers 404 for it (a scraper of the public address learns
// nothing); both listeners stop on SIGTERM with exit 0. Without it, /metrics
// is on the main listener as before.
func TestServeMetricsAddr(t *testing.T) {
	clearEnv(t)
	t.Run("separate", func(t *testing.T) {
		t.Setenv("CARDSSO_METRICS_ADDR", "127.0.0.1:0")
		addrs, stop := startServe(t, []string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, "listening", "serving metrics")
		main, metrics := "http://"+addrs["listening"], "http://"+addrs["serving metrics"]
		if code, body := get(t, main+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "# HELP") {
			t.Errorf("GET /metrics on the main listener = %d; want 404 without metrics", code)
		}
		if code, _ := get(t, main+"/healthz"); code != http.StatusOK {
			t.Errorf("GET /healthz on the main listener = %d; want 200", code)
		}
		code, body := get(t, metrics+"/metrics")
		if code != http.StatusOK || !strings.Contains(body, "# HELP cardsso_") {
			t.Errorf("GET /metrics on metrics_addr = %d, %.200q; want 200 with the cardsso_ metrics", code, body)
		}
		for _, p := range []string{"/healthz", "/login", "/.well-known/openid-configuration", "/"} {
			if code, _ := get(t, metrics+p); code != http.StatusNotFound {
				t.Errorf("GET %s on metrics_addr = %d; want 404 (only /metrics there)", p, code)
			}
		}
		if code := stop(); code != exitOK {
			return
		}
		c := &http.Client{Timeout: 2 * time.Second}
		if resp, err := c.Get(metrics + "/metrics"); err == nil {
			resp.Body.Close()
			t.Errorf("metrics_addr still answers after the shutdown")
		}
	})
	t.Run("default", func(t *testing.T) {
		addrs, _ := startServe(t, []string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, "listening")
		get(t, "http://"+addrs["listening"]+"/healthz") // a request for the request metrics to count
		if code, body := get(t, "http://"+addrs["listening"]+"/metrics"); code != http.StatusOK || !strings.Contains(body, "# HELP cardsso_") {
			t.Errorf("GET /metrics on the main listener without metrics_addr = %d; want 200 with metrics", code)
		}
	})
}

// metrics_addr is checked with the rest of the configuration, and the
// example production configuration moves /metrics to loopback.
func TestMetricsAddrConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  env
		want string // the error; empty for none
	}{
		{"default empty", env{}, ""},
		{"loopback", env{"CARDSSO_METRICS_ADDR": "127.0.0.1:9090"}, ""},
		{"any port", env{"CARDSSO_METRICS_ADDR": "127.0.0.1:0", "CARDSSO_ADDR": "127.0.0.1:0"}, ""},
		{"other host same port", env{"CARDSSO_METRICS_ADDR": "127.0.0.2:8080"}, ""},
		{"no port", env{"CARDSSO_METRICS_ADDR": "9090"}, `config: metrics_addr: want host:port (e.g. 127.0.0.1:8080 or :8080), got "9090" (from CARDSSO_METRICS_ADDR)`},
		{"bad port", env{"CARDSSO_METRICS_ADDR": "127.0.0.1:99999"}, `config: metrics_addr: invalid port "99999" (want 0 to 65535) (from CARDSSO_METRICS_ADDR)`},
		{"addr itself", env{"CARDSSO_METRICS_ADDR": "127.0.0.1:8080"}, `config: metrics_addr: "127.0.0.1:8080" is addr's port`},
		{"wildcard on addr's port", env{"CARDSSO_METRICS_ADDR": ":8080"}, `config: metrics_addr: ":8080" is addr's port`},
		{"addr wildcard", env{"CARDSSO_METRICS_ADDR": "127.0.0.1:9000", "CARDSSO_ADDR": "0.0.0.0:9000"}, `config: metrics_addr: "127.0.0.1:9000" is addr's port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig("", tc.env.lookup, nil)
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Validate() = %v; want %q…", err, tc.want)
			case tc.want == "" && c.idpConfig(nil).MetricsAddr != tc.env["CARDSSO_METRICS_ADDR"]:
				t.Errorf("idpConfig().MetricsAddr = %q; want %q", c.idpConfig(nil).MetricsAddr, tc.env["CARDSSO_METRICS_ADDR"])
			}
		})
	}

	const prod = "../../examples/config/production.yaml"
	c, err := loadConfig(prod, env{}.lookup, nil)
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		t.Fatalf("%s: %v", prod, err)
	}
	if c.MetricsAddr != "127.0.0.1:9090" {
		t.Errorf("%s: metrics_addr = %q; want 127.0.0.1:9090", prod, c.MetricsAddr)
	}
}

// A master key file group or others can read stops every command at start
// with exit 2 and a line naming the file and chmod 600; after the chmod it
// runs.
func TestMasterKeyFileModeRefused(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "migrate", "--data-dir", dir); code != exitOK {
		t.Fatalf("migrate = exit %d, %q", code, stderr)
	}
	key := filepath.Join(dir, "master.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "migrate", "--data-dir", dir)
	want := "cardsso: config: master_key.file: the master key file " + key + " is accessible to group or others (mode 0644); make it private with: chmod 600 " + key + "\n"
	if code != exitUsage || stderr != want {
		t.Errorf("migrate with a 0644 master key = exit %d, stderr %q; want exit %d, %q", code, stderr, exitUsage, want)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "migrate", "--data-dir", dir); code != exitOK {
		t.Errorf("migrate after chmod 600 = exit %d, %q", code, stderr)
	}
}

// sps add --idp-initiated --relay-state stores both; list, show and --json
// print them; sps update changes them; bad values are usage errors naming
// the flag, and nothing is stored.
func TestSPsIdPInitiatedFlags(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cli := func(args ...string) (int, string, string) {
		return runCLI(t, append(args, "--data-dir", dir)...)
	}
	if code, _, stderr := cli("migrate"); code != exitOK { // and make the master key
		t.Fatalf("migrate = exit %d, %q", code, stderr)
	}
	md := writeFile(t, "sp.xml", spMetadata)
	type spJSON struct {
		ID           string   `json:"id"`
		IdPInitiated bool     `json:"idp_initiated"`
		RelayStates  []string `json:"relay_states"`
	}
	decode := func(what, stdout string) spJSON {
		t.Helper()
		var v spJSON
		if err := json.Unmarshal([]byte(stdout), &v); err != nil {
			t.Fatalf("%s --json: %v in %q", what, err, stdout)
		}
		return v
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"relay state without opt-in", []string{"sps", "add", "--metadata", md, "--relay-state", "/home"}, exitUsage, "--relay-state: allowed RelayState values need --idp-initiated"},
		{"javascript relay state", []string{"sps", "add", "--metadata", md, "--idp-initiated", "--relay-state", "javascript:alert(1)"}, exitUsage, `--relay-state: "javascript:alert(1)": scheme "javascript" is not allowed`},
		{"long relay state", []string{"sps", "add", "--metadata", md, "--idp-initiated", "--relay-state", "/" + strings.Repeat("x", 80)}, exitUsage, "--relay-state: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, "cardsso: "+tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("cardsso %q = exit %d, %q; want exit %d, one line starting %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}
	if _, stdout, _ := cli("sps", "list", "--json"); strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("refused sps add stored something: %s", stdout)
	}

	home, other := "https://legacy.example.gov.cn/home", "https://legacy.example.gov.cn/a,b?x=1"
	code, stdout, stderr := cli("sps", "add", "--metadata", md, "--idp-initiated", "--relay-state", home, "--relay-state", other, "--json")
	if code != exitOK {
		t.Fatalf("sps add --idp-initiated = exit %d, %q", code, stderr)
	}
	if got := decode("sps add", stdout); !got.IdPInitiated || strings.Join(got.RelayStates, " ") != home+" "+other {
		t.Errorf("sps add --idp-initiated --relay-state ×2 = %+v; want on with both values (a comma inside one kept)", got)
	}
	id := "legacy.example.gov.cn"
	if code, stdout, _ := cli("sps", "show", id, "--json"); code != exitOK || strings.Join(decode("sps show", stdout).RelayStates, " ") != home+" "+other {
		t.Errorf("sps show --json = exit %d, %s", code, stdout)
	}
	if code, stdout, _ := cli("sps", "show", id); code != exitOK || !strings.Contains(stdout, "idp_initiated") || !strings.Contains(stdout, home) {
		t.Errorf("sps show = exit %d, %q; want idp_initiated and the relay states", code, stdout)
	}
	if code, stdout, _ := cli("sps", "list"); code != exitOK || !strings.Contains(stdout, "IDP_INITIATED") || !strings.Contains(stdout, "RELAY_STATES") || !strings.Contains(stdout, home) {
		t.Errorf("sps list = exit %d, %q; want IDP_INITIATED and RELAY_STATES columns", code, stdout)
	}

	// Default: off, for an SP added without the flag.
	second := writeFile(t, "sp2.xml", strings.ReplaceAll(spMetadata, "legacy.example.gov.cn", "second.example.gov.cn"))
	if code, stdout, _ := cli("sps", "add", "--metadata", second, "--json"); code != exitOK || decode("sps add", stdout).IdPInitiated {
		t.Errorf("sps add without --idp-initiated = exit %d, %s; want it off", code, stdout)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing to change", []string{"sps", "update", id}, exitUsage, "nothing to change"},
		{"both list flags", []string{"sps", "update", id, "--relay-state", "/x", "--clear-relay-states"}, exitUsage, "--clear-relay-states and --relay-state"},
		{"relay state on an SP that is off", []string{"sps", "update", "second.example.gov.cn", "--relay-state", "/x"}, exitUsage, "--relay-state: allowed RelayState values need --idp-initiated"},
		{"unknown SP", []string{"sps", "update", "nobody", "--idp-initiated"}, exitFailure, `service provider "nobody" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(tc.args...)
			if code != tc.code || !strings.HasPrefix(stderr, "cardsso: "+tc.want) {
				t.Errorf("cardsso %q = exit %d, %q; want exit %d, starting %q", tc.args, code, stderr, tc.code, tc.want)
			}
		})
	}
	code, stdout, stderr = cli("sps", "update", id, "--relay-state", "/only", "--json")
	if got := decode("sps update", stdout); code != exitOK || !got.IdPInitiated || strings.Join(got.RelayStates, " ") != "/only" {
		t.Errorf("sps update --relay-state = exit %d, %+v, %q; want on with [/only]", code, got, stderr)
	}
	code, stdout, _ = cli("sps", "update", id, "--idp-initiated=false", "--json")
	if got := decode("sps update", stdout); code != exitOK || got.IdPInitiated || len(got.RelayStates) != 0 {
		t.Errorf("sps update --idp-initiated=false = exit %d, %+v; want off with no relay states", code, got)
	}
	code, stdout, _ = cli("sps", "update", "second.example.gov.cn", "--idp-initiated", "--json")
	if got := decode("sps update", stdout); code != exitOK || !got.IdPInitiated || len(got.RelayStates) != 0 {
		t.Errorf("sps update --idp-initiated = exit %d, %+v; want on with an empty list", code, got)
	}
}
