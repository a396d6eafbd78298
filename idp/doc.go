// Package idp wires a CardSSO node: New assembles, from the configuration
// and the parts it is given opened (Parts: the store, the connector's
// checks, the master key), the signing keys, the OpenID Provider, the SAML
// identity provider, the logout fan-out, the login pages and the
// operability endpoints into one http.Handler; OpenAdmin gives the
// administrator's side (idp/admin) over the same database. It imports no
// concrete store or connector: cmd/cardsso opens them from its registries.
// The protocol and page packages live under idp/internal, so that only idp
// can wire them (docs/architecture.md, "One-way imports").
//
//	           ┌──────────────────── Server.Handler ─────────────────────┐
//	request ──▶│ body caps (bodies.go)                                    │
//	           │ client address (idp/internal/clientip, trusted proxies)  │
//	           │ request id · access log · metrics (middleware.go)        │
//	           │  /healthz /readyz /metrics                               │
//	           │  /login… /logout… /account…  idp/internal/login          │
//	           │  /.well-known/… /authorize /oauth/… /keys …              │
//	           │                              idp/internal/oidc (op)      │
//	           │  /saml/metadata /saml/sso /saml/slo …                    │
//	           │                              idp/internal/saml (crewjam) │
//	           └──────────────────────────────────────────────────────────┘
//	background: signing-key refresh and rotation (OIDC and SAML keys),
//	expired-row collection; logout tokens to OIDC clients (idp/internal/logout)
package idp
