package saml

import (
	"crypto/rand"
	"net/http"
	"slices"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// sessionFor is the crewjam/saml session for a completed request ar of the
// registered SP sp in the browser's SSO session cur: NameID, session index,
// class, attributes.
func (p *Provider) sessionFor(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest, sp storage.ServiceProvider, ar storage.AuthRequest, cur storage.Session) *crewjam.Session {
	ctx := r.Context()
	entityID := req.ServiceProviderMetadata.EntityID
	acct, err := p.cfg.Store.GetAccount(ctx, ar.AccountID)
	if err != nil {
		p.internal(w, r, "saml: load account", err)
		return nil
	}
	reached, err := assurance.ParseACR(ar.ACR)
	if err != nil {
		p.internal(w, r, "saml: level of the session", err)
		return nil
	}
	class, ok := p.contexts.assert(req.Request.RequestedAuthnContext, reached)
	if !ok {
		class = reached.ACR() // crewjam/saml answers NoAuthnContext
	}
	format, serr := nameIDFormat(sp, req)
	if serr != nil {
		format = crewjam.TransientNameIDFormat // crewjam/saml answers InvalidNameIDPolicy
	}
	nameID := p.persistentNameID(acct.ID, entityID)
	if format == crewjam.TransientNameIDFormat {
		nameID = "_" + strings.ToLower(rand.Text())
	}
	index, err := p.sessionIndex(ar.SessionID, entityID)
	if err != nil {
		p.internal(w, r, "saml: session index", err)
		return nil
	}
	attrs, err := p.attributes(acct, sp)
	if err != nil {
		p.internal(w, r, "saml: attributes", err)
		return nil
	}
	p.cfg.Logger.InfoContext(ctx, "saml assertion", "sp", entityID, "account", acct.ID, "acr", ar.ACR,
		"class", class, "name_id_format", string(format), "attributes", attributeNames(attrs))
	return &crewjam.Session{
		ID: ar.SessionID, CreateTime: ar.AuthTime, ExpireTime: cur.ExpiresAt, Index: index,
		NameID: nameID, NameIDFormat: string(format), AuthnContextClassRef: class, CustomAttributes: attrs,
	}
}

// nameIDFormat is the NameID format for a request: the NameIDPolicy's
// persistent or transient when it asks for one, else the SP's registered
// format. An SP registered for transient NameIDs is refused a persistent
// one (InvalidNameIDPolicy): registration says how linkable the citizen may
// be there at most.
func nameIDFormat(sp storage.ServiceProvider, req *crewjam.IdpAuthnRequest) (crewjam.NameIDFormat, *crewjam.StatusError) {
	registered := crewjam.PersistentNameIDFormat
	if sp.NameIDFormat == "transient" {
		registered = crewjam.TransientNameIDFormat
	}
	pol := req.Request.NameIDPolicy
	if pol == nil || pol.Format == nil {
		return registered, nil
	}
	switch f := crewjam.NameIDFormat(*pol.Format); f {
	case "", crewjam.UnspecifiedNameIDFormat, "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted":
		return registered, nil
	case crewjam.TransientNameIDFormat:
		return f, nil
	case crewjam.PersistentNameIDFormat:
		if registered == crewjam.PersistentNameIDFormat {
			return f, nil
		}
	}
	return registered, &crewjam.StatusError{TopLevel: crewjam.StatusRequester, SecondLevel: crewjam.StatusInvalidNameIDPolicy,
		Message: "the name identifier format " + *pol.Format + " is not available to this service provider"}
}

func attributeNames(attrs []crewjam.Attribute) []string {
	out := make([]string, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a.FriendlyName)
	}
	slices.Sort(out)
	return out
}
