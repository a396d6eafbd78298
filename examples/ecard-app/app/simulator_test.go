package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/ecard-app/app"
)

// TestAgainstSimulator: the app's code against the real platform side, the
// simulator's app API (as `cardsso serve` mounts it): it binds 张三, confirms
// a login ticket the platform made (which then names the holder), shows a
// counter code the platform verifies once, and a second confirmation of
// the same ticket is refused.
func TestAgainstSimulator(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/ecard-sim"
	sim, err := simulator.Config{AppBaseURL: base}.Open()
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/ecard-sim/", http.StripPrefix("/ecard-sim", sim.AppHandler()))
	ctx := context.Background()

	a, err := app.Bind(ctx, nil, base, app.Holder{Name: "张三", Number: "110105199003070017", CardNumber: "A00000001", DeviceName: "test phone"})
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	ticket, err := sim.CreateLoginTicket(ctx, connectors.TicketRequest{Portal: "人社服务网", ClientID: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := app.TicketURL("scan this: " + ticket.Payload)
	if err != nil {
		t.Fatalf("TicketURL(%q): %v", ticket.Payload, err)
	}
	tk, err := a.Ticket(ctx, u)
	if err != nil {
		t.Fatalf("Ticket: %v", err)
	}
	if !strings.Contains(tk.Portal, "人社服务网") {
		t.Errorf("the app shows portal %q; want the one that asked", tk.Portal)
	}
	if err := a.Confirm(ctx, tk); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	st, err := sim.LoginTicketStatus(ctx, ticket.ID)
	if err != nil || st.State != connectors.TicketConfirmed || st.Number.String() != "110105199003070017" || st.BindingID == "" {
		t.Fatalf("status after confirming = %+v, %v; want confirmed by 张三's binding", st, err)
	}
	if err := a.Confirm(ctx, tk); err == nil {
		t.Error("a second confirmation of the same ticket was accepted")
	}

	code, err := a.CounterCode()
	if err != nil {
		t.Fatal(err)
	}
	res, err := sim.VerifyCounterCode(ctx, code)
	if err != nil || res.Outcome != connectors.CounterValid || res.Name != "张三" {
		t.Fatalf("VerifyCounterCode = %+v, %v; want 张三", res, err)
	}
	if res, _ := sim.VerifyCounterCode(ctx, code); res.Outcome != connectors.CounterUsed {
		t.Errorf("the same counter code again = %s; want used", res.Outcome)
	}
}
