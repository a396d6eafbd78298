package idp

import (
	"errors"
	"net/http"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/idp/internal/ecard"
	cardoidc "github.com/cardsso/cardsso/idp/internal/oidc"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
)

// newECard is the e-card APIs (idp/internal/ecard, docs/ecard.md) of a
// connector that offers counter verification (connectors.CounterVerifier)
// or licences (connectors.LicenceFetcher), on a store that keeps the
// counter verification record (storage.CounterLog); nil otherwise.
func (s *Server) newECard(mk *keys.MasterKey, checks connectors.RealNameChecker) *ecard.Handler {
	counter, _ := checks.(connectors.CounterVerifier)
	licences, _ := checks.(connectors.LicenceFetcher)
	log, ok := s.store.(storage.CounterLog)
	if (counter == nil && licences == nil) || !ok {
		return nil
	}
	return ecard.New(ecard.Config{
		Counter: counter, Licences: licences,
		Tokens: ecardTokens{s.provider}, Signer: s.provider,
		Store: ecardStore{s.store, log}, Numbers: mk,
		Issuer: s.cfg.Issuer, Now: s.cfg.Now, Logger: s.log,
	})
}

type ecardStore struct {
	Store
	storage.CounterLog
}

// ecardTokens validates the e-card APIs' bearer tokens as the OpenID
// Provider does for userinfo and introspection.
type ecardTokens struct{ p *cardoidc.Provider }

func (t ecardTokens) Token(r *http.Request, bearer string) (ecard.Token, error) {
	b, err := t.p.Bearer(r, bearer)
	if errors.Is(err, cardoidc.ErrInvalidToken) {
		return ecard.Token{}, ecard.ErrInvalidToken
	}
	if err != nil {
		return ecard.Token{}, err
	}
	return ecard.Token{ClientID: b.Client.ID, AllowedClaims: b.Client.AllowedClaims,
		AccountID: b.AccountID, Subject: b.Subject, Scopes: b.Scopes}, nil
}

// LicenceClaims are the claims of an e-card licence document
// (GET /ecard/license).
type LicenceClaims = ecard.LicenceClaims

// VerifyLicence verifies a licence document against an issuer's published
// keys (its JWKS) and, when issuer is not empty, its iss; see
// docs/ecard.md. `cardsso license verify` uses it.
func VerifyLicence(compact string, jwks []jose.JSONWebKey, issuer string) (LicenceClaims, error) {
	return ecard.VerifyLicence(compact, jwks, issuer)
}
