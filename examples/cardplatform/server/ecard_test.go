package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

// ecard answers every e-card call with 张三's data.
type ecard struct{ revoked []string }

var confirmedAt = time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC)

func (*ecard) CreateLoginTicket(_ context.Context, req connectors.TicketRequest) (connectors.LoginTicket, error) {
	return connectors.LoginTicket{ID: "tkt_0123456789abcdef", ExpiresAt: confirmedAt.Add(3 * time.Minute),
		Payload: "https://p.example/app/v1/tickets/tkt_0123456789abcdef"}, nil
}

func (*ecard) LoginTicketStatus(_ context.Context, id string) (connectors.TicketStatus, error) {
	if id != "tkt_0123456789abcdef" {
		return connectors.TicketStatus{State: connectors.TicketExpired}, nil
	}
	return connectors.TicketStatus{State: connectors.TicketConfirmed, Number: mustNumber(zhang), BindingID: "b1", ConfirmedAt: confirmedAt}, nil
}

func (*ecard) VerifyCounterCode(_ context.Context, code string) (connectors.CounterResult, error) {
	if code != "good" {
		return connectors.CounterResult{Outcome: connectors.CounterUsed}, nil
	}
	return connectors.CounterResult{Outcome: connectors.CounterValid, Number: mustNumber(zhang), Name: "张三", BindingID: "b1"}, nil
}

func (*ecard) Licence(_ context.Context, n citizenid.Number) (connectors.Licence, bool, error) {
	if n.String() != zhang {
		return connectors.Licence{}, false, nil
	}
	return connectors.Licence{Name: "张三", Sex: "male", Nationality: "CHN", Number: n, CardNumber: "A00000001",
		IssuingRegion: "110105", IssuingAuthority: "北京市人力资源和社会保障局",
		IssueDate: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC), Status: connectors.CardNormal}, true, nil
}

func (*ecard) Bindings(_ context.Context, n *citizenid.Number) ([]connectors.Binding, error) {
	if n != nil && n.String() != zhang {
		return nil, nil
	}
	return []connectors.Binding{{ID: "b1", Number: mustNumber(zhang), DeviceName: "phone", BoundAt: confirmedAt}}, nil
}

func (e *ecard) RevokeBinding(_ context.Context, id string, owner *citizenid.Number) error {
	if id != "b1" || (owner != nil && owner.String() != zhang) {
		return connectors.ErrBindingNotFound
	}
	e.revoked = append(e.revoked, id)
	return nil
}

func mustNumber(s string) citizenid.Number {
	n, err := citizenid.Parse(s)
	if err != nil {
		panic(err)
	}
	return n
}

