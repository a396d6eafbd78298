package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/idp/benchseed"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// TestWorkloads runs every workload briefly against a CardSSO node started
// in-process, with a seeded citizen and a bench client registered as the
// README says: each must complete iterations without an error.
func TestWorkloads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := idp.Config{
		Issuer: "http://" + ln.Addr().String(), DataDir: dir,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	sim, err := simulator.Config{}.Open()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := idp.New(ctx, cfg, idp.Parts{Store: openStore(t, dir), Checks: sim, MasterKey: mk})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = srv.Close()
	})

	a, err := idp.OpenAdmin(context.Background(), cfg, openStore(t, dir), mk)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	if _, _, err := a.CreateClient(context.Background(), admin.ClientSpec{
		ID: "bench", RedirectURIs: []string{"http://127.0.0.1:9999/cb"}, Secret: secret, FirstParty: true,
	}); err != nil {
		t.Fatal(err)
	}
	var citizens bytes.Buffer
	sd, err := benchseed.Open(context.Background(), cfg, openStore(t, dir), mk)
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	if _, err := sd.Seed(context.Background(), benchseed.Spec{Accounts: 3, Password: "Bench-pass-2026", Citizens: &citizens, CitizensCount: 3}); err != nil {
		t.Fatal(err)
	}
	// The saml-sso workload's SP, registered from the metadata the bench writes.
	spKey, spMetadata := filepath.Join(dir, "sp.pem"), filepath.Join(dir, "sp.xml")
	if err := run1(context.Background(), []string{"--saml-sp-key", spKey, "--saml-sp-metadata", spMetadata}, io.Discard, io.Discard); err != nil {
		t.Fatalf("--saml-sp-metadata: %v", err)
	}
	md, err := os.ReadFile(spMetadata)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddServiceProvider(context.Background(), admin.SPSpec{ID: "bench-sp", Metadata: md}); err != nil {
		t.Fatalf("AddServiceProvider: %v", err)
	}
	_ = a.Close()
	file := filepath.Join(dir, "citizens.txt")
	if err := os.WriteFile(file, citizens.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	// An iteration counts only when it starts and ends in the window, so
	// the window is several iterations long: a login hashes a password
	// (argon2id), a SAML round trip signs XML, and on a loaded 2-core host,
	// or under the race detector, either takes up to half a second.
	// The login form takes 5 posts a second from one address (burst 20):
	// 32 source addresses keep 2 s of logins under it.
	fast, slow := 400*time.Millisecond, 2*time.Second
	if raceEnabled {
		fast, slow = 1500*time.Millisecond, 5*time.Second
	}
	o := options{
		issuer: cfg.Issuer, workers: 2, duration: fast, runs: 1, pid: os.Getpid(),
		clientID: "bench", secret: secret, redirect: "http://127.0.0.1:9999/cb",
		scope: "openid profile", refreshScope: "openid profile offline_access", introspect: "access",
		citizens: file, sourceIPs: 32, samlKey: spKey,
	}
	var sums []Summary
	for _, part := range []struct {
		d     time.Duration
		names []string
	}{
		{fast, slices.DeleteFunc(slices.Clone(workloadOrder), func(n string) bool { return n == "login" })},
		{slow, []string{"login", "saml-sso"}},
	} {
		o.duration = part.d
		got, err := bench(context.Background(), o, part.names, io.Discard)
		if err != nil {
			t.Fatalf("bench %q: %v", part.names, err)
		}
		sums = append(sums, got...)
	}
	for _, s := range sums {
		r := s.Runs[0]
		if r.Iterations == 0 || s.Errors != 0 {
			t.Errorf("%s: %d iterations, %d errors %q; want some and none", s.Workload, r.Iterations, s.Errors, r.ErrorSamples)
		}
		if r.GenCPU <= 0 || r.GenCPUPerIter <= 0 {
			t.Errorf("%s: gen CPU %v, %v/iteration; want both measured", s.Workload, r.GenCPU, r.GenCPUPerIter)
		}
		if r.RSSMaxKiB == 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%s: RSS %d KiB, p50 %v, p99 %v; want RSS sampled and ordered latencies", s.Workload, r.RSSMaxKiB, r.P50, r.P99)
		}
	}
	// Requests in flight at the window's edges make the ratio approximate.
	// A live SSO session answers /authorize with the code at once: the
	// code flow is that GET and the token request.
	want := map[string]float64{"sso-code-flow": 2, "refresh": 1, "discovery": 1}
	for _, s := range sums {
		if n, ok := want[s.Workload]; ok && math.Abs(s.RequestsPerIteration-n) > 0.25 {
			t.Errorf("%s: %.2f requests per iteration; want %.0f", s.Workload, s.RequestsPerIteration, n)
		}
	}
	var table bytes.Buffer
	printTable(&table, sums)
	if !bytes.Contains(table.Bytes(), []byte("sso-code-flow")) {
		t.Errorf("table lacks a workload:\n%s", table.String())
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{{"--workers", "0"}, {"--runs", "0"}, {"--introspect", "id"}, {"extra"}, {"--source-ips", "300"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) = nil; want an error", args)
		}
	}
	o, err := parseFlags([]string{"--workload", "all"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if names, err := o.workloadNames(); err != nil || len(names) != len(workloadOrder) {
		t.Errorf("workloadNames(all) = %q, %v", names, err)
	}
	o.workload = "discovery,nope"
	if _, err := o.workloadNames(); err == nil {
		t.Error("workloadNames(nope) = nil; want an error")
	}
}

// openStore opens the SQLite store in dir as `cardsso serve` does.
func openStore(t *testing.T, dir string) *sqlstore.Store {
	t.Helper()
	c := sqlstore.DefaultSQLiteConfig()
	c.DSN = filepath.Join(dir, "cardsso.db")
	st, err := c.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
