package oidc

import (
	"context"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/storage"
)

// The authorization endpoint. zitadel/oidc's op.Authorize stores every
// request and sends the browser to the login pages, which then send it to
// the callback for its code: four requests for a citizen who is already
// signed in. Here a request that the browser's live SSO session answers as
// it is (the login decides: idp/login.Handler.SingleSignOn) is answered at
// once with its code, and stored once, completed and with the code's hash;
// every other request goes the library's way. The checks are the library's
// own (ParseAuthorizeRequest, ValidateAuthRequestClient) followed by ours
// (Storage.newAuthRequest), in the order op.Authorize makes them.

// SessionAnswerer decides whether the browser's live SSO session answers a
// new authorization request without any page (idp/login.Handler implements
// it). When it does, it has recorded the client in the session and returns
// the request completed (Done, AccountID, SessionID, AuthTime, ACR, AMR)
// with the session; when not, it has written nothing.
type SessionAnswerer interface {
	SingleSignOn(r *http.Request, req storage.AuthRequest) (storage.AuthRequest, storage.Session, bool, error)
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
	authReq, err := op.ParseAuthorizeRequest(r, p.op.Decoder())
	if err != nil {
		op.AuthRequestError(w, r, nil, err, p.op)
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
	if err != nil {
		op.AuthRequestError(w, r, authReq, oidc.ErrInvalidRequestRedirectURI().WithDescription("unable to retrieve client by id").WithParent(err), p.op)
		return
	}
	if _, err := op.ValidateAuthRequestClient(ctx, authReq, client, p.op.IDTokenHintVerifier(ctx)); err != nil {
		op.AuthRequestError(w, r, authReq, err, p.op)
		return
	}
	rec, err := p.storage.newAuthRequest(ctx, authReq)
	if err != nil {
		op.AuthRequestError(w, r, authReq, oidc.DefaultToServerError(err, "unable to save auth request"), p.op)
		return
	}
	done, _, answered, err := p.sso.SingleSignOn(r, rec)
	if err != nil {
		noteFault(ctx, err)
		p.storage.cfg.Logger.ErrorContext(ctx, "single sign-on", "client", rec.ClientID, "error", err)
		op.AuthRequestError(w, r, authReq, oidc.ErrServerError().WithDescription("the sign-in could not be completed; try again"), p.op)
		return
	}
	if !answered {
		if err := p.storage.cfg.Store.CreateAuthRequest(ctx, rec); err != nil {
			noteFault(ctx, err)
			op.AuthRequestError(w, r, authReq, oidc.DefaultToServerError(err, "unable to save auth request"), p.op)
			return
		}
		op.RedirectToLogin(rec.ID, client, w, r)
		return
	}
	a, err := p.storage.withSubject(ctx, &authRequest{r: done})
	if err != nil {
		op.AuthRequestError(w, r, authReq, oidc.DefaultToServerError(err, "unable to answer the auth request"), p.op)
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
