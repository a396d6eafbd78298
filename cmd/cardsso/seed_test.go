package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSeedCommand seeds a fresh data directory and writes the citizens file.
func TestSeedCommand(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "citizens.txt")
	code, stdout, stderr := runCLI(t, "seed", "--data-dir", dir, "--accounts", "20", "--sessions", "40",
		"--clients", "2", "--citizens-file", file, "--citizens-count", "3", "--json")
	if code != exitOK {
		t.Fatalf("cardsso seed = exit %d, stderr %q", code, stderr)
	}
	var res struct {
		Accounts, Sessions, Clients int
		Citizens                    int    `json:"citizens_written"`
		Cost                        string `json:"password_cost"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if res.Accounts != 20 || res.Sessions != 40 || res.Clients != 2 || res.Citizens != 3 || res.Cost != "m=19456,t=2,p=1" {
		t.Errorf("seed result = %+v; want 20 accounts, 40 sessions, 2 clients, 3 citizens at m=19456,t=2,p=1", res)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 3 || !strings.HasSuffix(lines[0], "\tBench-pass-2026") {
		t.Errorf("citizens file = %q; want 3 lines number<TAB>Bench-pass-2026", b)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("citizens file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	code, stdout, _ = runCLI(t, "clients", "list", "--data-dir", dir, "--json")
	if code != exitOK || strings.Count(stdout, `"client_id"`) != 2 {
		t.Errorf("clients list after seed = exit %d, %s; want the 2 seeded clients", code, stdout)
	}

	// A bad count is a usage error.
	code, _, stderr = runCLI(t, "seed", "--data-dir", dir, "--accounts", "0", "--sessions", "5")
	if code != exitUsage || !strings.Contains(stderr, "--sessions") {
		t.Errorf("seed --sessions without accounts = exit %d, %q; want a usage error about --sessions", code, stderr)
	}
}
