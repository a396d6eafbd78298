package saml

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/storage"
)

// Protocol is the AuthRequest.Protocol of SAML requests (login.ProtocolSAML).
const Protocol = "saml"

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
