package simulator

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// DefaultAppBaseURL is the app API's base URL when Config.AppBaseURL is
// empty: the default issuer, http://localhost:8080, with /ecard-sim.
const DefaultAppBaseURL = "http://localhost:8080/ecard-sim"

// Bounds of the e-card state, so that memory stays bounded whatever the
// callers do. Beyond them, creating a ticket or a binding fails with an
// error wrapping connectors.ErrUnavailable (the app API answers 503).
const (
	MaxLiveTickets = 100_000
	MaxBindings    = 100_000
	MaxSeenJTIs    = 1_000_000
)

// ticketRetention is how long a ticket is kept after its expiry, so that a
// confirmation just before it can still be collected.
const ticketRetention = connectors.TicketLifetime

// pruneEvery bounds how often the state is swept for expired entries.
const pruneEvery = 10 * time.Second

var (
	_ connectors.LoginTickets    = (*Simulator)(nil)
	_ connectors.CounterVerifier = (*Simulator)(nil)
	_ connectors.LicenceFetcher  = (*Simulator)(nil)
	_ connectors.BindingAdmin    = (*Simulator)(nil)
)

// ecardState is the simulator's mutable e-card state.
type ecardState struct {
	mu        sync.Mutex
	bindings  map[string]*binding
	seq       int64 // orders bindings: newest first
	tickets   map[string]*ticket
	jtis      map[string]time.Time // kid + "\x00" + jti → until when it is remembered
	lastPrune time.Time
}

type binding struct {
	connectors.Binding
	key *ecdsa.PublicKey
	seq int64
}

type ticket struct {
	portal, clientID string
	expiresAt        time.Time
	state            connectors.TicketState // pending, confirmed or refused
	number           citizenid.Number
	bindingID        string
	confirmedAt      time.Time
}

func newECardState() *ecardState {
	return &ecardState{
		bindings: make(map[string]*binding),
		tickets:  make(map[string]*ticket),
		jtis:     make(map[string]time.Time),
	}
}

// randomID returns 128 random bits, base64url without padding (22 characters).
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// prune drops expired tickets and jtis; at most every pruneEvery unless
// force. The caller holds e.mu.
func (e *ecardState) prune(now time.Time, force bool) {
	if !force && now.Sub(e.lastPrune) < pruneEvery {
		return
	}
	e.lastPrune = now
	for id, t := range e.tickets {
		if now.After(t.expiresAt.Add(ticketRetention)) {
			delete(e.tickets, id)
		}
	}
	for k, until := range e.jtis {
		if now.After(until) {
			delete(e.jtis, k)
		}
	}
}

// CreateLoginTicket implements connectors.LoginTickets: a pending ticket of
// connectors.TicketLifetime whose payload is <AppBaseURL>/v1/tickets/<id>,
// the id 128 random bits in base64url. req.Portal must be 1 to
// connectors.MaxPortalName bytes. Beyond MaxLiveTickets it fails with an
// error wrapping connectors.ErrUnavailable.
func (s *Simulator) CreateLoginTicket(ctx context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	if err := ctx.Err(); err != nil {
		return connectors.LoginTicket{}, fmt.Errorf("simulator: login ticket: %w", err)
	}
	if len(req.Portal) == 0 || len(req.Portal) > connectors.MaxPortalName {
		return connectors.LoginTicket{}, fmt.Errorf("simulator: login ticket: portal name of %d bytes (1 to %d)", len(req.Portal), connectors.MaxPortalName)
	}
	now := s.now()
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prune(now, false)
	if len(e.tickets) >= MaxLiveTickets {
		e.prune(now, true)
		if len(e.tickets) >= MaxLiveTickets {
			return connectors.LoginTicket{}, fmt.Errorf("simulator: login ticket: %d live tickets: %w", len(e.tickets), connectors.ErrUnavailable)
		}
	}
	id := randomID()
	t := &ticket{portal: req.Portal, clientID: req.ClientID, expiresAt: now.Add(connectors.TicketLifetime), state: connectors.TicketPending}
	e.tickets[id] = t
	return connectors.LoginTicket{ID: id, ExpiresAt: t.expiresAt, Payload: s.appBase + ecardapp.PathTickets + "/" + id}, nil
}

