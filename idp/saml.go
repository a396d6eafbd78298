package idp

import (
	"fmt"
	"net/url"

	"github.com/cardsso/cardsso/idp/internal/login"
	"github.com/cardsso/cardsso/idp/internal/logout"
	cardsaml "github.com/cardsso/cardsso/idp/internal/saml"
	"github.com/cardsso/cardsso/idp/internal/session"
	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// Purposes of keys derived from the master key for SAML.
const (
	purposeSAMLNameID = "saml-nameid" // persistent (pairwise) NameIDs
	purposeSAMLLinks  = "saml-links"  // logout links, records of ended sessions
)

// newSAMLKeyManager builds the manager of the SAML signing keys: RSA-2048
// (RSA-SHA256 signatures, which SAML service providers widely expect), each
// with a self-signed certificate, rotated every saml.key_rotation_period and
// published (as retired) for an assertion's lifetime after.
func newSAMLKeyManager(st keys.Store, mk *keys.MasterKey, cfg Config) (*keys.Manager, error) {
	name := "CardSSO SAML signing"
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Hostname() != "" {
		name += " " + u.Hostname()
	}
	m, err := keys.NewManager(st, mk, keys.ManagerConfig{
		Use:             storage.KeyUseSAML,
		Algorithm:       keys.RS256,
		CertificateName: name,
		RotationPeriod:  cfg.SAML.KeyRotationPeriod,
		PublishFor:      cfg.SAML.AssertionLifetime + 5*60*1e9,
		Now:             cfg.Now,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, &InvalidError{Field: "saml.key_rotation_period", Reason: err.Error()}
	}
	return m, nil
}

// samlAliases is the configured alias table, eIDAS by default.
func samlAliases(cfg Config) assurance.Aliases {
	if cfg.SAML.ACRAliases == nil {
		return assurance.EIDAS()
	}
	return cfg.SAML.ACRAliases
}

// samlSessionStore is the store of the session manager: sessions ended at
// /logout keep their SAML participants for the SAML logout chain.
func samlSessionStore(st Store, mk *keys.MasterKey, cfg Config) session.Store {
	return cardsaml.KeepParticipants(st, st, mk.MAC(purposeSAMLLinks), cfg.Logger, cfg.Now)
}

// newSAMLProvider builds the SAML identity provider of a node.
func newSAMLProvider(cfg Config, st Store, mk *keys.MasterKey, samlKeys *keys.Manager, sessions *session.Manager, out *logout.Fanout) (*cardsaml.Provider, error) {
	p, err := cardsaml.New(cardsaml.Config{
		Issuer:              cfg.Issuer,
		Store:               st,
		Keys:                samlKeys,
		Sessions:            sessions,
		Sealer:              mk,
		NameIDKey:           mk.Derive(purposeSAMLNameID, 32),
		Links:               mk.MAC(purposeSAMLLinks),
		LoginURL:            login.LoginURL,
		Aliases:             samlAliases(cfg),
		AssertAliases:       cfg.SAML.AssertAliases,
		AuthRequestLifetime: cfg.Tokens.AuthRequestLifetime,
		AssertionLifetime:   cfg.SAML.AssertionLifetime,
		MetadataValidity:    cfg.SAML.MetadataValidity,
		SessionEnded:        out.SAMLEnded,
		Logger:              cfg.Logger,
		Now:                 cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("saml identity provider: %w", err)
	}
	out.UseSAML(p)
	return p, nil
}
