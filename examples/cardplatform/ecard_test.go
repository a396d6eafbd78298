package main

import (
	"io"
	"net"
	"net/http"
	"testing"

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
