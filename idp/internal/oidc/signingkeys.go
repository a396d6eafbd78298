package oidc

import (
	"context"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/idp/keys"
)

// SigningKeys is the in-memory view of the token signing keys.
type SigningKeys interface {
	Active() (*keys.Signer, error)
	PublicJWKS() []jose.JSONWebKey
	// JWKSJSON is the pre-serialised {"keys":[…]} and ETag its strong ETag.
	JWKSJSON() []byte
	ETag() string
}

// signingKey adapts keys.Signer to op.SigningKey.
type signingKey struct{ s *keys.Signer }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.s.Algorithm }

func (k signingKey) Key() any { return k.s.Key }

func (k signingKey) ID() string { return k.s.ID }

// SigningKey returns the active key from memory.
func (s *Storage) SigningKey(context.Context) (op.SigningKey, error) {
	a, err := s.cfg.Keys.Active()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return signingKey{a}, nil
}

// SignatureAlgorithms lists the algorithm of the active key.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	a, err := s.cfg.Keys.Active()
	if err != nil {
		return nil, err
	}
	return []jose.SignatureAlgorithm{a.Algorithm}, nil
}

// publicKey adapts a JWK to op.Key.
type publicKey struct{ k jose.JSONWebKey }

func (k publicKey) ID() string { return k.k.KeyID }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Algorithm) }

func (k publicKey) Use() string { return k.k.Use }

func (k publicKey) Key() any { return k.k.Key }

// KeySet returns next, active and still-published retired public keys.
func (s *Storage) KeySet(context.Context) ([]op.Key, error) {
	jwks := s.cfg.Keys.PublicJWKS()
	out := make([]op.Key, len(jwks))
	for i, k := range jwks {
		out[i] = publicKey{k}
	}
	return out, nil
}
