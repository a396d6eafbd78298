package clientip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Headers a Resolver can read.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// ErrConfig is the class of Resolver configuration errors.
var ErrConfig = errors.New("clientip: invalid configuration")

// Resolver finds the client address of requests. The zero value trusts no
// proxy: the client is always the peer.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// New returns a Resolver that trusts the proxies in the CIDRs (an address
// without a prefix length is one host) and reads header (HeaderXForwardedFor
// when empty, or HeaderForwarded) from them. A bad CIDR or header is an
// error wrapping ErrConfig that names it.
func New(trustedProxies []string, header string) (*Resolver, error) {
	r := &Resolver{}
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
		r.header = HeaderXForwardedFor
	case strings.EqualFold(header, HeaderForwarded):
		r.header = HeaderForwarded
	default:
		return nil, fmt.Errorf("%w: header %q (want %s or %s)", ErrConfig, header, HeaderXForwardedFor, HeaderForwarded)
	}
	for _, s := range trustedProxies {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		r.trusted = append(r.trusted, p)
	}
	return r, nil
}

// ParsePrefix parses one trusted-proxy entry: a CIDR ("10.0.0.0/8",
// "fd00::/8") or a single address ("192.0.2.7").
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %q is not a CIDR (want e.g. 10.0.0.0/8 or fd00::/8)", ErrConfig, s)
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%w: %q has a zone", ErrConfig, s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%w: %q is not a CIDR or an IP address (want e.g. 10.0.0.0/8 or 192.0.2.7)", ErrConfig, s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Trusts reports whether a is a trusted proxy.
func (r *Resolver) Trusts(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer is the address of the connection's peer (RemoteAddr), or the
// invalid Addr when RemoteAddr is not an address.
func Peer(req *http.Request) netip.Addr {
	host := req.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// Addr is the client's address: the peer, unless the peer is a trusted
// proxy, then the rightmost untrusted hop of the configured header. It is
// invalid only when RemoteAddr is not an address (never for a request from
// net/http's server).
func (r *Resolver) Addr(req *http.Request) netip.Addr {
	client := Peer(req)
	if !r.Trusts(client) {
		return client
	}
	var hops []string
	if r.header == HeaderForwarded {
		hops = forwardedFor(req.Header.Values(HeaderForwarded))
	} else {
		for _, v := range req.Header.Values(HeaderXForwardedFor) {
			hops = append(hops, strings.Split(v, ",")...)
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client // not an address: the last trusted hop is all we know
		}
		client = a
		if !r.Trusts(a) {
			return a
		}
	}
	return client // every hop trusted: the furthest one
}

// String is Addr as text ("" when invalid), for log lines and counter keys.
func (r *Resolver) String(req *http.Request) string {
	a := r.Addr(req)
	if !a.IsValid() {
		return req.RemoteAddr
	}
	return a.String()
}

// forwardedFor returns the for= values of Forwarded header lines in order
// (RFC 7239 §4: elements separated by commas, pairs by semicolons). A
// forwarded-element without for= yields "" (not an address, so it stops
// the walk).
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range splitQuoted(line, ',') {
			if strings.TrimSpace(elem) == "" {
				continue
			}
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
					v = strings.TrimSpace(val)
					break
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// parseHop reads one hop: "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]:4711", optionally double-quoted (Forwarded).
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") { // [v6] without port
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	// "[v6]:_obfport" or "1.2.3.4:_x": an address with an obfuscated port.
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

type ctxKey struct{}

// WithAddr returns req with its client address recorded, for FromRequest.
// The server resolves the address once, where the request enters
// (Resolver.Handler), and every limit and log line reads it from there.
func WithAddr(req *http.Request, a netip.Addr) *http.Request {
	return req.WithContext(context.WithValue(req.Context(), ctxKey{}, a))
}

// FromRequest is the client address WithAddr recorded, or the peer when
// none was.
func FromRequest(req *http.Request) netip.Addr {
	if a, ok := req.Context().Value(ctxKey{}).(netip.Addr); ok {
		return a
	}
	return Peer(req)
}

// Handler records the client address of every request (WithAddr) before
// next sees it.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, WithAddr(req, r.Addr(req)))
	})
}
