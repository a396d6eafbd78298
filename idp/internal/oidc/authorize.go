package oidc

import (
	"context"
	"errors"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// The authorization endpoint. zitadel/oidc's op.Authorize stores every
// request and sends the browser to the login pages, which then send it to
// the callback for its code: four requests for a citizen who is already
// signed in. Here a request that the browser's live SSO session answers as
// it is (the login decides: idp/internal/login.Handler.SingleSignOn) is answered at
// once with its code, and stored once, completed and with the code's hash;
// every other request goes the library's way. The checks are the library's
// own (ParseAuthorizeRequest, ValidateAuthRequestClient) followed by ours
// (Storage.newAuthRequest), in the order op.Authorize makes them.

// SessionAnswerer decides whether the browser's live SSO session answers a
// new authorization request without any page (idp/internal/login.Handler implements
// it). When it does, it has recorded the client in the session and returns
// the request completed (Done, AccountID, SessionID, AuthTime, ACR, AMR)
// with the session; when not, it has written nothing.
type SessionAnswerer interface {
	SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error)
	BrowserBinder
}

// BrowserBinder ties an auth request to the browser that sent it
// (docs/security.md §1; idp/internal/login.Handler implements it over the session
// manager's binding cookie). Bind returns the hash stored on the request;
// the callback answers only a browser BoundTo it, and shows OtherBrowser
// (403) or Expired (400) otherwise.
type BrowserBinder interface {
	Bind(w http.ResponseWriter, r *http.Request) []byte
	BoundTo(r *http.Request, hash []byte) bool
	OtherBrowser(w http.ResponseWriter, r *http.Request)
	Expired(w http.ResponseWriter, r *http.Request)
	// HoldsSession reports whether the browser's live SSO session is
	// the one with this id.
	HoldsSession(r *http.Request, sessionID string) bool
}

// AnswerFromSessions lets live SSO sessions answer authorization requests at
// the authorization endpoint. Call it before serving.
func (p *Provider) AnswerFromSessions(a SessionAnswerer) { p.sso = a }

// authorize serves the authorization endpoint.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if p.sso == nil {
		op.Authorize(w, r, p.op)
		return
	}
	// Every request stored from here on, ours or the library's
	// (Storage.CreateAuthRequest), carries the browser's binding hash.
	r = r.WithContext(withBrowser(r.Context(), p.sso.Bind(w, r)))
	authReq, err := op.ParseAuthorizeRequest(r, p.op.Decoder())
	if err != nil {
		// The library's text names its decoder ("schema: …"); the
		// browser gets a fixed one, the log the detail.
		p.storage.cfg.Logger.InfoContext(r.Context(), "authorization request not parsed", "error", err)
		op.AuthRequestError(w, r, nil, publicError{oidc.ErrInvalidRequest().WithDescription(
			"the authorization request could not be read: a parameter has the wrong form")}, p.op)
		return
	}
	if authReq.RequestParam != "" || authReq.ClientID == "" || authReq.RedirectURI == "" ||
		authReq.ResponseType != oidc.ResponseTypeCode {
		// Request objects, missing parameters and the response types
		// other than code: the library's answer, as before.
		op.Authorize(w, r, p.op)
		return
	}
	ctx := r.Context()
	client, err := p.storage.GetClientByClientID(ctx, authReq.ClientID)
	if errors.Is(err, storage.ErrUnavailable) {
		// Neither the client nor its redirect URIs are known: a page,
		// not a redirect (RFC 6749 §4.1.2.1).
		p.storage.outages.Note(ctx, p.storage.cfg.Logger, "authorize: load client", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The sign-in service is briefly unavailable. Please try again in a moment. / 服务暂时不可用，请稍后再试。", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		op.AuthRequestError(w, r, authReq, oidc.ErrInvalidRequestRedirectURI().WithDescription("unable to retrieve client by id").WithParent(err), p.op)
		return
	}
	hintSub, err := op.ValidateAuthRequestClient(ctx, authReq, client, p.op.IDTokenHintVerifier(ctx))
	if err != nil {
		op.AuthRequestError(w, r, authReq, err, p.op)
		return
	}
	rec, err := p.storage.newAuthRequest(ctx, authReq)
	if err != nil {
		op.AuthRequestError(w, r, authReq, p.storeFailure(ctx, "authorize: new request", err), p.op)
		return
	}
	bindRequest(ctx, &rec, hintSub)
	done, _, answered, err := p.sso.SingleSignOn(r, rec)
	if err != nil {
		noteFault(ctx, err)
		op.AuthRequestError(w, r, authReq, p.storeFailure(ctx, "authorize: single sign-on", err), p.op)
		return
	}
	if !answered {
		if err := p.storage.cfg.Store.CreateAuthRequest(ctx, rec); err != nil {
			noteFault(ctx, err)
			op.AuthRequestError(w, r, authReq, p.storeFailure(ctx, "authorize: save request", err), p.op)
			return
		}
		op.RedirectToLogin(rec.ID, client, w, r)
		return
	}
	a, err := p.storage.withSubject(ctx, &authRequest{r: done})
	if err != nil {
		op.AuthRequestError(w, r, authReq, p.storeFailure(ctx, "authorize: answer from the session", err), p.op)
		return
	}
	// The library makes the code and hands it to SaveAuthCode, which stores
	// the pending request with it (storage.go).
	op.AuthResponse(a, p.op, w, r.WithContext(withPending(ctx, &done)))
}

