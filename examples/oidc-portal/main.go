// Command oidc-portal is a demo government portal that signs citizens in
// with CardSSO through OpenID Connect (coreos/go-oidc + x/oauth2, code flow
// with PKCE S256). Run two of them on different ports to see single sign-on.
//
//	go run ./cmd/cardsso clients create --id portal-a --redirect-uri http://127.0.0.1:9000/callback
//	go run ./examples/oidc-portal --client-id portal-a --client-secret SECRET --addr 127.0.0.1:9000
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	issuer := flag.String("issuer", "http://localhost:8080", "CardSSO issuer URL")
	addr := flag.String("addr", "127.0.0.1:9000", "listen address of this portal")
	clientID := flag.String("client-id", "", "client id registered at CardSSO")
	secret := flag.String("client-secret", os.Getenv("PORTAL_CLIENT_SECRET"), "client secret (or PORTAL_CLIENT_SECRET); empty for a public client")
	flag.Parse()
	if *clientID == "" {
		fmt.Fprintln(os.Stderr, "oidc-portal: --client-id is required")
		os.Exit(2)
	}
	p, err := newPortal(context.Background(), *issuer, *addr, *clientID, *secret)
	if err != nil {
		log.Fatalf("oidc-portal: discovery at %s: %v", *issuer, err)
	}
	http.HandleFunc("/", p.home)
	http.HandleFunc("/login", p.login)
	http.HandleFunc("/callback", p.callback)
	http.HandleFunc("/logout", p.logout)
	log.Printf("demo portal %s on http://%s", *clientID, *addr)
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10e9}
	log.Fatal(srv.ListenAndServe())
}

// portal is the demo portal: an OpenID Connect client of CardSSO.
type portal struct {
	clientID string
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier

	// pending logins by state (a demo keeps them in memory).
	mu          sync.Mutex
	pending     map[string]string // state -> PKCE verifier
	lastIDToken string
}

// newPortal discovers the provider at issuer and sets up the client
// clientID, listening on addr; an empty secret makes it a public client.
func newPortal(ctx context.Context, issuer, addr, clientID, secret string) (*portal, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	ep := provider.Endpoint()
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &portal{
		clientID: clientID,
		provider: provider,
		conf: oauth2.Config{
			ClientID: clientID, ClientSecret: secret, Endpoint: ep,
			RedirectURL: "http://" + addr + "/callback",
			Scopes:      []string{oidc.ScopeOpenID, "profile", "cardsso.card"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		pending:  map[string]string{},
	}, nil
}

var page = template.Must(template.New("p").Parse(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>{{.Client}}</title></head>
<body><h1>Demo portal {{.Client}}</h1>{{if .Claims}}<p>Signed in. Claims from CardSSO:</p><pre>{{.Claims}}</pre>
<p><a href="/logout">Log out</a></p>{{else}}<p><a href="/login">Sign in with CardSSO</a></p>{{end}}</body></html>`))

// home shows the sign-in link.
func (p *portal) home(w http.ResponseWriter, r *http.Request) {
	_ = page.Execute(w, map[string]string{"Client": p.clientID})
}

// login starts a code flow with PKCE S256.
func (p *portal) login(w http.ResponseWriter, r *http.Request) {
	state, v := rand.Text(), oauth2.GenerateVerifier()
	p.mu.Lock()
	p.pending[state] = v
	p.mu.Unlock()
	http.Redirect(w, r, p.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v)), http.StatusFound)
}

// callback redeems the code, verifies the ID token and shows its claims.
func (p *portal) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "CardSSO answered "+e+": "+q.Get("error_description"), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	v, ok := p.pending[q.Get("state")]
	delete(p.pending, q.Get("state"))
	p.mu.Unlock()
	if !ok {
		http.Error(w, "unknown state", http.StatusBadRequest)
		return
	}
	tok, err := p.conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		http.Error(w, "token exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(r.Context(), raw)
	if err != nil {
		http.Error(w, "ID token: "+err.Error(), http.StatusBadGateway)
		return
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	b, _ := json.MarshalIndent(claims, "", "  ")
	p.mu.Lock()
	p.lastIDToken = raw
	p.mu.Unlock()
	_ = page.Execute(w, map[string]string{"Client": p.clientID, "Claims": string(b)})
}

// logout sends the browser to CardSSO's end-session endpoint with the last
// ID token as the hint.
func (p *portal) logout(w http.ResponseWriter, r *http.Request) {
	var es struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.provider.Claims(&es)
	p.mu.Lock()
	hint := p.lastIDToken
	p.mu.Unlock()
	http.Redirect(w, r, es.EndSession+"?id_token_hint="+hint, http.StatusFound)
}
