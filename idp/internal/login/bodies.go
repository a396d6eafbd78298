package login

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/cardsso/cardsso/connectors"
)

// Bounded inputs. Every page form is a few short fields, so a body is
// capped at MaxFormBytes and refused with 413 before it is read: at once
// when its Content-Length says it is larger, after MaxFormBytes+1 bytes
// when it comes chunked. Only ordinary forms
// (application/x-www-form-urlencoded) are taken: a multipart body is
// refused with 415, since parsing one spools large parts to temporary
// files. The face photo upload is the one multipart form, with its own cap
// (photoBodyBytes); postFacePhoto keeps every part in memory and drops it.

// MaxFormBytes caps the body of every request to the login, logout and
// account pages except the face photo upload.
const MaxFormBytes = 16 << 10

// photoBodyBytes caps the face photo upload: the photo and a few fields.
const photoBodyBytes = connectors.MaxPhotoBytes + 64<<10

// PhotoBodyBytes is photoBodyBytes for the server's outer cap.
const PhotoBodyBytes = photoBodyBytes

// photoPath is the face photo upload, the one multipart form.
const photoPath = "/login/face/photo"

// PhotoPath is photoPath, the one route that takes a multipart body.
const PhotoPath = photoPath

// BoundBodies caps the request bodies of the pages (mount it in front of
// the mux Register filled) and parses ordinary forms itself, so that a
// handler never meets a body over the cap: a larger body is answered 413,
// a multipart one (but the face photo) 415, an unreadable one 400, each
// with a page saying what to do.
func (h *Handler) BoundBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		photo := r.Method == http.MethodPost && r.URL.Path == photoPath
		limit := int64(MaxFormBytes)
		if photo {
			limit = photoBodyBytes
		}
		if r.ContentLength > limit {
			h.refuseBody(w, r, http.StatusRequestEntityTooLarge, "too_large", "err.form.size")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if photo {
			// Only a multipart upload is read there: anything else is
			// refused before a byte of it is (ParseMultipartForm would read
			// a url-encoded body whole, up to the photo's cap).
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "multipart/form-data" {
				h.refuseBody(w, r, http.StatusUnsupportedMediaType, "unsupported_type", "err.form.type")
				return
			}
			next.ServeHTTP(w, r) // postFacePhoto parses the multipart form
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
				if r.ContentLength != 0 {
					h.refuseBody(w, r, http.StatusUnsupportedMediaType, "unsupported_type", "err.form.type")
					return
				}
			}
		}
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.refuseBody(w, r, http.StatusRequestEntityTooLarge, "too_large", "err.form.size")
				return
			}
			h.refuseBody(w, r, http.StatusBadRequest, "unreadable", "err.form.invalid")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseBody answers a body the pages do not take, without reading any
// more of it, and closes the connection (the rest is never read).
func (h *Handler) refuseBody(w http.ResponseWriter, r *http.Request, status int, outcome, key string) {
	r.Body = http.NoBody
	r.Form, r.PostForm = url.Values{}, url.Values{}
	w.Header().Set("Connection", "close")
	h.cfg.Observer.Login("form", "body_"+outcome)
	h.message(w, r, status, "err.title", key, "")
}
