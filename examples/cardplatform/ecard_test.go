package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

// withECard stands for a simulator that offers the e-card and its app API.
type withECard struct{ server.ECard }

func (withECard) AppHandler() http.Handler { return http.NotFoundHandler() }

// TestECardOf: the e-card and the app API are taken from the simulator
// when it offers them, and left out when it does not.
func TestECardOf(t *testing.T) {
	if e, app := ecardOf(withECard{}); e == nil || app == nil {
		t.Errorf("ecardOf(an e-card with an app API) = %v, %v; want both", e, app)
	}
	if e, app := ecardOf(struct{}{}); e != nil || app != nil {
		t.Errorf("ecardOf(no e-card) = %v, %v; want nil, nil", e, app)
	}
}

func TestAppBaseURL(t *testing.T) {
	for _, tt := range []struct {
		flag string
		addr net.Addr
		want string
	}{
		{"", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8443}, "https://127.0.0.1:8443/app"},
		{"", &net.TCPAddr{IP: net.IPv4zero, Port: 8443}, "https://localhost:8443/app"},
		{"", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8443}, "https://localhost:8443/app"},
		{"", &net.TCPAddr{IP: net.IPv6loopback, Port: 8443}, "https://[::1]:8443/app"},
		{"https://platform.example/app/", &net.TCPAddr{IP: net.IPv4zero, Port: 8443}, "https://platform.example/app"},
	} {
		if got := appBaseURL(tt.flag, tt.addr); got != tt.want {
			t.Errorf("appBaseURL(%q, %v) = %q; want %q", tt.flag, tt.addr, got, tt.want)
		}
	}
	for _, bad := range []string{"platform.example/app", "ftp://p.example/app", "https://p.example/app?x=1", "https:///app"} {
		if _, err := parseFlags([]string{"--app-base-url", bad}, io.Discard); err == nil {
			t.Errorf("parseFlags(--app-base-url %q) error = nil; want one", bad)
		}
	}
}

// TestDemoECard runs the command and logs 张三 in by QR code through it:
// the cardplatform client makes a ticket whose payload is on the command's
// app API, an app bound there confirms it, and the client sees it
// confirmed; then a counter code of the app verifies once.
func TestDemoECard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cardplatform")
	ctx, cancel := context.WithCancel(t.Context())
	addrc, errc := make(chan string, 1), make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--addr", "127.0.0.1:0", "--tls-dir", dir}, io.Discard, func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("run = %v", err)
	}
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run after cancel = %v; want nil", err)
		}
	}()
	c, err := cardplatform.New(cardplatform.Config{URL: "https://" + addr, ClientID: demoClientID, Secret: demoSecret,
		TLS: cardplatform.TLSConfig{CAFile: filepath.Join(dir, demoCAFile)}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	pem, err := os.ReadFile(filepath.Join(dir, demoCAFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	base := "https://" + addr + "/app"
	app := &connectorstest.HTTPApp{BaseURL: base, Client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}

	binding, err := app.Bind(t.Context(), "张三", "110105199003070017", "A00000001")
	if err != nil {
		t.Fatalf("Bind = %v", err)
	}
	tk, err := c.CreateLoginTicket(t.Context(), connectors.TicketRequest{Portal: "示例门户", ClientID: "example"})
	if err != nil || !strings.HasPrefix(tk.Payload, base+"/v1/tickets/") {
		t.Fatalf("CreateLoginTicket = %+v, %v; want a payload under %s", tk, err, base)
	}
	if err := app.Answer(t.Context(), binding, tk.Payload, true); err != nil {
		t.Fatalf("confirming the ticket: %v", err)
	}
	st, err := c.LoginTicketStatus(t.Context(), tk.ID)
	if err != nil || st.State != connectors.TicketConfirmed || st.Number.String() != "110105199003070017" || st.BindingID != binding {
		t.Errorf("LoginTicketStatus = %+v, %v; want confirmed by 张三's binding %s", st, err, binding)
	}
	code, err := app.CounterCode(binding, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []connectors.CounterOutcome{connectors.CounterValid, connectors.CounterUsed} {
		if r, err := c.VerifyCounterCode(t.Context(), code); err != nil || r.Outcome != want {
			t.Errorf("VerifyCounterCode = %+v, %v; want %s", r, err, want)
		}
	}
}
