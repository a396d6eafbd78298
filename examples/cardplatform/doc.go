// Command cardplatform is a demo card service platform: it serves the HTTP
// API of docs/cardplatform-api.md over the simulator's card holders, so that
// CardSSO can run against a real networked platform. When the simulator
// offers the e-card, it serves the e-card endpoints too, and the app API
// under https://<addr>/app (docs/cardplatform-api.md, §7 and §8);
// --app-base-url gives another public URL for it, which the login tickets
// name.
//
//	go run ./examples/cardplatform
//	go run ./cmd/cardsso serve --config examples/config/cardplatform.yaml
//
// By default it listens on https://127.0.0.1:8443 and knows one client,
// cardsso-demo, whose secret is the public demo secret
// "cardsso-demo-secret-not-for-production-0123". Use that secret on one
// machine only; set --client-secret, $CARDPLATFORM_CLIENT_SECRET or
// --clients for anything else. Without --tls-cert it makes a demo CA and
// certificates in ./data/cardplatform (kept for later runs):
//
//	ca.pem                        the CA CardSSO trusts (tls.ca_file)
//	server.pem, server-key.pem    this server's certificate (localhost, 127.0.0.1, ::1)
//	client.pem, client-key.pem    a client certificate for mutual TLS
//
// With --client-ca ./data/cardplatform/ca.pem it requires a client
// certificate (mutual TLS); CardSSO then sets tls.cert_file and
// tls.key_file to client.pem and client-key.pem. Other flags: --fixture and
// --photo-dir choose other card holders, --face-threshold the simulator's
// threshold, --skew the accepted clock skew, --log-format text or json.
// Run it with -h for the full list.
//
// The --clients file lists several clients:
//
//	clients:
//	  - id: cardsso-prod
//	    secret_file: /run/secrets/cardsso-prod
//	  - id: cardsso-test
//	    secret: "at least 32 bytes of secret ............"
package main
