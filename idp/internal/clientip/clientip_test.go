package clientip_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/cardsso/cardsso/idp/internal/clientip"
)

func request(remote string, header map[string][]string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://sso.example/login", nil)
	r.RemoteAddr = remote
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

func TestAddr(t *testing.T) {
	xff := func(v ...string) map[string][]string { return map[string][]string{"X-Forwarded-For": v} }
	fwd := func(v ...string) map[string][]string { return map[string][]string{"Forwarded": v} }
	trusted := []string{"10.0.0.0/8", "192.0.2.7", "fd00::/8"}
	for _, tc := range []struct {
		name    string
		trusted []string
		header  string
		remote  string
		hdr     map[string][]string
		want    string
	}{
		{"no proxies: header ignored", nil, "", "203.0.113.9:5555", xff("198.51.100.1"), "203.0.113.9"},
		{"untrusted peer spoofs", trusted, "", "203.0.113.9:5555", xff("198.51.100.1"), "203.0.113.9"},
		{"trusted peer", trusted, "", "10.1.2.3:80", xff("198.51.100.1"), "198.51.100.1"},
		{"trusted peer, single host entry", trusted, "", "192.0.2.7:80", xff("198.51.100.1"), "198.51.100.1"},
		{"client-written left part ignored", trusted, "", "10.1.2.3:80", xff("1.1.1.1, 198.51.100.1"), "198.51.100.1"},
		{"trusted hops skipped right to left", trusted, "", "10.1.2.3:80", xff("1.1.1.1, 198.51.100.1, 10.9.9.9"), "198.51.100.1"},
		{"several header lines", trusted, "", "10.1.2.3:80", xff("1.1.1.1", "198.51.100.1, 10.9.9.9"), "198.51.100.1"},
		{"every hop trusted: the furthest", trusted, "", "10.1.2.3:80", xff("10.5.5.5, 10.9.9.9"), "10.5.5.5"},
		{"no header: the proxy", trusted, "", "10.1.2.3:80", nil, "10.1.2.3"},
		{"garbage hop: the last trusted", trusted, "", "10.1.2.3:80", xff("1.1.1.1, not-an-ip, 10.9.9.9"), "10.9.9.9"},
		{"hop with port", trusted, "", "10.1.2.3:80", xff("198.51.100.1:4711"), "198.51.100.1"},
		{"IPv6 peer and hop", trusted, "", "[fd00::1]:80", xff("2001:db8::5"), "2001:db8::5"},
		{"IPv4-mapped peer", trusted, "", "[::ffff:10.1.2.3]:80", xff("198.51.100.1"), "198.51.100.1"},
		{"XFF resolver ignores Forwarded", trusted, "", "10.1.2.3:80", fwd("for=198.51.100.1"), "10.1.2.3"},
		{"Forwarded", trusted, "Forwarded", "10.1.2.3:80", fwd("for=198.51.100.1;proto=https"), "198.51.100.1"},
		{"Forwarded quoted v6 with port", trusted, "Forwarded", "10.1.2.3:80", fwd(`for="[2001:db8::5]:4711"`), "2001:db8::5"},
		{"Forwarded several elements", trusted, "Forwarded", "10.1.2.3:80", fwd("for=1.1.1.1, for=198.51.100.1;by=10.0.0.1, For=10.9.9.9"), "198.51.100.1"},
		{"Forwarded several lines", trusted, "Forwarded", "10.1.2.3:80", fwd("for=1.1.1.1", "for=198.51.100.1"), "198.51.100.1"},
		{"Forwarded unknown stops", trusted, "Forwarded", "10.1.2.3:80", fwd("for=198.51.100.1, for=unknown"), "10.1.2.3"},
		{"Forwarded obfuscated stops", trusted, "Forwarded", "10.1.2.3:80", fwd("for=198.51.100.1, for=_hidden"), "10.1.2.3"},
		{"Forwarded quoted comma", trusted, "Forwarded", "10.1.2.3:80", fwd(`for=198.51.100.1;x="a,b"`), "198.51.100.1"},
		{"Forwarded ignores XFF", trusted, "Forwarded", "10.1.2.3:80", xff("198.51.100.1"), "10.1.2.3"},
		{"Forwarded untrusted peer", trusted, "Forwarded", "203.0.113.9:1", fwd("for=198.51.100.1"), "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := clientip.New(tc.trusted, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(request(tc.remote, tc.hdr)); got != tc.want {
				t.Errorf("client of %s %v = %q; want %q", tc.remote, tc.hdr, got, tc.want)
			}
		})
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	var r *clientip.Resolver
	got := r.String(request("10.1.2.3:80", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}))
	if got != "10.1.2.3" {
		t.Errorf("nil resolver = %q; want the peer", got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, tc := range []struct {
		trusted []string
		header  string
	}{
		{[]string{"10.0.0.0/33"}, ""},
		{[]string{"10.0.0/8"}, ""},
		{[]string{"proxy.example"}, ""},
		{[]string{""}, ""},
		{[]string{"fe80::1%eth0"}, ""},
		{nil, "X-Real-IP"},
	} {
		if _, err := clientip.New(tc.trusted, tc.header); !errors.Is(err, clientip.ErrConfig) {
			t.Errorf("New(%q, %q) = %v; want ErrConfig", tc.trusted, tc.header, err)
		}
	}
	if _, err := clientip.New([]string{" 10.0.0.0/8", "::1", "2001:db8::/32"}, "forwarded"); err != nil {
		t.Errorf("good config refused: %v", err)
	}
}
