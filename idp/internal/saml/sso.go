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
	"net/url"
	"os"
	"slices"
	"strings"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/storage"
)

// Protocol is the AuthRequest.Protocol of SAML requests (login.ProtocolSAML).
const Protocol = "saml"

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

// flow is what one HTTP request's handler tells the crewjam/saml callbacks
// (SessionProvider, tracker) through the context.
type flow struct {
	// resume is the parked request the login completed; used is set once
	// it has been handed over (and may be deleted).
	resume *storage.AuthRequest
	used   bool
	// issuer and candidates: the SSO sessions a LogoutRequest may name.
	issuer     string
	candidates []candidate
}

type candidate struct{ sessionID, index string }

type flowKey struct{}

func withFlow(ctx context.Context, f *flow) context.Context {
	return context.WithValue(ctx, flowKey{}, f)
}

func flowOf(ctx context.Context) *flow {
	f, _ := ctx.Value(flowKey{}).(*flow)
	if f == nil {
		return &flow{}
	}
	return f
}

// sso receives an AuthnRequest (HTTP-Redirect or HTTP-POST):
//
//	SP ──AuthnRequest──▶ /saml/sso  guard (size, DOCTYPE, RelayState)
//	                     crewjam: parse, signature, ACS registered, time
//	                     GetSession: once per ID, level needed → park as an
//	                     AuthRequest ──303──▶ /login?authRequestID=…
//	login (SSO, password, card, face, step-up) ──303──▶ /saml/sso/continue
//	continue: rebuild the request, crewjam again → assertion ──POST──▶ SP
//
// The answer to a cross-site POST never relies on the session cookie
// (SameSite=Lax is not sent with it): the 303 to the same-site login page is
// where the cookie counts.
func (p *Provider) sso(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	m, err := readMessage(r)
	if err != nil {
		p.refuse(w, r, err)
		return
	}
	if m.Param != "SAMLRequest" {
		p.refuse(w, r, inputErr(ErrMalformed, "a SAMLResponse sent to the SSO service"))
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml sso", err)
		return
	}
	idp.ServeSSO(w, r)
}

// refuse answers a message the guard stopped.
func (p *Provider) refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason, status := "request", http.StatusBadRequest
	switch {
	case errors.Is(err, ErrTooLarge):
		reason, status = "too_large", http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrDoctype):
		reason = "doctype"
	case errors.Is(err, ErrRelayState):
		reason = "relay_state"
	}
	p.cfg.Logger.WarnContext(r.Context(), "saml message refused", "path", r.URL.Path, "error", err)
	p.errorPage(w, status, reason)
}

// idpInitiated starts IdP-initiated SSO to a registered SP:
// GET /saml/idp-initiated?sp=<id or entity id>[&RelayState=…]. The citizen
// logs in (or is already), then an unsolicited Response is posted to the
// SP's default ACS.
//
// Any page can link here, and the Response goes to the SP in the victim's
// session, so it is refused (403, before any login) unless the SP opted in
// (storage.ServiceProvider.IdPInitiated, `cardsso sps add --idp-initiated`),
// and the RelayState must be empty or exactly one of the SP's RelayStates:
// an attacker cannot choose where an SP that follows RelayState lands the
// citizen. A RelayState over MaxRelayState bytes (saml-bindings-2.0-os
// §3.4.3) is refused with 400, and so is a repeated sp or RelayState
// parameter. Every refusal is logged ("saml idp-initiated refused").
func (p *Provider) idpInitiated(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	ctx := r.Context()
	q := r.URL.Query()
	if len(q["sp"]) > 1 || len(q["RelayState"]) > 1 {
		p.refuse(w, r, inputErr(ErrMalformed, "repeated sp or RelayState parameter"))
		return
	}
	relay := q.Get("RelayState")
	if len(relay) > MaxRelayState {
		p.refuse(w, r, inputErr(ErrRelayState, "%d bytes, at most %d", len(relay), MaxRelayState))
		return
	}
	sp, err := p.lookupSP(ctx, q.Get("sp"))
	if errors.Is(err, storage.ErrNotFound) {
		p.errorPage(w, http.StatusNotFound, "unknown_sp")
		return
	}
	if err != nil {
		p.internal(w, r, "saml idp-initiated: find service provider", err)
		return
	}
	if reason, page := idpInitiatedRefusal(sp, relay); reason != "" {
		p.cfg.Logger.WarnContext(ctx, "saml idp-initiated refused", "sp", sp.EntityID, "reason", reason,
			"relay_state", relay, "referer_host", refererHost(r))
		p.errorPage(w, http.StatusForbidden, page)
		return
	}
	idp, err := p.identityProvider()
	if err != nil {
		p.internal(w, r, "saml idp-initiated", err)
		return
	}
	p.cfg.Logger.InfoContext(ctx, "saml idp-initiated", "sp", sp.EntityID, "relay_state", relay != "")
	idp.ServeIDPInitiated(w, r, sp.EntityID, relay)
}

