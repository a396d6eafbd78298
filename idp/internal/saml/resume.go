package saml

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/storage"
)

// resume continues a request the login completed: the parked message goes
// through crewjam/saml again (signature, ACS, time), GetSession hands it the
// session (resumed), and the signed (and perhaps encrypted) assertion is
// posted to the SP. The auth request is used once.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	ctx := r.Context()
	ar, pk, err := p.loadParked(ctx, r.URL.Query().Get("id"))
	if errors.Is(err, storage.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, "expired")
		return
	}
	if err != nil {
		p.internal(w, r, "saml: load parked request", err)
		return
	}
	if !p.cfg.Sessions.BoundTo(r, ar.BrowserHash) {
		// Another browser than the one that sent the AuthnRequest
		// (docs/security.md §1).
		p.cfg.Logger.WarnContext(ctx, "saml: continue from another browser refused", "sp", ar.ClientID, "auth_request", ar.ID)
		p.errorPage(w, http.StatusForbidden, "otherbrowser")
		return
	}
	if !ar.Done {
		http.Redirect(w, r, p.cfg.LoginURL(ar.ID), http.StatusSeeOther)
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml continue", err)
		return
	}
	f := &flow{resume: &ar}
	r2 := replay(r, pk).WithContext(withFlow(ctx, f))
	if pk.Binding == bindingIdP {
		idp.ServeIDPInitiated(w, r2, pk.SP, pk.RelayState)
	} else {
		idp.ServeSSO(w, r2)
	}
	if !f.used {
		return
	}
	if err := p.cfg.Store.DeleteAuthRequest(ctx, ar.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		p.cfg.Logger.WarnContext(ctx, "saml: delete used auth request", "auth_request", ar.ID, "error", err)
	}
}

// resumed gives crewjam/saml the session of a completed request, once, and
// only to the browser that holds that SSO session.
func (p *Provider) resumed(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest, ar storage.AuthRequest) *crewjam.Session {
	ctx := r.Context()
	entityID := req.ServiceProviderMetadata.EntityID
	if entityID != ar.ClientID || req.Request.ID != ar.Nonce {
		p.internal(w, r, "saml: resumed request differs from the parked one", errors.New("mismatch"))
		return nil
	}
	cur, live, err := p.cfg.Sessions.Current(r)
	if err != nil {
		p.internal(w, r, "saml: read session", err)
		return nil
	}
	if !live || cur.ID != ar.SessionID {
		p.cfg.Logger.WarnContext(ctx, "saml: completed request continued without its session", "sp", entityID, "auth_request", ar.ID)
		p.errorPage(w, http.StatusBadRequest, "session")
		return nil
	}
	if err := p.cfg.Store.RecordOnce(ctx, "saml-continue:"+ar.ID, ar.ExpiresAt.Add(crewjam.MaxClockSkew)); err != nil {
		if errors.Is(err, storage.ErrAlreadyUsed) {
			p.errorPage(w, http.StatusBadRequest, "replayed")
		} else {
			p.internal(w, r, "saml: record continuation", err)
		}
		return nil
	}
	flowOf(ctx).used = true
	sp, err := p.cfg.Store.GetServiceProviderByEntityID(ctx, entityID)
	if err != nil {
		p.internal(w, r, "saml: load service provider", err)
		return nil
	}
	return p.sessionFor(w, r, req, sp, ar, cur)
}

// ReturnError answers a parked request the login cannot complete with the
// SAML status for the login's OAuth-style code (login.Provider):
// login_required, interaction_required and consent_required (IsPassive)
// become Responder/NoPassive, access_denied (the citizen cancelled or
// declined a check) Responder/AuthnFailed, anything else Responder.
func (p *Provider) ReturnError(w http.ResponseWriter, r *http.Request, authRequestID, code, description string) {
	securityHeaders(w)
	ctx := r.Context()
	ar, pk, err := p.loadParked(ctx, authRequestID)
	if errors.Is(err, storage.ErrNotFound) {
		p.errorPage(w, http.StatusBadRequest, "expired")
		return
	}
	if err != nil {
		p.internal(w, r, "saml: load parked request", err)
		return
	}
	defer func() {
		if err := p.cfg.Store.DeleteAuthRequest(ctx, ar.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			p.cfg.Logger.WarnContext(ctx, "saml: delete auth request", "auth_request", ar.ID, "error", err)
		}
	}()
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml error response", err)
		return
	}
	r2 := replay(r, pk)
	var req *crewjam.IdpAuthnRequest
	if pk.Binding == bindingIdP {
		req, err = idp.NewIdpInitiatedRequest(r2, pk.SP, pk.RelayState)
	} else if req, err = crewjam.NewIdpAuthnRequest(idp, r2); err == nil {
		err = req.Validate()
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", crewjam.ErrUnknownServiceProvider, err)
		}
		p.onError(w, r, http.StatusBadRequest, err)
		return
	}
	se := &crewjam.StatusError{TopLevel: crewjam.StatusResponder, Message: description}
	switch code {
	case "login_required", "interaction_required", "consent_required":
		se.SecondLevel = crewjam.StatusNoPassive
	case "access_denied":
		se.SecondLevel = crewjam.StatusAuthnFailed
	}
	p.sendStatus(w, r, req, se)
}
