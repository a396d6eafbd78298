package saml

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// parked is a SAML request waiting for the login, kept in
// storage.AuthRequest.Claims (the front end's own record of the request):
// the message exactly as it arrived, so that the resumed request is
// verified again by crewjam/saml from the same bytes.
type parked struct {
	Binding string `json:"binding"` // redirect, post or idp (IdP-initiated)
	Query   string `json:"query,omitempty"`
	Form    string `json:"form,omitempty"`
	// IdP-initiated: the service provider's entity ID and RelayState.
	SP         string `json:"sp,omitempty"`
	RelayState string `json:"relay_state,omitempty"`
}

const bindingIdP = "idp"

// park answers a validated request: a replayed AuthnRequest ID is refused;
// a request CardSSO cannot satisfy (RequestedAuthnContext, NameIDPolicy) is
// answered with its SAML status at once; a request the browser's live SSO
// session answers as it is gets its assertion at once (the session is
// returned); otherwise it is stored as an AuthRequest and the browser goes
// to the login.
func (p *Provider) park(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest) *crewjam.Session {
	ctx := r.Context()
	entityID := req.ServiceProviderMetadata.EntityID
	sp, err := p.cfg.Store.GetServiceProviderByEntityID(ctx, entityID)
	if err != nil {
		p.internal(w, r, "saml: load service provider", err)
		return nil
	}
	now := p.cfg.Now().UTC()
	idpInitiated := req.Request.ID == ""
	if !idpInitiated {
		// Every AuthnRequest ID once per SP, signed or not, until crewjam
		// would refuse it as expired anyway.
		key := onceKey("saml-authn", entityID, req.Request.ID)
		until := req.Request.IssueInstant.Add(crewjam.MaxIssueDelay + crewjam.MaxClockSkew)
		if err := p.cfg.Store.RecordOnce(ctx, key, until); errors.Is(err, storage.ErrAlreadyUsed) {
			p.cfg.Logger.WarnContext(ctx, "saml authn request replayed", "sp", entityID)
			p.errorPage(w, http.StatusBadRequest, "replayed")
			return nil
		} else if err != nil {
			p.internal(w, r, "saml: record authn request", err)
			return nil
		}
	}
	need := p.contexts.require(req.Request.RequestedAuthnContext)
	if need.Impossible {
		p.sendStatus(w, r, req, &crewjam.StatusError{TopLevel: crewjam.StatusResponder, SecondLevel: crewjam.StatusNoAuthnContext,
			Message: "the requested authentication context cannot be satisfied"})
		return nil
	}
	if _, serr := nameIDFormat(sp, req); serr != nil {
		p.sendStatus(w, r, req, serr)
		return nil
	}
	required := need.Min
	if sp.MinACR != "" {
		if l, err := assurance.ParseACR(sp.MinACR); err == nil && l > required {
			required = l
		}
	}
	ar, err := p.parkedRequest(w, r, req, required.ACR(), now)
	if err != nil {
		p.internal(w, r, "saml: park request", err)
		return nil
	}
	if p.answerer != nil {
		done, cur, ok, err := p.answerer.SingleSignOn(r, ar)
		if err != nil {
			p.internal(w, r, "saml: single sign-on", err)
			return nil
		}
		if ok {
			p.cfg.Logger.InfoContext(ctx, "saml authn request", "sp", entityID, "required_acr", ar.RequiredACR,
				"idp_initiated", idpInitiated, "answered_from_session", true)
			return p.sessionFor(w, r, req, sp, done, cur)
		}
	}
	if err := p.cfg.Store.CreateAuthRequest(ctx, ar); err != nil {
		p.internal(w, r, "saml: park request", err)
		return nil
	}
	p.cfg.Logger.InfoContext(ctx, "saml authn request", "sp", entityID, "auth_request", ar.ID,
		"required_acr", ar.RequiredACR, "passive", len(ar.Prompt) > 0, "force_authn", ar.MaxAge != nil, "idp_initiated", idpInitiated)
	http.Redirect(w, r, p.cfg.LoginURL(ar.ID), http.StatusSeeOther)
	return nil
}

