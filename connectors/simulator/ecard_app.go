package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// MaxDeviceName bounds BindRequest.DeviceName, in characters.
const MaxDeviceName = 64

// AppHandler returns the e-card app API of connectors/ecardapp, at its paths
// (ecardapp.PathBindings, ecardapp.PathTickets/{id}[/confirm|/refuse]): the
// caller mounts it below Config.AppBaseURL's path with http.StripPrefix.
//
//	POST /v1/bindings             BindRequest → 201 BindResponse; 400, 403 not_matched
//	GET  /v1/tickets/{id}         → 200 TicketInfo; 410 ticket_gone
//	POST /v1/tickets/{id}/confirm confirmation JWS → 204; 401 bad_signature,
//	POST /v1/tickets/{id}/refuse    409 replayed, 409 ticket_used, 410 ticket_gone
//
// Bodies are limited to ecardapp.MaxBody (413 beyond); every refusal is an
// ecardapp.Error in JSON, and none carries internal detail or a full
// number. A confirmation for another ticket is 401 bad_signature: it is not
// a valid confirmation of this one. The simulator logs nothing.
func (s *Simulator) AppHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+ecardapp.PathBindings, s.serveBind)
	mux.HandleFunc("GET "+ecardapp.PathTickets+"/{id}", s.serveTicket)
	mux.HandleFunc("POST "+ecardapp.PathTickets+"/{id}/confirm", func(w http.ResponseWriter, r *http.Request) { s.serveAnswer(w, r, true) })
	mux.HandleFunc("POST "+ecardapp.PathTickets+"/{id}/refuse", func(w http.ResponseWriter, r *http.Request) { s.serveAnswer(w, r, false) })
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		appError(w, http.StatusNotFound, ecardapp.ErrBadRequest, "no such endpoint of the e-card app API")
	})
	return mux
}

// appError answers an ecardapp.Error.
func appError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ecardapp.Error{Code: code, Message: message})
}

func appJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads r's body, at most ecardapp.MaxBody bytes; false when it
// has answered the refusal.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ecardapp.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		appError(w, http.StatusRequestEntityTooLarge, ecardapp.ErrBadRequest, "the body is larger than 16 KiB")
		return nil, false
	case err != nil:
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "the body could not be read")
		return nil, false
	}
	return b, true
}

func (s *Simulator) serveBind(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req ecardapp.BindRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "the body is not a bind request in JSON")
		return
	}
	number, err := citizenid.Parse(req.Number)
	if err != nil {
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "number: not a valid social security number")
		return
	}
	if !validDeviceName(req.DeviceName) {
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "device_name: 1 to 64 printable characters")
		return
	}
	key, err := ecardapp.ParsePublicJWK(req.PublicKey)
	if err != nil {
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "public_key: want a P-256 public JWK (kty EC, crv P-256, x, y, no d)")
		return
	}
	name, err := s.CheckRealName(r.Context(), req.Name, number)
	if err != nil {
		appError(w, http.StatusServiceUnavailable, ecardapp.ErrUnavailable, "the real-name check could not be made")
		return
	}
	card, err := s.CheckCard(r.Context(), req.Name, number, req.CardNumber)
	if err != nil {
		appError(w, http.StatusServiceUnavailable, ecardapp.ErrUnavailable, "the real-card check could not be made")
		return
	}
	switch {
	case !name.Matched || !card.Matched:
		appError(w, http.StatusForbidden, ecardapp.ErrNotMatched, "the name, number and card number do not match a card holder")
		return
	case card.Card.Status != connectors.CardNormal:
		appError(w, http.StatusForbidden, ecardapp.ErrNotMatched, "the card is not in normal use: "+string(card.Card.Status))
		return
	}
	b, err := s.addBinding(number, req.DeviceName, key)
	if err != nil {
		appError(w, http.StatusServiceUnavailable, ecardapp.ErrUnavailable, "no more bindings can be made now")
		return
	}
	appJSON(w, http.StatusCreated, ecardapp.BindResponse{BindingID: b.ID, BoundAt: b.BoundAt.UTC()})
}

// validDeviceName: 1 to MaxDeviceName characters of valid UTF-8, none a
// control character.
func validDeviceName(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= 1 && n <= MaxDeviceName && utf8.ValidString(s) && strings.TrimSpace(s) != "" &&
		strings.IndexFunc(s, unicode.IsControl) < 0
}

func (s *Simulator) serveTicket(w http.ResponseWriter, r *http.Request) {
	info, ok := s.ticketInfo(r.PathValue("id"))
	if !ok {
		appError(w, http.StatusGone, ecardapp.ErrTicketGone, "the ticket is unknown or expired")
		return
	}
	appJSON(w, http.StatusOK, info)
}

func (s *Simulator) serveAnswer(w http.ResponseWriter, r *http.Request, confirm bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != ecardapp.ContentTypeJOSE {
		appError(w, http.StatusBadRequest, ecardapp.ErrBadRequest, "the body must be a compact JWS (Content-Type application/jose)")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	err := s.answerTicket(r.PathValue("id"), strings.TrimSpace(string(body)), confirm)
	switch {
	case err == nil:
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ecardapp.ErrJWS):
		appError(w, http.StatusUnauthorized, ecardapp.ErrBadSignature, "not a valid confirmation of this ticket by a live binding")
	case errors.Is(err, errReplayed):
		appError(w, http.StatusConflict, ecardapp.ErrReplayed, "this confirmation was sent before")
	case errors.Is(err, errUsed):
		appError(w, http.StatusConflict, ecardapp.ErrTicketUsed, "the ticket was confirmed or refused before")
	case errors.Is(err, errGone):
		appError(w, http.StatusGone, ecardapp.ErrTicketGone, "the ticket is unknown or expired")
	default:
		appError(w, http.StatusServiceUnavailable, ecardapp.ErrUnavailable, "the platform cannot take confirmations now")
	}
}
