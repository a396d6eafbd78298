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
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		log.Fatalf("oidc-portal: discovery at %s: %v", *issuer, err)
	}
	ep := provider.Endpoint()
	if *secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	conf := oauth2.Config{
		ClientID: *clientID, ClientSecret: *secret, Endpoint: ep,
		RedirectURL: "http://" + *addr + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "cardsso.card"},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: *clientID})

	// pending logins by state (a demo keeps them in memory).
	var mu sync.Mutex
	pending := map[string]string{} // state -> PKCE verifier
	var lastIDToken string

	page := template.Must(template.New("p").Parse(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>{{.Client}}</title></head>
<body><h1>Demo portal {{.Client}}</h1>{{if .Claims}}<p>Signed in. Claims from CardSSO:</p><pre>{{.Claims}}</pre>
<p><a href="/logout">Log out</a></p>{{else}}<p><a href="/login">Sign in with CardSSO</a></p>{{end}}</body></html>`))

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = page.Execute(w, map[string]string{"Client": *clientID})
	})
	http.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		state, v := rand.Text(), oauth2.GenerateVerifier()
		mu.Lock()
		pending[state] = v
		mu.Unlock()
		http.Redirect(w, r, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(v)), http.StatusFound)
	})
	http.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if e := q.Get("error"); e != "" {
			http.Error(w, "CardSSO answered "+e+": "+q.Get("error_description"), http.StatusBadRequest)
			return
		}
		mu.Lock()
		v, ok := pending[q.Get("state")]
		delete(pending, q.Get("state"))
		mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			http.Error(w, "token exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "ID token: "+err.Error(), http.StatusBadGateway)
			return
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		b, _ := json.MarshalIndent(claims, "", "  ")
		mu.Lock()
		lastIDToken = raw
		mu.Unlock()
		_ = page.Execute(w, map[string]string{"Client": *clientID, "Claims": string(b)})
	})
	http.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		var es struct {
			EndSession string `json:"end_session_endpoint"`
		}
		_ = provider.Claims(&es)
		mu.Lock()
		hint := lastIDToken
		mu.Unlock()
		http.Redirect(w, r, es.EndSession+"?id_token_hint="+hint, http.StatusFound)
	})
	log.Printf("demo portal %s on http://%s", *clientID, *addr)
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10e9}
	log.Fatal(srv.ListenAndServe())
}
