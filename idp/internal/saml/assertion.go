package saml

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// Attributes CardSSO releases, by friendly name. Each goes out with the
// NameFormat uri, the Name AttributeURN(friendly name) and the friendly
// name as FriendlyName; an SP receives only those its registration's
// allow-list names (ServiceProvider.Attributes).
const (
	AttrName       = "name"        // the name matched by the real-name check
	AttrSSNMasked  = "ssn_masked"  // first 3 + last 4 characters of the number
	AttrCardRegion = "card_region" // 6-digit GB/T 2260 code of the card's issuing region
	AttrCardStatus = "card_status" // the card status at the last real-card check
	AttrSSN        = "ssn"         // the full number: only with an explicit allow-list entry
)

// Attributes lists the attribute friendly names in release order.
var Attributes = []string{AttrName, AttrSSNMasked, AttrCardRegion, AttrCardStatus, AttrSSN}

// DefaultAttributes is the allow-list of an SP registered without one.
var DefaultAttributes = []string{AttrName}

// AttributeURN is the SAML Name of an attribute, e.g.
// urn:cardsso:attribute:name.
func AttributeURN(friendly string) string { return "urn:cardsso:attribute:" + friendly }

// claimOf maps attributes to the OIDC claims of the same data, so that the
// release policy (policies/release) decides for both protocols.
var claimOf = map[string]string{
	AttrName: "name", AttrSSNMasked: "ssn_masked", AttrCardRegion: "card_region",
	AttrCardStatus: "card_status", AttrSSN: "ssn",
}

// attributes returns what the SP may receive about the account: the
// attributes its allow-list names, each only if the release policy allows
// the claim to a client with that allow-list (the full number needs the
// explicit "ssn" entry, which stands for the cardsso.ssn scope) and the
// account has a value.
func (p *Provider) attributes(a storage.Account, sp storage.ServiceProvider) ([]crewjam.Attribute, error) {
	var allow []string
	if slices.Contains(sp.Attributes, AttrSSN) {
		allow = append(allow, release.ScopeSSN)
	}
	var out []crewjam.Attribute
	for _, name := range Attributes {
		if !slices.Contains(sp.Attributes, name) || !release.ClaimAllowed(claimOf[name], allow) {
			continue
		}
		var v string
		switch name {
		case AttrName:
			v = a.Name
		case AttrSSNMasked:
			v = a.SSNMasked
		case AttrCardRegion:
			v = a.CardRegion
		case AttrCardStatus:
			v = a.CardStatus
		case AttrSSN:
			b, err := p.cfg.Sealer.Open(a.SSNSealed, storage.SSNAssociatedData(a.ID))
			if err != nil {
				return nil, fmt.Errorf("open number of account %s: %w", a.ID, err)
			}
			v = string(b)
		}
		if v == "" {
			continue
		}
		out = append(out, crewjam.Attribute{
			FriendlyName: name, Name: AttributeURN(name),
			NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
			Values:     []crewjam.AttributeValue{{Type: "xs:string", Value: v}},
		})
	}
	return out, nil
}