// pendingKey carries a completed request that is not stored yet.
type pendingKey struct{}

func withPending(ctx context.Context, r *storage.AuthRequest) context.Context {
	return context.WithValue(ctx, pendingKey{}, r)
}

// pendingOf is the request with id that waits in ctx to be stored with its
// code, or nil.
func pendingOf(ctx context.Context, id string) *storage.AuthRequest {
	r, _ := ctx.Value(pendingKey{}).(*storage.AuthRequest)
	if r == nil || r.ID != id {
		return nil
	}
	return r
}

// browserKey carries the binding hash of the browser at /authorize.
type browserKey struct{}

func withBrowser(ctx context.Context, hash []byte) context.Context {
	return context.WithValue(ctx, browserKey{}, hash)
}

// bindRequest stores on a new request the browser that sent it and the
// subject its id_token_hint named ("<client> <sub>", as the login's hint
// matcher reads it; OIDC Core §3.1.2.1).
func bindRequest(ctx context.Context, r *storage.AuthRequest, hintSub string) {
	r.BrowserHash, _ = ctx.Value(browserKey{}).([]byte)
	if hintSub != "" {
		r.IDTokenHint = r.ClientID + " " + hintSub
	}
}

// callback serves /authorize/callback, where the login sends the browser
// when a request is done. Only the browser that started the request gets
// its code, and a request gets one code, ever: a request that already has
// one is not answered again (the library would try to mint another and
// reset its expiry). The request read here is handed to the library's
// callback through the context (AuthRequestByID), so it is read once.
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) {
	if p.sso == nil {
		op.AuthorizeCallback(w, r, p.op)
		return
	}
	ctx := r.Context()
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 128 {
		p.sso.Expired(w, r)
		return
	}
	rec, err := p.storage.cfg.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		p.sso.Expired(w, r)
		return
	}
	if err != nil {
		noteFault(ctx, err)
		p.storage.cfg.Logger.ErrorContext(ctx, "authorize callback: load auth request", "error", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "The sign-in service is temporarily unavailable. Please try again in a moment.", http.StatusServiceUnavailable)
		return
	}
	if !p.sso.BoundTo(r, rec.BrowserHash) {
		p.sso.OtherBrowser(w, r)
		return
	}
	if len(rec.CodeHash) > 0 || rec.CodeUsedAt != nil {
		p.sso.Expired(w, r)
		return
	}
	if rec.Done && !p.sso.HoldsSession(r, rec.SessionID) {
		// The session the login completed in has ended since (a logout,
		// a reclaimed account): no code for it.
		p.sso.Expired(w, r)
		return
	}
	op.AuthorizeCallback(w, r.WithContext(withLoaded(ctx, &rec)), p.op)
}

// loadedKey carries the request the callback read.
type loadedKey struct{}

func withLoaded(ctx context.Context, r *storage.AuthRequest) context.Context {
	return context.WithValue(ctx, loadedKey{}, r)
}

func loadedOf(ctx context.Context, id string) *storage.AuthRequest {
	r, _ := ctx.Value(loadedKey{}).(*storage.AuthRequest)
	if r == nil || r.ID != id {
		return nil
	}
	return r
}

// storeFailure is the answer to the portal when the store failed at the
// authorization endpoint, where the client and its redirect URI are known:
// temporarily_unavailable (RFC 6749 §4.1.2.1) when the database is away or
// hung, server_error otherwise; the detail goes to the log only. An OAuth
// error (a validation of the request) is passed on as it is.
func (p *Provider) storeFailure(ctx context.Context, what string, err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) && !errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	if errors.Is(err, storage.ErrUnavailable) {
		p.storage.outages.Note(ctx, p.storage.cfg.Logger, what, err)
		return errTemporarilyUnavailable()
	}
	p.storage.cfg.Logger.ErrorContext(ctx, what, "error", err)
	return publicError{oidc.ErrServerError().WithDescription("the sign-in could not be completed; try again")}
}