// idpInitiatedRefusal says why IdP-initiated SSO to sp with this RelayState
// is refused (the log reason and the error page key), or "" when it is
// allowed: the SP opted in, and the RelayState is empty or exactly one of
// its RelayStates. A continuation of a parked IdP-initiated request may ask
// again, for an SP switched off meanwhile.
func idpInitiatedRefusal(sp storage.ServiceProvider, relay string) (reason, page string) {
	switch {
	case !sp.IdPInitiated:
		return "not_enabled", "idp_initiated_off"
	case relay != "" && !slices.Contains(sp.RelayStates, relay):
		return "relay_state_not_allowed", "relay_state_unlisted"
	}
	return "", ""
}

// refererHost is the host of the Referer header, if any, for the log: the
// page that sent the browser here.
func refererHost(r *http.Request) string {
	u, err := url.Parse(r.Referer())
	if err != nil {
		return ""
	}
	return u.Host
}

// lookupSP finds a service provider by our id or its entity id.
func (p *Provider) lookupSP(ctx context.Context, idOrEntity string) (storage.ServiceProvider, error) {
	if idOrEntity == "" || len(idOrEntity) > 1024 {
		return storage.ServiceProvider{}, storage.ErrNotFound
	}
	sp, err := p.cfg.Store.GetServiceProvider(ctx, idOrEntity)
	if errors.Is(err, storage.ErrNotFound) {
		return p.cfg.Store.GetServiceProviderByEntityID(ctx, idOrEntity)
	}
	return sp, err
}

// sessionProvider is crewjam/saml's SessionProvider, and its
// SessionParticipantTracker and SessionInvalidator (logout.go).
type sessionProvider struct{ p *Provider }

var (
	_ crewjam.SessionProvider           = sessionProvider{}
	_ crewjam.SessionParticipantTracker = sessionProvider{}
	_ crewjam.SessionInvalidator        = sessionProvider{}
)

// GetSession parks a new request for the login, answers it from the
// browser's live SSO session when that needs no page, or hands
// crewjam/saml the citizen's session when the login completed it.
func (s sessionProvider) GetSession(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest) *crewjam.Session {
	if f := flowOf(r.Context()); f.resume != nil {
		return s.p.resumed(w, r, req, *f.resume)
	}
	return s.p.park(w, r, req)
}

// SessionAnswerer decides whether the browser's live SSO session answers a
// new request without any page (idp/internal/login.Handler implements it). When it
// does, it has recorded the SP in the session and returns the request
// completed, with the session; when not, it has written nothing.
type SessionAnswerer interface {
	SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error)
}

// AnswerFromSessions lets live SSO sessions answer AuthnRequests at once.
// Call it before serving.
func (p *Provider) AnswerFromSessions(a SessionAnswerer) { p.answerer = a }

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
		p.internal(w, r, "saml: park request", err)
		return nil
	}
	expires := now.Add(p.cfg.AuthRequestLifetime)
	if !idpInitiated {
		if limit := req.Request.IssueInstant.Add(crewjam.MaxIssueDelay).UTC(); limit.Before(expires) {
			expires = limit
		}
	}
	ar := storage.AuthRequest{
		ID: rand.Text(), Protocol: Protocol, ClientID: entityID, RedirectURI: req.ACSEndpoint.Location,
		State: req.RelayState, Nonce: req.Request.ID, RequiredACR: required.ACR(), Claims: rec,
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

// onceKey is a RecordOnce key for (kind, entity id, message id), bounded in
// length whatever the SP sends.
func onceKey(kind, entityID, id string) string {
	h := sha256.Sum256([]byte(entityID + "\x00" + id))
	return kind + ":" + hex.EncodeToString(h[:])
}

func (p *Provider) sendStatus(w http.ResponseWriter, r *http.Request, req *crewjam.IdpAuthnRequest, se *crewjam.StatusError) {
	p.cfg.Logger.InfoContext(r.Context(), "saml error response", "sp", req.ServiceProviderMetadata.EntityID,
		"status", se.TopLevel, "detail", se.SecondLevel)
	if err := req.IDP.SendErrorResponse(w, req, se); err != nil {
		p.internal(w, r, "saml: send error response", err)
	}
}

// CallbackURL is where the login sends the browser when a SAML request is
// done (login.Provider).
func (p *Provider) CallbackURL(_ context.Context, authRequestID string) string {
	return PathSSOContinue + "?" + url.Values{"id": {authRequestID}}.Encode()
}

// DisplayName is the SP's registered name (login.Provider).
func (p *Provider) DisplayName(ctx context.Context, entityID string) string {
	sp, err := p.cfg.Store.GetServiceProviderByEntityID(ctx, entityID)
	if err != nil || sp.Name == "" {
		return entityID
	}
	return sp.Name
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

func attributeNames(attrs []crewjam.Attribute) []string {
	out := make([]string, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a.FriendlyName)
	}
	slices.Sort(out)
	return out
}
