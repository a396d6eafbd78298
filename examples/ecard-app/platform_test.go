package main

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// testPlatform serves the app API (connectors/ecardapp) over one holder,
// with the checks a real platform makes: the real-name and real-card
// match at binding; for a confirmation, a JWS verified with
// ecardapp.Verify against the binding its kid names (revoked: refused),
// the ticket claim naming the ticket posted to, a jti not seen before,
// and a pending, unexpired ticket.
type testPlatform struct {
	t    *testing.T
	srv  *httptest.Server
	base string // the app API base URL: srv.URL + "/app"

	mu        sync.Mutex
	requests  int
	bindings  map[string]*ecdsa.PublicKey
	revoked   map[string]bool
	tickets   map[string]*testTicket
	seen      map[string]bool // jtis
	lastClaim ecardapp.Confirmation
}

type testTicket struct {
	portal  string
	state   string
	expires time.Time
	binding string // who confirmed or refused it
}

// The one holder of the test platform.
const (
	holderName   = "张三"
	holderNumber = "110105199003070017"
	holderCard   = "A00000001"
)

func newTestPlatform(t *testing.T) *testPlatform {
	p := &testPlatform{
		t: t, bindings: map[string]*ecdsa.PublicKey{}, revoked: map[string]bool{},
		tickets: map[string]*testTicket{}, seen: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/v1/bindings", p.bind)
	mux.HandleFunc("GET /app/v1/tickets/{id}", p.ticket)
	mux.HandleFunc("POST /app/v1/tickets/{id}/{verb}", p.answer)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests++
		p.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	p.base = p.srv.URL + "/app"
	return p
}

func (p *testPlatform) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ecardapp.Error{Code: code, Message: msg})
}

func (p *testPlatform) bind(w http.ResponseWriter, r *http.Request) {
	var req ecardapp.BindRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, ecardapp.MaxBody)).Decode(&req); err != nil {
		p.fail(w, 400, ecardapp.ErrBadRequest, err.Error())
		return
	}
	if req.Name != holderName || req.Number != holderNumber || req.CardNumber != holderCard {
		p.fail(w, 403, ecardapp.ErrNotMatched, "the real-name check failed\nfor this holder")
		return
	}
	if req.DeviceName == "" || len([]rune(req.DeviceName)) > 64 {
		p.fail(w, 400, ecardapp.ErrBadRequest, "device_name")
		return
	}
	key, err := ecardapp.ParsePublicJWK(req.PublicKey)
	if err != nil {
		p.fail(w, 400, ecardapp.ErrBadRequest, err.Error())
		return
	}
	p.mu.Lock()
	id := fmt.Sprintf("binding-%d", len(p.bindings)+1)
	p.bindings[id] = key
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(ecardapp.BindResponse{BindingID: id, BoundAt: time.Now()})
}

// newTicket makes a pending ticket and returns its URL, the QR payload.
func (p *testPlatform) newTicket(portal string) (id, url string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id = fmt.Sprintf("ticket-%016d", len(p.tickets)+1)
	p.tickets[id] = &testTicket{portal: portal, state: "pending", expires: time.Now().Add(2 * time.Minute)}
	return id, p.base + ecardapp.PathTickets + "/" + id
}

func (p *testPlatform) ticketState(id string) (state, binding string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.tickets[id]
	return t.state, t.binding
}

func (p *testPlatform) requestCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

func (p *testPlatform) ticket(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := r.PathValue("id")
	if id == "huge" { // an answer over the app's bound
		w.Write([]byte(`{"ticket": "huge", "portal": "` + strings.Repeat("x", 2<<20) + `"}`))
		return
	}
	t, ok := p.tickets[id]
	if !ok {
		p.fail(w, 410, ecardapp.ErrTicketGone, "unknown ticket")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ecardapp.TicketInfo{Ticket: id, Portal: t.portal, State: t.state, ExpiresAt: t.expires})
}

func (p *testPlatform) answer(w http.ResponseWriter, r *http.Request) {
	verb := r.PathValue("verb")
	if verb != "confirm" && verb != "refuse" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Content-Type") != ecardapp.ContentTypeJOSE {
		p.fail(w, 400, ecardapp.ErrBadRequest, "want "+ecardapp.ContentTypeJOSE)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, ecardapp.MaxBody))
	if err != nil {
		p.fail(w, 400, ecardapp.ErrBadRequest, err.Error())
		return
	}
	status, code, msg := p.check(r.PathValue("id"), verb, string(body))
	if status != 0 {
		p.fail(w, status, code, msg)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *testPlatform) check(id, verb, jws string) (status int, code, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kid, err := ecardapp.KeyID(jws)
	if err != nil {
		return 401, ecardapp.ErrBadSignature, err.Error()
	}
	key, ok := p.bindings[kid]
	if !ok || p.revoked[kid] {
		return 401, ecardapp.ErrBadSignature, "no live binding " + kid
	}
	var c ecardapp.Confirmation
	jti, _, err := ecardapp.Verify(jws, key, time.Now(), &c)
	if err != nil {
		return 401, ecardapp.ErrBadSignature, err.Error()
	}
	if c.Ticket != id {
		return 401, ecardapp.ErrBadSignature, "the confirmation is for another ticket"
	}
	if p.seen[jti] {
		return 409, ecardapp.ErrReplayed, "jti seen before"
	}
	p.seen[jti] = true
	t, ok := p.tickets[id]
	if !ok || !time.Now().Before(t.expires) {
		return 410, ecardapp.ErrTicketGone, "unknown or expired ticket"
	}
	if t.state != "pending" {
		return 409, ecardapp.ErrTicketUsed, "the ticket was answered before"
	}
	t.state, t.binding = map[string]string{"confirm": "confirmed", "refuse": "refused"}[verb], kid
	p.lastClaim = c
	return 0, "", ""
}

// verifyCounter checks a counter code as a platform does: a JWS of a live
// binding, use counter, a jti not seen before. It returns the binding.
func (p *testPlatform) verifyCounter(code string) (string, ecardapp.CounterCode, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c ecardapp.CounterCode
	kid, err := ecardapp.KeyID(code)
	if err != nil {
		return "", c, err
	}
	key, ok := p.bindings[kid]
	if !ok || p.revoked[kid] {
		return "", c, errors.New("no live binding " + kid)
	}
	jti, _, err := ecardapp.Verify(code, key, time.Now(), &c)
	if err != nil {
		return "", c, err
	}
	if c.Use != ecardapp.UseCounter {
		return "", c, fmt.Errorf("use %q", c.Use)
	}
	if p.seen[jti] {
		return "", c, errors.New("replayed")
	}
	p.seen[jti] = true
	return kid, c, nil
}
