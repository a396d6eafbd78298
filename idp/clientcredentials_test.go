package idp_test

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cardsso/cardsso/idp/admin"
)

// TestClientCredentials: a confidential client gets a signed JWT access
// token for itself (x/oauth2/clientcredentials), with no personal scope;
// introspection by the client says it is active; a public client cannot.
func TestClientCredentials(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9801/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "counter-app", RedirectURIs: []string{red}})
	registerClient(t, n, admin.ClientSpec{ID: "spa", Public: true, RedirectURIs: []string{red}})
	r := newRP(t, n, "counter-app", secret, red)
	ctx := context.Background()
	cc := clientcredentials.Config{ClientID: "counter-app", ClientSecret: secret, TokenURL: r.conf.Endpoint.TokenURL,
		Scopes: []string{"ecard.verify", "openid", "cardsso.ssn"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	// The access token is a JWT signed by the provider's keys.
	ks := oidc.NewRemoteKeySet(ctx, n.issuer+"/keys")
	if _, err := ks.VerifySignature(ctx, tok.AccessToken); err != nil {
		t.Errorf("access token does not verify against the JWKS: %v", err)
	}
	if scope, _ := tok.Extra("scope").(string); scope != "ecard.verify" {
		t.Errorf("granted scope %q; want only ecard.verify (no personal scope)", scope)
	}
	in := r.introspect(tok.AccessToken)
	if in["active"] != true || in["client_id"] != "counter-app" {
		t.Errorf("introspection = %v; want active for counter-app", in)
	}
	bad := cc
	bad.ClientSecret = "wrong-secret-wrong-secret-wrong-secret-xx"
	if _, err := bad.Token(ctx); oauthError(err) != "invalid_client" {
		t.Errorf("wrong secret: %v; want invalid_client", err)
	}
	pub := clientcredentials.Config{ClientID: "spa", TokenURL: r.conf.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	if _, err := pub.Token(ctx); err == nil {
		t.Errorf("a public client got a client credentials token")
	}
}
