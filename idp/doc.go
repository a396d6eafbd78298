// Package idp provides a CardSSO node: New assembles configuration, the
// store and the connector it is given opened (Store, connectors checks), the
// master key, signing keys, the OpenID Provider, the login pages and the
// operability endpoints into one http.Handler; Admin is the administrator's
// side (the CLI, later the admin API) over the same database. It imports no
// concrete store or connector: cmd/cardsso opens them from its registries.
//
// It is the only importer of the idp/* packages; cmd/cardsso only wires
// configuration to it.
//
//	           ┌──────────────── Server.Handler ────────────────┐
//	request ──▶│ client address (idp/internal/clientip, trusted proxies) │
//	           │ request id · access log · metrics              │
//	           │  /healthz /readyz /metrics                     │
//	           │  /login… /logout…      idp/internal/login (+ session)   │
//	           │  /.well-known/… /authorize /oauth/… /keys …    │
//	           │                        idp/internal/oidc (zitadel op)    │
//	           │  /saml/metadata /saml/sso /saml/slo …          │
//	           │                        idp/internal/saml (crewjam/saml)  │
//	           └────────────────────────────────────────────────┘
//	background: signing-key refresh and rotation (OIDC and SAML keys),
//	expired-row collection; logout tokens to OIDC clients (idp/internal/logout)
package idp
