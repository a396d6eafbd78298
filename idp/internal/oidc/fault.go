package oidc

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/cardsso/cardsso/storage"
)

// zitadel/oidc turns every error of AuthRequestByCode and of the refresh
// token lookup into invalid_grant, and every userinfo error into 403: a
// portal could not tell "the database is briefly unreachable, try again"
// from "this code is bad". The storage methods mark a fault in the request
// context when the store (not the input) failed, and this wrapper turns the
// library's 4xx answer into 503 server_error.

type faultKey struct{}

// requestState is what the storage methods called for one request at the
// token, userinfo or introspection endpoint note for each other.
type requestState struct {
	// fault: the store failed.
	fault atomic.Bool
	// kept is the auth request whose code this token request redeemed and
	// kept for replay detection in the same transaction as its tokens, so
	// the library's DeleteAuthRequest that follows has nothing to do.
	kept atomic.Pointer[string]
}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(faultKey{}).(*requestState)
	return st
}

// noteFault records in ctx that the store failed; err that is ErrNotFound
// is not a fault.
func noteFault(ctx context.Context, err error) {
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return
	}
	if st := stateOf(ctx); st != nil {
		st.fault.Store(true)
	}
}

// noteKept records that the auth request id was redeemed and kept.
func noteKept(ctx context.Context, id string) {
	if st := stateOf(ctx); st != nil {
		st.kept.Store(&id)
	}
}

// wasKept reports whether noteKept recorded id in this request.
func wasKept(ctx context.Context, id string) bool {
	st := stateOf(ctx)
	if st == nil {
		return false
	}
	k := st.kept.Load()
	return k != nil && *k == id
}

// reportFaults wraps the token, userinfo and introspection endpoints.
func reportFaults(next http.Handler) http.Handler { return faults(next, false) }

// reportAllFaults is reportFaults for the revocation endpoint, where the
// library answers 200 for a token it could not find (RFC 7009 §2.2): when
// the store failed, any answer is replaced, so that a portal is not told a
// token is revoked that is still live.
func reportAllFaults(next http.Handler) http.Handler { return faults(next, true) }

func faults(next http.Handler, always bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := new(requestState)
		r = r.WithContext(context.WithValue(r.Context(), faultKey{}, st))
		next.ServeHTTP(&faultWriter{ResponseWriter: w, fault: &st.fault, always: always}, r)
	})
}

type faultWriter struct {
	http.ResponseWriter
	fault    *atomic.Bool
	always   bool // replace a success too
	wrote    bool
	replaced bool
}

func (w *faultWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if (code >= 400 || w.always) && w.fault.Load() {
		w.replaced = true
		w.ResponseWriter.Header().Del("Content-Length")
		writeUnavailable(w.ResponseWriter)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Fixed answers for errors whose text would otherwise reach a portal or a
// browser: the library writes err.Error() of some storage errors as they
// are (op.AuthorizeCallback, op.AuthRequestError without a request), and
// error descriptions are for the relying party's developer, never for
// internals such as the store's messages.
// New values each time: the library sets fields (state) on the errors it
// is given.
func errAuthRequestUnknown() error {
	return publicError{oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request")}
}

// errOfStore is the fixed answer for a store failure: temporarily
// unavailable when the database is away or hung (storage.ErrUnavailable),
// a plain server error otherwise; never the store's text.
func errOfStore(err error) error {
	if errors.Is(err, storage.ErrUnavailable) {
		return errTemporarilyUnavailable()
	}
	return publicError{oidc.ErrServerError().WithDescription("the request could not be completed; try again")}
}

// errTemporarilyUnavailable is RFC 6749 §4.1.2.1's temporarily_unavailable
// (the library has no constructor for it).
func errTemporarilyUnavailable() error {
	return publicError{&oidc.Error{ErrorType: "temporarily_unavailable", Description: "the sign-in service is briefly unavailable; try again in a moment"}}
}

// publicError is an OAuth error whose Error() is its description only:
// where the library writes err.Error() to the browser (the callback, an
// authorization error without a request), the page says the description,
// not the library's "ErrorType=… Description=…". errors.As still finds the
// *oidc.Error, so the library answers and logs it by its type.
type publicError struct{ e *oidc.Error }

func (p publicError) Error() string { return p.e.Description }
func (p publicError) Unwrap() error { return p.e }

var unavailableBody = []byte(`{"error":"temporarily_unavailable","error_description":"the service is briefly unavailable; try again in a moment"}`)

// writeUnavailable answers 503 temporarily_unavailable with Retry-After:
// the store failed, try again (RFC 6749 defines the code for the
// authorization endpoint; the token, userinfo and introspection endpoints
// use it with 503 so that a portal can tell "try again" from "bad grant").
func writeUnavailable(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(unavailableBody)
}
