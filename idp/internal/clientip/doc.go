// Package clientip provides the address of the client behind a request,
// for per-address limits and audit lines, when the server may sit behind
// load balancers or reverse proxies.
//
// The peer of the TCP connection (http.Request.RemoteAddr) is the client
// unless it is a trusted proxy. Only then is the forwarding header read —
// X-Forwarded-For, or Forwarded (RFC 7239) when so configured — and walked
// right to left, each hop having been appended by the one after it:
//
//	client ─▶ proxy A ─▶ proxy B ─▶ CardSSO
//	X-Forwarded-For: <spoofed…>, client, A      peer: B
//
// Trusted hops (B, then A) are skipped; the first untrusted address is the
// client. Everything left of it was written by the client and is never
// believed. A hop that is not an address (RFC 7239 "unknown", an obfuscated
// identifier, garbage) stops the walk: the last trusted hop is then taken
// as the client, since nothing further can be believed.
//
// Only one header is read, the one the proxies are known to write: a
// proxy that appends X-Forwarded-For passes a client's own Forwarded header
// on untouched, so reading both would let the client choose.
package clientip
