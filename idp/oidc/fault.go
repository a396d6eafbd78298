package oidc

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/cardsso/cardsso/storage"
)

// zitadel/oidc turns every error of AuthRequestByCode and of the refresh
// token lookup into invalid_grant, and every userinfo error into 403: a
// portal could not tell "the database is briefly unreachable, try again"
// from "this code is bad". The storage methods mark a fault in the request
// context when the store (not the input) failed, and this wrapper turns the
// library's 4xx answer into 503 server_error.

type faultKey struct{}

// noteFault records in ctx that the store failed; err that is ErrNotFound
// is not a fault.
func noteFault(ctx context.Context, err error) {
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return
	}
	if f, ok := ctx.Value(faultKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
}

// reportFaults wraps the token, userinfo and introspection endpoints.
func reportFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := new(atomic.Bool)
		r = r.WithContext(context.WithValue(r.Context(), faultKey{}, f))
		next.ServeHTTP(&faultWriter{ResponseWriter: w, fault: f}, r)
	})
}

type faultWriter struct {
	http.ResponseWriter
	fault    *atomic.Bool
	replaced bool
}

func (w *faultWriter) WriteHeader(code int) {
	if code >= 400 && code < 500 && w.fault.Load() {
		w.replaced = true
		h := w.ResponseWriter.Header()
		h.Del("Content-Length")
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", "1")
		w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.ResponseWriter.Write([]byte(`{"error":"server_error","error_description":"temporarily unavailable; try again"}`))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