// LoginTicketStatus implements connectors.LoginTickets. A confirmed or
// refused ticket answers so on every call until it is forgotten, a
// TicketLifetime after its expiry; a pending ticket past its expiry, and an
// unknown one, is TicketExpired.
func (s *Simulator) LoginTicketStatus(ctx context.Context, id string) (connectors.TicketStatus, error) {
	if err := ctx.Err(); err != nil {
		return connectors.TicketStatus{}, fmt.Errorf("simulator: login ticket status: %w", err)
	}
	now := s.now()
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tickets[id]
	switch {
	case !ok, t.state == connectors.TicketPending && !now.Before(t.expiresAt):
		return connectors.TicketStatus{State: connectors.TicketExpired}, nil
	case t.state == connectors.TicketConfirmed:
		return connectors.TicketStatus{State: t.state, Number: t.number, BindingID: t.bindingID, ConfirmedAt: t.confirmedAt}, nil
	default:
		return connectors.TicketStatus{State: t.state}, nil
	}
}

// errReplayed, errGone and errUsed are answerTicket's refusals other than
// a bad JWS.
var (
	errReplayed = errors.New("simulator: jti seen before")
	errGone     = errors.New("simulator: unknown or expired ticket")
	errUsed     = errors.New("simulator: ticket confirmed or refused before")
)

// verifyJWS checks compact against the live binding its kid names and
// decodes its claims: it returns the binding id, the jti and the exp.
// Errors wrap ecardapp.ErrJWS (ecardapp.ErrJWSExpired for an expired one).
func (s *Simulator) verifyJWS(compact string, now time.Time, claims any) (kid, jti string, exp time.Time, err error) {
	kid, err = ecardapp.KeyID(compact)
	if err != nil {
		return "", "", time.Time{}, err
	}
	e := s.ecard
	e.mu.Lock()
	b, ok := e.bindings[kid]
	live := ok && b.RevokedAt.IsZero()
	var key *ecdsa.PublicKey
	if live {
		key = b.key
	}
	e.mu.Unlock()
	if !live {
		return "", "", time.Time{}, fmt.Errorf("%w: no live binding of that kid", ecardapp.ErrJWS)
	}
	jti, exp, err = ecardapp.Verify(compact, key, now, claims) // outside the lock: ECDSA is slow
	return kid, jti, exp, err
}

// use records the jti of a verified JWS of binding kid, after checking that
// the binding is still live (it may have been revoked meanwhile) and the jti
// unseen. The caller holds e.mu.
func (e *ecardState) use(kid, jti string, exp, now time.Time) (*binding, error) {
	b, ok := e.bindings[kid]
	if !ok || !b.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: the binding was revoked", ecardapp.ErrJWS)
	}
	k := kid + "\x00" + jti
	if _, seen := e.jtis[k]; seen {
		return nil, errReplayed
	}
	e.prune(now, false)
	if len(e.jtis) >= MaxSeenJTIs {
		e.prune(now, true)
		if len(e.jtis) >= MaxSeenJTIs {
			return nil, fmt.Errorf("simulator: %d jtis remembered: %w", len(e.jtis), connectors.ErrUnavailable)
		}
	}
	e.jtis[k] = exp.Add(ecardapp.Skew)
	return b, nil
}

// answerTicket confirms (or refuses) ticket id with compact, a confirmation
// JWS. Errors: one wrapping ecardapp.ErrJWS (a bad JWS, a revoked binding,
// a confirmation for another ticket), errReplayed, errGone, errUsed, or one
// wrapping connectors.ErrUnavailable.
func (s *Simulator) answerTicket(id, compact string, confirm bool) error {
	now := s.now()
	var c ecardapp.Confirmation
	kid, jti, exp, err := s.verifyJWS(compact, now, &c)
	if err != nil {
		return err
	}
	if c.Ticket != id {
		return fmt.Errorf("%w: the confirmation is for another ticket", ecardapp.ErrJWS)
	}
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := e.use(kid, jti, exp, now)
	if err != nil {
		return err
	}
	t, ok := e.tickets[id]
	switch {
	case !ok || !now.Before(t.expiresAt):
		return errGone
	case t.state != connectors.TicketPending:
		return errUsed
	}
	b.LastUsedAt = now
	if !confirm {
		t.state = connectors.TicketRefused
		return nil
	}
	t.state, t.number, t.bindingID, t.confirmedAt = connectors.TicketConfirmed, b.Number, b.ID, now
	return nil
}

