package cardplatform_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
	"github.com/cardsso/cardsso/internal/testlog"
)

const (
	testTicketID = "tkt_0123456789abcdef"
	testBinding  = "bnd_zhang_1"
)

// fakeECard implements the four e-card interfaces of connectors from
// fixed answers, and records what it was asked.
type fakeECard struct {
	mu       sync.Mutex
	err      error // when set, every call fails with it
	ticket   connectors.LoginTicket
	status   connectors.TicketStatus
	counter  connectors.CounterResult
	licence  *connectors.Licence // nil: none
	bindings []connectors.Binding

	ticketReqs []connectors.TicketRequest
	statusIDs  []string
	codes      []string
	listed     []*citizenid.Number
	revokes    []string
}

var _ server.ECard = (*fakeECard)(nil)

// newFakeECard answers with 张三's confirmed ticket, valid code, licence
// and two bindings.
func newFakeECard() *fakeECard {
	zhang := citizenidMust(zhangNumber)
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	return &fakeECard{
		ticket: connectors.LoginTicket{ID: testTicketID, ExpiresAt: time.Now().Add(time.Minute).Truncate(time.Second),
			Payload: "https://platform.example/app/v1/tickets/" + testTicketID},
		status:  connectors.TicketStatus{State: connectors.TicketConfirmed, Number: zhang, BindingID: testBinding, ConfirmedAt: at},
		counter: connectors.CounterResult{Outcome: connectors.CounterValid, Number: zhang, Name: zhangName, BindingID: testBinding},
		licence: &connectors.Licence{
			Name: zhangName, Sex: "male", Nationality: "CHN", Number: zhang, CardNumber: "A00000001",
			IssuingRegion: "110105", IssuingAuthority: "北京市人力资源和社会保障局",
			IssueDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), ValidUntil: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
			Status: connectors.CardNormal,
		},
		bindings: []connectors.Binding{
			{ID: testBinding, Number: zhang, DeviceName: "张三的手机", BoundAt: at, LastUsedAt: at.Add(time.Hour)},
			{ID: "bnd_zhang_0", Number: zhang, DeviceName: "old phone", BoundAt: at.Add(-time.Hour), RevokedAt: at},
		},
	}
}

func (f *fakeECard) CreateLoginTicket(_ context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ticketReqs = append(f.ticketReqs, req)
	return f.ticket, f.err
}

func (f *fakeECard) LoginTicketStatus(_ context.Context, id string) (connectors.TicketStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statusIDs = append(f.statusIDs, id)
	if id != f.ticket.ID {
		return connectors.TicketStatus{State: connectors.TicketExpired}, f.err
	}
	return f.status, f.err
}

func (f *fakeECard) VerifyCounterCode(_ context.Context, code string) (connectors.CounterResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes = append(f.codes, code)
	return f.counter, f.err
}

func (f *fakeECard) Licence(_ context.Context, n citizenid.Number) (connectors.Licence, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil || f.licence == nil || f.licence.Number != n {
		return connectors.Licence{}, false, f.err
	}
	return *f.licence, true, nil
}

func (f *fakeECard) Bindings(_ context.Context, n *citizenid.Number) ([]connectors.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, n)
	var out []connectors.Binding
	for _, b := range f.bindings {
		if n == nil || b.Number == *n {
			out = append(out, b)
		}
	}
	return out, f.err
}

func (f *fakeECard) RevokeBinding(_ context.Context, id string, owner *citizenid.Number) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revokes = append(f.revokes, id)
	if f.err != nil {
		return f.err
	}
	for i, b := range f.bindings {
		if b.ID == id && (owner == nil || b.Number == *owner) {
			if b.RevokedAt.IsZero() {
				f.bindings[i].RevokedAt = time.Now()
			}
			return nil
		}
	}
	return connectors.ErrBindingNotFound
}

// startECardPlatform serves examples/cardplatform's handler with e as its
// e-card, over TLS.
func startECardPlatform(t *testing.T, e server.ECard) *platform {
	t.Helper()
	p := &platform{logs: &testlog.Buffer{}}
	p.srv = httptest.NewTLSServer(newHandlerWith(t, p.logs, e))
	t.Cleanup(p.srv.Close)
	p.caFile = writeCertPEM(t, p.srv.Certificate())
	return p
}