// parkedRequest is the AuthRequest that parks a validated request for the
// login: the message as it arrived (parked), the level required, IsPassive
// as prompt=none and ForceAuthn as max_age=0, bound to this browser, and
// expiring with the AuthnRequest (crewjam.MaxIssueDelay) or the
// configured lifetime, whichever comes first.
func (p *Provider) parkedRequest(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest, requiredACR string, now time.Time) (storage.AuthRequest, error) {
	entityID := req.ServiceProviderMetadata.EntityID
	idpInitiated := req.Request.ID == ""
	pk := parked{Binding: bindingPost}
	switch {
	case idpInitiated:
		pk = parked{Binding: bindingIdP, SP: entityID, RelayState: req.RelayState}
	case r.Method == http.MethodGet:
		pk = parked{Binding: bindingRedirect, Query: r.URL.RawQuery}
	default:
		pk.Form = r.PostForm.Encode()
	}
	rec, err := json.Marshal(pk)
	if err != nil {
		return storage.AuthRequest{}, err
	}
	expires := now.Add(p.cfg.AuthRequestLifetime)
	if !idpInitiated {
		if limit := req.Request.IssueInstant.Add(crewjam.MaxIssueDelay).UTC(); limit.Before(expires) {
			expires = limit
		}
	}
	ar := storage.AuthRequest{
		ID: rand.Text(), Protocol: Protocol, ClientID: entityID, RedirectURI: req.ACSEndpoint.Location,
		State: req.RelayState, Nonce: req.Request.ID, RequiredACR: requiredACR, Claims: rec,
		BrowserHash: p.cfg.Sessions.Bind(w, r), // the login continues only in this browser
		CreatedAt:   now, ExpiresAt: expires,
	}
	if b := req.Request.IsPassive; b != nil && *b {
		ar.Prompt = []string{"none"}
	}
	if b := req.Request.ForceAuthn; b != nil && *b {
		zero := int64(0)
		ar.MaxAge = &zero
	}
	return ar, nil
}

// onceKey is a RecordOnce key for (kind, entity id, message id), bounded in
// length whatever the SP sends.
func onceKey(kind, entityID, id string) string {
	h := sha256.Sum256([]byte(entityID + "\x00" + id))
	return kind + ":" + hex.EncodeToString(h[:])
}

// loadParked loads a SAML auth request and its parked message.
func (p *Provider) loadParked(ctx context.Context, id string) (storage.AuthRequest, parked, error) {
	ar, err := p.cfg.Store.GetAuthRequest(ctx, id)
	if err != nil {
		return ar, parked{}, err
	}
	if ar.Protocol != Protocol {
		return ar, parked{}, storage.ErrNotFound
	}
	var pk parked
	if err := json.Unmarshal(ar.Claims, &pk); err != nil {
		return ar, pk, fmt.Errorf("parked request %s: %w", id, err)
	}
	return ar, pk, nil
}

// replay rebuilds the HTTP request a parked message arrived in, on r (the
// browser's current request, whose cookies it keeps).
func replay(r *http.Request, pk parked) *http.Request {
	r2 := r.Clone(r.Context())
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = PathSSO, "", ""
	r2.URL = &u
	r2.Form, r2.PostForm, r2.Body, r2.ContentLength = nil, nil, http.NoBody, 0
	r2.Header.Del("Content-Type")
	switch pk.Binding {
	case bindingRedirect:
		r2.Method = http.MethodGet
		r2.URL.RawQuery = pk.Query
	case bindingPost:
		r2.Method = http.MethodPost
		r2.Body = io.NopCloser(strings.NewReader(pk.Form))
		r2.ContentLength = int64(len(pk.Form))
		r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		r2.Method = http.MethodGet
	}
	return r2
}
