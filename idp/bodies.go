package idp

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Every request body is capped before anything reads it (issue #18 §1,
// docs/security.md §6): a Content-Length over the cap is answered 413 at
// once, and a body without one is read up to the cap before the handler
// runs (413 beyond it). Only the face photo route takes a multipart
// body; elsewhere one is refused with 415 before it is parsed, so nothing
// is ever spilled to temporary files. The pages have a tighter cap of their
// own (login.BoundBodies, 16 KiB; the face photo's own cap).

// maxRequestBody caps the protocol endpoints' bodies: the largest is a
// SAML message in the POST binding (idp/internal/saml guards it at about 136 KiB).
const maxRequestBody = 256 << 10

func capBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pagePath(r.URL.Path) {
			next.ServeHTTP(w, r) // login.BoundBodies answers with a page
			return
		}
		limit := int64(maxRequestBody)
		if r.ContentLength > limit {
			refuseBody(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && strings.HasPrefix(mt, "multipart/") {
			refuseBody(w, http.StatusUnsupportedMediaType, "multipart bodies are not accepted here")
			return
		}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength < 0 {
			// No length given: read up to the cap here, so that every
			// endpoint answers an oversized body the same 413 (the
			// libraries' handlers would each answer their own way: one
			// said 500).
			// One buffer of the cap, not ReadAll's doublings (which made
			// 24 parallel oversized posts cost 25 MB of heap).
			buf := make([]byte, limit+1)
			nr, err := io.ReadFull(r.Body, buf)
			switch {
			case err == nil: // limit+1 bytes: over the cap
				err = &http.MaxBytesError{Limit: limit}
			case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
				err = nil
			}
			b := buf[:nr]
			if err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					refuseBody(w, http.StatusRequestEntityTooLarge, "request body too large")
				} else {
					refuseBody(w, http.StatusBadRequest, "request body could not be read")
				}
				return
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		} else if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// pagePath reports whether path is one of the pages, which
// login.BoundBodies caps (tighter, and with a page in the citizen's
// language) where they are mounted.
func pagePath(path string) bool {
	for _, p := range pagePrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

var pagePrefixes = []string{"/login", "/logout", "/account"}

// refuseBody answers without reading the body and closes the connection.
func refuseBody(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}

// routes records the patterns registered on a mux, so that the server can
// say which routes it serves (Server.Routes; the bodies test posts to each
// and a route added later cannot be forgotten).
type routes struct {
	mux      *http.ServeMux
	patterns *[]string
}

func (r routes) Handle(pattern string, h http.Handler) {
	*r.patterns = append(*r.patterns, pattern)
	r.mux.Handle(pattern, h)
}

func (r routes) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	*r.patterns = append(*r.patterns, pattern)
	r.mux.HandleFunc(pattern, h)
}

// Routes are the routes the node serves, as the patterns they were
// registered with ("POST /login/password", "/saml/sso", …), and the
// OpenID Provider's endpoints that take a body.
func (s *Server) Routes() []string {
	out := append(slices.Clone(s.patterns), s.provider.Routes()...)
	slices.Sort(out)
	return slices.Compact(out)
}