// persistentNameID is the citizen's pairwise identifier at one SP:
// base64url(HMAC-SHA256(NameIDKey, entity id ‖ 0x00 ‖ account id)), the same
// at that SP every time and unlinkable across SPs; never the number.
func (p *Provider) persistentNameID(accountID, entityID string) string {
	m := hmac.New(sha256.New, p.cfg.NameIDKey)
	m.Write([]byte(entityID))
	m.Write([]byte{0})
	m.Write([]byte(accountID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sessionIndexAD(entityID string) []byte { return []byte("saml-session-index\x00" + entityID) }

// sessionIndex is the SessionIndex of an assertion: the SSO session id
// sealed under the master key for this SP (random per assertion, so SPs
// cannot correlate sessions through it), which any node can open again
// when the SP logs the session out, even in a POST that carries no cookie.
func (p *Provider) sessionIndex(sessionID, entityID string) (string, error) {
	raw, err := hex.DecodeString(sessionID)
	if err != nil {
		raw = []byte(sessionID)
	}
	sealed, err := p.cfg.Sealer.Seal(raw, sessionIndexAD(entityID))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openSessionIndex reverses sessionIndex for the SP it was issued to.
func (p *Provider) openSessionIndex(index, entityID string) (string, bool) {
	if len(index) > 512 {
		return "", false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(index)
	if err != nil {
		return "", false
	}
	raw, err := p.cfg.Sealer.Open(sealed, sessionIndexAD(entityID))
	if err != nil {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// assertionMaker is crewjam/saml's AssertionMaker: DefaultAssertionMaker
// (NameID, AuthnContextClassRef checked against RequestedAuthnContext,
// NameIDPolicy, subject confirmation), then CardSSO's attributes in place
// of those it guesses from requested attribute names, and a short validity.
type assertionMaker struct{ p *Provider }

func (m assertionMaker) MakeAssertion(req *crewjam.IdpAuthnRequest, s *crewjam.Session) error {
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	a := req.Assertion
	a.AttributeStatements = nil
	if len(s.CustomAttributes) > 0 {
		a.AttributeStatements = []crewjam.AttributeStatement{{Attributes: s.CustomAttributes}}
	}
	end := req.Now.Add(m.p.cfg.AssertionLifetime)
	if a.Conditions != nil && a.Conditions.NotOnOrAfter.After(end) {
		a.Conditions.NotOnOrAfter = end
	}
	if a.Subject != nil {
		for i := range a.Subject.SubjectConfirmations {
			if d := a.Subject.SubjectConfirmations[i].SubjectConfirmationData; d != nil && d.NotOnOrAfter.After(end) {
				d.NotOnOrAfter = end
			}
		}
	}
	if !s.ExpireTime.IsZero() {
		for i := range a.AuthnStatements {
			t := s.ExpireTime.UTC().Truncate(time.Second)
			a.AuthnStatements[i].SessionNotOnOrAfter = &t
		}
	}
	return nil
}

// registry is crewjam/saml's ServiceProviderProvider over the stored SPs.
type registry struct{ p *Provider }

func (g registry) GetServiceProvider(r *http.Request, entityID string) (*crewjam.EntityDescriptor, error) {
	if entityID == "" || len(entityID) > 1024 {
		return nil, os.ErrNotExist
	}
	sp, err := g.p.cfg.Store.GetServiceProviderByEntityID(r.Context(), entityID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, os.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	// Registration validated the metadata; expiry is not judged again here
	// (an administrator re-imports it).
	return g.p.parsed.get(sp.Metadata, func() (*crewjam.EntityDescriptor, error) {
		md, err := ParseMetadata(sp.Metadata, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("stored metadata of %s: %w", entityID, err)
		}
		return md.Descriptor, nil
	})
}

// parsedMetadata caches parsed SP metadata by the SHA-256 of the document:
// the SP is still read from storage on every request, so a re-import takes
// effect at once, but a document is parsed once. Callers must not modify
// the descriptors.
type parsedMetadata struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*crewjam.EntityDescriptor
}

// maxParsedMetadata bounds the cache; past it, it starts over.
const maxParsedMetadata = 10_000

func (c *parsedMetadata) get(doc []byte, parse func() (*crewjam.EntityDescriptor, error)) (*crewjam.EntityDescriptor, error) {
	key := sha256.Sum256(doc)
	c.mu.Lock()
	d, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := parse()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxParsedMetadata {
		c.m = map[[sha256.Size]byte]*crewjam.EntityDescriptor{}
	}
	c.m[key] = d
	c.mu.Unlock()
	return d, nil
}

// replayCache is crewjam/saml's ReplayCache (AuthnRequest and LogoutRequest
// IDs) over storage.RecordOnce, shared by every node.
type replayCache struct{ p *Provider }

func (c replayCache) Consume(id string, expiresAt time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := sha256.Sum256([]byte(id))
	err := c.p.cfg.Store.RecordOnce(ctx, "saml-replay:"+hex.EncodeToString(h[:]), expiresAt)
	if errors.Is(err, storage.ErrAlreadyUsed) {
		return crewjam.ErrAssertionReplayed
	}
	return err
}
