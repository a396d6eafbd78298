package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// TestDemo runs the demo SP against a CardSSO node as the README does:
// its metadata registers with CardSSO (`cardsso sps add`), its key survives
// a restart, and a visitor is sent to CardSSO's SSO service.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := idp.Config{Issuer: "http://" + ln.Addr().String(), DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}
	store := sqlstore.DefaultSQLiteConfig()
	store.DSN = filepath.Join(cfg.DataDir, "cardsso.db")
	st, err := store.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.Config{}.Open()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := idp.OpenMasterKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	node, err := idp.New(ctx, cfg, idp.Parts{Store: st, Checks: sim, MasterKey: mk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- node.Serve(ctx, ln) }()
	defer func() { cancel(); <-done; _ = node.Close() }()

	dir := filepath.Join(t.TempDir(), "saml-sp")
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer srv.Close()
	s, err := newSP(ctx, cfg.Issuer+"/saml/metadata", srv.URL, dir)
	if err != nil {
		t.Fatalf("newSP: %v", err)
	}
	handler = s
	if fi, err := os.Stat(filepath.Join(dir, "sp.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sp.key: %v, %v; want mode 0600", fi, err)
	}
	again, err := newSP(ctx, cfg.Issuer+"/saml/metadata", srv.URL, dir)
	if err != nil || !again.mw.ServiceProvider.Certificate.Equal(s.mw.ServiceProvider.Certificate) {
		t.Errorf("a restart made another certificate (%v)", err)
	}

	adminStore, err := store.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := idp.OpenAdmin(ctx, cfg, adminStore, mk)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	info, err := adm.AddServiceProvider(ctx, admin.SPSpec{MetadataURL: srv.URL + "/saml/metadata", ID: "saml-demo", Attributes: []string{"name", "ssn_masked", "card_region"}})
	if err != nil {
		t.Fatalf("sps add: %v", err)
	}
	if !info.SignedRequests || !info.Encrypted || len(info.SLO) == 0 {
		t.Errorf("registered %+v; want signed requests, encrypted assertions and single logout", info)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, cfg.Issuer+"/saml/sso?SAMLRequest=") {
		t.Errorf("GET / = %d %q %s; want a redirect to CardSSO's SSO service", resp.StatusCode, loc, body)
	}
}