// startECard is start with e as the e-card and app as the app API.
func startECard(t *testing.T, e server.ECard, app http.Handler) *platform {
	t.Helper()
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{clock: &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}}
	h, err := server.NewHandler(server.Config{
		Clients: map[string]string{clientID: secret},
		Checker: sim, ECard: e, App: app,
		Now: p.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// TestECardEndpointsAnswered: the bodies of docs/cardplatform-api.md, "The
// e-card", signed like the checks.
func TestECardEndpointsAnswered(t *testing.T) {
	e := &ecard{}
	p := startECard(t, e, nil)
	binding := `{"id":"b1","number":"110105199003070017","device_name":"phone","bound_at":"2026-11-27T09:59:00Z"}`
	for _, tt := range []struct {
		path, body, want string
	}{
		{"/v1/ecard/tickets", `{"portal":"市民服务门户","client_id":"portal"}`,
			`{"ticket_id":"tkt_0123456789abcdef","expires_at":"2026-11-27T10:02:00Z","payload":"https://p.example/app/v1/tickets/tkt_0123456789abcdef"}`},
		{"/v1/ecard/tickets/status", `{"ticket_id":"tkt_0123456789abcdef"}`,
			`{"state":"confirmed","number":"110105199003070017","binding_id":"b1","confirmed_at":"2026-11-27T09:59:00Z"}`},
		{"/v1/ecard/tickets/status", `{"ticket_id":"tkt_unknown"}`, `{"state":"expired"}`},
		{"/v1/ecard/tickets/status", `{}`, `{"state":"expired"}`},
		{"/v1/ecard/counter/verify", `{"code":""}`, `{"outcome":"invalid"}`},
		{"/v1/ecard/counter/verify", `{"code":"` + strings.Repeat("A", 2049) + `"}`, `{"outcome":"invalid"}`},
		{"/v1/ecard/counter/verify", `{"code":"good"}`, `{"outcome":"valid","number":"110105199003070017","name":"张三","binding_id":"b1"}`},
		{"/v1/ecard/counter/verify", `{"code":"again"}`, `{"outcome":"used"}`},
		{"/v1/ecard/licence", `{"number":"110105199003070017"}`,
			`{"found":true,"licence":{"name":"张三","sex":"male","nationality":"CHN","number":"110105199003070017","card_number":"A00000001",` +
				`"issuing_region":"110105","issuing_authority":"北京市人力资源和社会保障局","issue_date":"2020-01-02","status":"normal"}}`},
		{"/v1/ecard/licence", `{"number":"440305198511120028"}`, `{"found":false}`},
		{"/v1/ecard/bindings", `{"number":"110105199003070017"}`, `{"bindings":[` + binding + `]}`},
		{"/v1/ecard/bindings", `{"all":true}`, `{"bindings":[` + binding + `]}`},
		{"/v1/ecard/bindings", `{"number":"440305198511120028"}`, `{"bindings":[]}`},
		{"/v1/ecard/bindings/revoke", `{"id":"b1","owner":"110105199003070017"}`, `{"found":true}`},
		{"/v1/ecard/bindings/revoke", `{"id":"b1","owner":"440305198511120028"}`, `{"found":false}`},
		{"/v1/ecard/bindings/revoke", `{"id":"b2"}`, `{"found":false}`},
	} {
		s := newRequest(p, tt.path, tt.body)
		a := s.send(t, p)
		if a.status != http.StatusOK || string(a.body) != tt.want {
			t.Errorf("POST %s %s = %d %s; want 200 %s", tt.path, tt.body, a.status, a.body, tt.want)
		}
		if !a.signedFor(s, secret) {
			t.Errorf("POST %s: answer not signed for the request", tt.path)
		}
	}
	if len(e.revoked) != 1 {
		t.Errorf("revoked %v; want b1 once", e.revoked)
	}
}

func TestECardRefusals(t *testing.T) {
	p := startECard(t, &ecard{}, nil)
	for _, tt := range []struct {
		name, path, body string
		change           func(*signed)
		status           int
		code             string
	}{
		{"unsigned", "/v1/ecard/counter/verify", `{"code":"good"}`, func(s *signed) { s.dropHeader = "X-Card-Signature" }, 401, "unauthenticated"},
		{"wrong secret", "/v1/ecard/licence", `{"number":"110105199003070017"}`, func(s *signed) { s.secret = strings.Repeat("x", 40) }, 401, "bad_signature"},
		{"GET", "/v1/ecard/tickets", ``, func(s *signed) { s.method = http.MethodGet }, 405, "method_not_allowed"},
		{"unknown path", "/v1/ecard/other", `{}`, nil, 404, "not_found"},
		{"no portal", "/v1/ecard/tickets", `{"client_id":"portal"}`, nil, 400, "bad_request"},
		{"not JSON", "/v1/ecard/tickets/status", `ticket`, nil, 400, "bad_request"},
		{"bad number", "/v1/ecard/licence", `{"number":"110105199003070018"}`, nil, 400, "bad_request"},
		{"number and all", "/v1/ecard/bindings", `{"number":"110105199003070017","all":true}`, nil, 400, "bad_request"},
		{"neither number nor all", "/v1/ecard/bindings", `{}`, nil, 400, "bad_request"},
		{"bad owner", "/v1/ecard/bindings/revoke", `{"id":"b1","owner":"1"}`, nil, 400, "bad_request"},
	} {
		s := newRequest(p, tt.path, tt.body)
		if tt.change != nil {
			tt.change(s)
		}
		a := s.send(t, p)
		if a.status != tt.status || a.err.Error != tt.code {
			t.Errorf("%s: POST %s = %d %s; want %d %s", tt.name, tt.path, a.status, a.body, tt.status, tt.code)
		}
	}

	// A replayed request is refused.
	s := newRequest(p, "/v1/ecard/bindings/revoke", `{"id":"b1"}`)
	if a := s.send(t, p); a.status != http.StatusOK {
		t.Fatalf("first POST = %d %s; want 200", a.status, a.body)
	}
	if a := s.send(t, p); a.status != http.StatusUnauthorized || a.err.Error != "replayed_nonce" {
		t.Errorf("replayed POST = %d %s; want 401 replayed_nonce", a.status, a.body)
	}
}

// TestECardNotOffered: without an ECard the e-card endpoints answer 501,
// signed, and /app/ is no endpoint.
func TestECardNotOffered(t *testing.T) {
	p := startECard(t, nil, nil)
	s := newRequest(p, "/v1/ecard/tickets", `{"portal":"p","client_id":"c"}`)
	a := s.send(t, p)
	if a.status != http.StatusNotImplemented || a.err.Error != "not_implemented" || !a.signedFor(s, secret) {
		t.Errorf("POST /v1/ecard/tickets = %d %s; want a signed 501 not_implemented", a.status, a.body)
	}
	resp, err := http.Get(p.url + "/app/v1/tickets/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /app/v1/tickets/x without an app API = %d; want 404", resp.StatusCode)
	}
}

// TestAppMounted: the app API gets /app/... with the prefix taken off, and
// without the platform's signing.
func TestAppMounted(t *testing.T) {
	var got []string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		_, _ = io.WriteString(w, "app")
	})
	p := startECard(t, &ecard{}, app)
	resp, err := http.Post(p.url+"/app/v1/tickets/tkt_0123456789abcdef/confirm", "application/jose", strings.NewReader("a.b.c"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "app" {
		t.Errorf("POST /app/v1/tickets/…/confirm = %d %q; want 200 from the app API", resp.StatusCode, body)
	}
	if want := "POST /v1/tickets/tkt_0123456789abcdef/confirm"; len(got) != 1 || got[0] != want {
		t.Errorf("the app API got %q; want [%q]", got, want)
	}
	// The platform's own endpoints are still signed.
	s := newRequest(p, "/v1/ecard/counter/verify", `{"code":"good"}`)
	s.dropHeader = "X-Card-Signature"
	if a := s.send(t, p); a.status != http.StatusUnauthorized {
		t.Errorf("unsigned POST /v1/ecard/counter/verify with an app API = %d; want 401", a.status)
	}
}