func TestECardThroughPlatform(t *testing.T) {
	e := newFakeECard()
	c := newClient(t, startECardPlatform(t, e).config())
	ctx := t.Context()
	zhang := citizenidMust(zhangNumber)

	tk, err := c.CreateLoginTicket(ctx, connectors.TicketRequest{Portal: "市民服务门户", ClientID: "portal"})
	if err != nil || tk.ID != e.ticket.ID || !tk.ExpiresAt.Equal(e.ticket.ExpiresAt) || tk.Payload != e.ticket.Payload {
		t.Errorf("CreateLoginTicket = %+v, %v; want %+v, nil", tk, err, e.ticket)
	}
	if want := []connectors.TicketRequest{{Portal: "市民服务门户", ClientID: "portal"}}; !slices.Equal(e.ticketReqs, want) {
		t.Errorf("the platform got ticket requests %+v; want %+v", e.ticketReqs, want)
	}
	st, err := c.LoginTicketStatus(ctx, tk.ID)
	if err != nil || st.State != connectors.TicketConfirmed || st.Number != zhang || st.BindingID != testBinding || !st.ConfirmedAt.Equal(e.status.ConfirmedAt) {
		t.Errorf("LoginTicketStatus = %+v, %v; want %+v, nil", st, err, e.status)
	}
	st, err = c.LoginTicketStatus(ctx, "unknown_ticket_0123")
	if err != nil || st != (connectors.TicketStatus{State: connectors.TicketExpired}) {
		t.Errorf("LoginTicketStatus(unknown) = %+v, %v; want expired, nil", st, err)
	}
	cr, err := c.VerifyCounterCode(ctx, "eyJhbGciOiJFUzI1NiJ9.e30.sig")
	if err != nil || cr != e.counter {
		t.Errorf("VerifyCounterCode = %+v, %v; want %+v, nil", cr, err, e.counter)
	}
	l, found, err := c.Licence(ctx, zhang)
	if err != nil || !found || l != *e.licence {
		t.Errorf("Licence = %+v, %v, %v; want %+v, true, nil", l, found, err, *e.licence)
	}
	other := citizenidMust("11010519491231002X")
	if l, found, err := c.Licence(ctx, other); err != nil || found || l != (connectors.Licence{}) {
		t.Errorf("Licence(another) = %+v, %v, %v; want zero, false, nil", l, found, err)
	}

	for _, n := range []*citizenid.Number{&zhang, nil} {
		list, err := c.Bindings(ctx, n)
		if err != nil || !bindingsEqual(list, e.bindings) {
			t.Errorf("Bindings(%v) = %+v, %v; want %+v, nil", n, list, err, e.bindings)
		}
	}
	if list, err := c.Bindings(ctx, &other); err != nil || list == nil || len(list) != 0 {
		t.Errorf("Bindings(another) = %#v, %v; want an empty list, nil", list, err)
	}
	if got := e.listed; len(got) != 3 || got[0] == nil || *got[0] != zhang || got[1] != nil {
		t.Errorf("the platform was asked for the bindings of %v; want 张三's, all, another's", got)
	}

	if err := c.RevokeBinding(ctx, testBinding, &zhang); err != nil {
		t.Errorf("RevokeBinding = %v; want nil", err)
	}
	if err := c.RevokeBinding(ctx, testBinding, nil); err != nil {
		t.Errorf("RevokeBinding(again) = %v; want nil (revoking a revoked binding is not an error)", err)
	}
	if err := c.RevokeBinding(ctx, testBinding, &other); !errors.Is(err, connectors.ErrBindingNotFound) || errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("RevokeBinding(another's) = %v; want connectors.ErrBindingNotFound", err)
	}
	if err := c.RevokeBinding(ctx, "no_such_binding", nil); !errors.Is(err, connectors.ErrBindingNotFound) {
		t.Errorf("RevokeBinding(unknown) = %v; want connectors.ErrBindingNotFound", err)
	}
	if e.bindings[0].RevokedAt.IsZero() {
		t.Error("the binding was not revoked at the platform")
	}
}

func bindingsEqual(got, want []connectors.Binding) bool {
	return slices.EqualFunc(got, want, func(a, b connectors.Binding) bool {
		return a.ID == b.ID && a.Number == b.Number && a.DeviceName == b.DeviceName && a.BoundAt.Equal(b.BoundAt) &&
			a.LastUsedAt.Equal(b.LastUsedAt) && a.RevokedAt.Equal(b.RevokedAt)
	})
}

