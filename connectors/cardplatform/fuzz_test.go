package cardplatform_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// answer is what the fake platform of FuzzPlatformAnswers says next.
type answer struct {
	status int
	body   []byte
	signed bool
}

var fuzzStatuses = []int{200, 200, 200, 400, 401, 404, 409, 429, 500, 502, 503, 504}

// FuzzPlatformAnswers: the card platform's answers, which a compromised or
// broken platform controls, go through the whole client (signature check,
// decoding, validation of each check's answer, error messages) as they
// arrive over HTTP, correctly signed or not. Nothing panics, and no error
// the client returns carries the number or the name it asked about, even
// when the platform echoes them; and the e-card calls give only answers
// that keep the contract (a number with every confirmed ticket and valid
// code, the licence and bindings of the number asked about).
func FuzzPlatformAnswers(f *testing.F) {
	f.Add(uint8(0), []byte(`{"matched":true,"card_region":"110105"}`), true)
	f.Add(uint8(1), []byte(`{"matched":false}`), true)
	f.Add(uint8(2), []byte(`{"matched":true,"card":{"number":"A00000001","status":"normal","generation":3,"issued_at":"2020-01-01"}}`), true)
	f.Add(uint8(0), []byte(`{"matched":true,"score":0.93}`), true)
	f.Add(uint8(10), []byte(`{"error":"busy","message":"110105199003070017 张三 is busy"}`), true)
	f.Add(uint8(0), []byte(`{"matched":true} trailing`), false)
	// The e-card answers.
	f.Add(uint8(0), []byte(`{"ticket_id":"tkt_0123456789abcdef","expires_at":"2026-12-08T10:00:00Z","payload":"https://p.example/app/v1/tickets/tkt_0123456789abcdef"}`), true)
	f.Add(uint8(0), []byte(`{"state":"confirmed","number":"110105199003070017","binding_id":"b1","confirmed_at":"2026-12-08T10:00:00Z"}`), true)
	f.Add(uint8(0), []byte(`{"outcome":"valid","number":"110105199003070017","name":"张三","binding_id":"b1"}`), true)
	f.Add(uint8(0), []byte(`{"found":true,"licence":{"name":"张三","sex":"male","nationality":"CHN","number":"110105199003070017","card_number":"A00000001","issuing_region":"110105","issuing_authority":"北京市人力资源和社会保障局","issue_date":"2020-01-01","valid_until":"2030-01-01","status":"normal"}}`), true)
	f.Add(uint8(0), []byte(`{"bindings":[{"id":"b1","number":"110105199003070017","device_name":"张三的手机","bound_at":"2026-12-01T09:30:00Z","revoked_at":"2026-12-02T09:30:00Z"}]}`), true)
	f.Add(uint8(0), []byte(`{"found":false,"state":"expired","outcome":"used"}`), true)
	f.Add(uint8(3), []byte(`{"error":"forbidden","message":"not for 110105199003070017"}`), true)
	var next atomic.Pointer[answer]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a := next.Load()
		ts := wire.FormatTimestamp(time.Now())
		w.Header().Set(wire.HeaderTimestamp, ts)
		if a.signed {
			w.Header().Set(wire.HeaderSignature, wire.ResponseSignature([]byte(testSecret), a.status, ts, r.Header.Get(wire.HeaderNonce), wire.Digest(a.body)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(srv.Close)
	c, err := cardplatform.New(cardplatform.Config{
		URL: srv.URL, ClientID: testClientID, Secret: testSecret, InsecurePlainHTTP: true,
		Retries: -1, Timeout: 2 * time.Second, Breaker: cardplatform.BreakerConfig{Failures: 1 << 30},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.CloseIdleConnections)
	num, err := citizenid.Parse(zhangNumber)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status uint8, body []byte, signed bool) {
		next.Store(&answer{status: fuzzStatuses[int(status)%len(fuzzStatuses)], body: body, signed: signed})
		ctx := context.Background()
		check := func(what string, err error) {
			if err == nil {
				return
			}
			if msg := err.Error(); strings.Contains(msg, zhangNumber) || strings.Contains(msg, zhangNumber[:17]) || strings.Contains(msg, zhangName) {
				t.Fatalf("%s: the error carries personal data: %q", what, msg)
			}
		}
		_, err := c.CheckRealName(ctx, zhangName, num)
		check("realname", err)
		_, err = c.CheckCard(ctx, zhangName, num, "A00000001")
		check("card", err)
		_, err = c.CheckFace(ctx, num, []byte("\x89PNG not really"), "challenge-1")
		check("face", err)
		_, err = c.CreateLoginTicket(ctx, connectors.TicketRequest{Portal: "市民服务门户", ClientID: "portal"})
		check("ecard ticket", err)
		st, err := c.LoginTicketStatus(ctx, "tkt_0123456789abcdef")
		check("ecard ticket status", err)
		if err == nil && (st.State == connectors.TicketConfirmed) == st.Number.IsZero() {
			t.Fatalf("LoginTicketStatus = %+v: a number without a confirmation, or a confirmation without a number", st)
		}
		cr, err := c.VerifyCounterCode(ctx, "a.counter.code")
		check("ecard counter", err)
		if err == nil && (cr.Outcome == connectors.CounterValid) == cr.Number.IsZero() {
			t.Fatalf("VerifyCounterCode = %+v: a number without a valid code, or a valid code without a number", cr)
		}
		l, found, err := c.Licence(ctx, num)
		check("ecard licence", err)
		if err == nil && found && l.Number != num {
			t.Fatalf("Licence = %+v: not the number asked about", l)
		}
		list, err := c.Bindings(ctx, &num)
		check("ecard bindings", err)
		for _, b := range list {
			if b.Number != num || b.ID == "" {
				t.Fatalf("Bindings = %+v: a binding of another holder, or without an id", b)
			}
		}
		_, err = c.Bindings(ctx, nil)
		check("ecard all bindings", err)
		err = c.RevokeBinding(ctx, "b1", &num)
		check("ecard revoke", err)
	})
}