// ticketInfo returns what the app shows of ticket id; false when it is
// unknown or expired.
func (s *Simulator) ticketInfo(id string) (ecardapp.TicketInfo, bool) {
	now := s.now()
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tickets[id]
	if !ok || !now.Before(t.expiresAt) {
		return ecardapp.TicketInfo{}, false
	}
	return ecardapp.TicketInfo{Ticket: id, Portal: t.portal, State: string(t.state), ExpiresAt: t.expiresAt}, true
}

// VerifyCounterCode implements connectors.CounterVerifier: code must be an
// ecardapp.CounterCode JWS (use "counter") of a live binding, verified
// with ecardapp.Verify, whose jti was not seen before; its jti is then
// remembered until exp + ecardapp.Skew, and the binding's LastUsedAt set.
// Not a JWS, another key, another use and a revoked binding are
// CounterInvalid; past its exp, CounterExpired; seen before, CounterUsed.
func (s *Simulator) VerifyCounterCode(ctx context.Context, code string) (connectors.CounterResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.CounterResult{}, fmt.Errorf("simulator: counter code: %w", err)
	}
	invalid := connectors.CounterResult{Outcome: connectors.CounterInvalid}
	if len(code) > connectors.MaxCounterCode {
		return invalid, nil
	}
	now := s.now()
	var c ecardapp.CounterCode
	kid, jti, exp, err := s.verifyJWS(code, now, &c)
	switch {
	case errors.Is(err, ecardapp.ErrJWSExpired):
		return connectors.CounterResult{Outcome: connectors.CounterExpired}, nil
	case err != nil, c.Use != ecardapp.UseCounter:
		return invalid, nil
	}
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := e.use(kid, jti, exp, now)
	switch {
	case errors.Is(err, errReplayed):
		return connectors.CounterResult{Outcome: connectors.CounterUsed}, nil
	case errors.Is(err, connectors.ErrUnavailable):
		return connectors.CounterResult{}, err
	case err != nil:
		return invalid, nil
	}
	h, ok := s.holder(b.Number)
	if !ok { // cannot happen: bindings are made for fixture holders
		return invalid, nil
	}
	b.LastUsedAt = now
	return connectors.CounterResult{Outcome: connectors.CounterValid, Number: h.Number, Name: h.Name, BindingID: b.ID}, nil
}

// addBinding binds key to number's holder.
func (s *Simulator) addBinding(number citizenid.Number, device string, key *ecdsa.PublicKey) (connectors.Binding, error) {
	now := s.now()
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.bindings) >= MaxBindings {
		return connectors.Binding{}, fmt.Errorf("simulator: %d bindings: %w", len(e.bindings), connectors.ErrUnavailable)
	}
	e.seq++
	b := &binding{Binding: connectors.Binding{ID: randomID(), Number: number, DeviceName: device, BoundAt: now}, key: key, seq: e.seq}
	e.bindings[b.ID] = b
	return b.Binding, nil
}

// Bindings implements connectors.BindingAdmin: those of *number, or all of
// them when number is nil, newest first.
func (s *Simulator) Bindings(ctx context.Context, number *citizenid.Number) ([]connectors.Binding, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("simulator: bindings: %w", err)
	}
	e := s.ecard
	e.mu.Lock()
	var bs []*binding
	for _, b := range e.bindings {
		if number == nil || b.Number == *number {
			bs = append(bs, b)
		}
	}
	slices.SortFunc(bs, func(a, b *binding) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]connectors.Binding, len(bs))
	for i, b := range bs {
		out[i] = b.Binding
	}
	e.mu.Unlock()
	return out, nil
}

// RevokeBinding implements connectors.BindingAdmin.
func (s *Simulator) RevokeBinding(ctx context.Context, id string, owner *citizenid.Number) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simulator: revoke binding: %w", err)
	}
	now := s.now()
	e := s.ecard
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.bindings[id]
	if !ok || (owner != nil && b.Number != *owner) {
		return connectors.ErrBindingNotFound
	}
	if b.RevokedAt.IsZero() {
		b.RevokedAt = now
	}
	return nil
}