func TestECardTicketStates(t *testing.T) {
	zhang := citizenidMust(zhangNumber)
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	for _, want := range []connectors.TicketStatus{
		{State: connectors.TicketPending},
		{State: connectors.TicketConfirmed, Number: zhang, BindingID: testBinding, ConfirmedAt: at},
		{State: connectors.TicketRefused},
		{State: connectors.TicketExpired},
	} {
		t.Run(string(want.State), func(t *testing.T) {
			e := newFakeECard()
			e.status = want
			c := newClient(t, startECardPlatform(t, e).config())
			got, err := c.LoginTicketStatus(t.Context(), testTicketID)
			if err != nil || got.State != want.State || got.Number != want.Number || got.BindingID != want.BindingID || !got.ConfirmedAt.Equal(want.ConfirmedAt) {
				t.Errorf("LoginTicketStatus = %+v, %v; want %+v, nil", got, err, want)
			}
		})
	}
}

func TestECardCounterOutcomes(t *testing.T) {
	zhang := citizenidMust(zhangNumber)
	for _, want := range []connectors.CounterResult{
		{Outcome: connectors.CounterValid, Number: zhang, Name: zhangName, BindingID: testBinding},
		{Outcome: connectors.CounterInvalid},
		{Outcome: connectors.CounterExpired},
		{Outcome: connectors.CounterUsed},
	} {
		t.Run(string(want.Outcome), func(t *testing.T) {
			e := newFakeECard()
			e.counter = want
			c := newClient(t, startECardPlatform(t, e).config())
			got, err := c.VerifyCounterCode(t.Context(), "a.counter.code")
			if err != nil || got != want {
				t.Errorf("VerifyCounterCode = %+v, %v; want %+v, nil", got, err, want)
			}
			if !slices.Equal(e.codes, []string{"a.counter.code"}) {
				t.Errorf("the platform got codes %q; want the one sent", e.codes)
			}
		})
	}
}

// TestECardArgumentsChecked: arguments outside the contract are refused,
// or answered as the contract says (an unknown ticket, an invalid code, no
// such binding), before anything is sent.
func TestECardArgumentsChecked(t *testing.T) {
	f := startFake(t, func(int64, *http.Request) fakeAnswer { return fakeAnswer{status: http.StatusOK, body: `{}`} })
	c := newClient(t, f.config())
	ctx := t.Context()
	long := strings.Repeat("x", connectors.MaxCounterCode+1)
	var zero citizenid.Number
	errs := map[string]error{}
	_, errs["portal empty"] = c.CreateLoginTicket(ctx, connectors.TicketRequest{})
	_, errs["portal too long"] = c.CreateLoginTicket(ctx, connectors.TicketRequest{Portal: long[:connectors.MaxPortalName+1]})
	for _, id := range []string{"", "short", "tkt/0123456789abcdef", strings.Repeat("t", 129)} {
		if st, err := c.LoginTicketStatus(ctx, id); err != nil || st != (connectors.TicketStatus{State: connectors.TicketExpired}) {
			t.Errorf("LoginTicketStatus(%q) = %+v, %v; want expired, nil", id, st, err)
		}
	}
	for _, code := range []string{"", long} {
		if r, err := c.VerifyCounterCode(ctx, code); err != nil || r != (connectors.CounterResult{Outcome: connectors.CounterInvalid}) {
			t.Errorf("VerifyCounterCode(%.20q) = %+v, %v; want invalid, nil", code, r, err)
		}
	}
	for _, id := range []string{"", "b/1", strings.Repeat("b", 129)} {
		if err := c.RevokeBinding(ctx, id, nil); !errors.Is(err, connectors.ErrBindingNotFound) {
			t.Errorf("RevokeBinding(%q) = %v; want ErrBindingNotFound", id, err)
		}
	}
	_, _, errs["licence no number"] = c.Licence(ctx, zero)
	_, errs["bindings zero number"] = c.Bindings(ctx, &zero)
	errs["revoke zero owner"] = c.RevokeBinding(ctx, testBinding, &zero)
	for name, err := range errs {
		if err == nil || errors.Is(err, connectors.ErrUnavailable) {
			t.Errorf("%s: error = %v; want a non-nil error not wrapping ErrUnavailable", name, err)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("requests at the platform = %d; want 0", n)
	}
}
