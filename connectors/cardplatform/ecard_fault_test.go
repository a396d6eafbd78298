package cardplatform_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
)

// ecardCalls makes each e-card call for 张三; ok is a valid answer to it.
var ecardCalls = []struct {
	name       string
	idempotent bool
	ok         func() string
	call       func(ctx context.Context, c *cardplatform.Client) error
}{
	{cardplatform.CheckTicket, false, validTicketAnswer, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.CreateLoginTicket(ctx, connectors.TicketRequest{Portal: "市民服务门户", ClientID: "portal"})
		return err
	}},
	{cardplatform.CheckTicketStatus, true, func() string { return `{"state":"pending"}` }, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.LoginTicketStatus(ctx, testTicketID)
		return err
	}},
	{cardplatform.CheckCounter, true, func() string { return `{"outcome":"used"}` }, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.VerifyCounterCode(ctx, "a.counter.code")
		return err
	}},
	{cardplatform.CheckLicence, true, func() string { return `{"found":false}` }, func(ctx context.Context, c *cardplatform.Client) error {
		_, _, err := c.Licence(ctx, citizenidMust(zhangNumber))
		return err
	}},
	{cardplatform.CheckBindings, true, func() string { return `{"bindings":[]}` }, func(ctx context.Context, c *cardplatform.Client) error {
		n := citizenidMust(zhangNumber)
		_, err := c.Bindings(ctx, &n)
		return err
	}},
	{cardplatform.CheckRevoke, true, func() string { return `{"found":true}` }, func(ctx context.Context, c *cardplatform.Client) error {
		return c.RevokeBinding(ctx, testBinding, nil)
	}},
}

func validTicketAnswer() string {
	return `{"ticket_id":"` + testTicketID + `","expires_at":"` + time.Now().Add(time.Minute).Format(time.RFC3339) +
		`","payload":"https://platform.example/app/v1/tickets/` + testTicketID + `"}`
}

// TestECardPlatformFaults: an e-card that cannot answer (the platform's
// backend down: 503), a platform too slow, one that is not there, and one
// without the e-card (501) all give a *FaultError wrapping
// connectors.ErrUnavailable, for every call.
func TestECardPlatformFaults(t *testing.T) {
	down := newFakeECard()
	down.err = connectors.ErrUnavailable
	backendDown := startECardPlatform(t, down).config()
	backendDown.RetryBackoff = time.Millisecond
	noECard := startECardPlatform(t, nil).config()
	slow := startFakeHandler(t, hang).config()
	slow.Timeout = 50 * time.Millisecond
	unreachable := startFake(t, nil).config()
	unreachable.URL = "https://127.0.0.1:1"
	unreachable.RetryBackoff = time.Millisecond

	for _, tc := range []struct {
		name string
		cfg  cardplatform.Config
		kind cardplatform.FaultKind
	}{
		{"backend down", backendDown, cardplatform.FaultServerError},
		{"no e-card", noECard, cardplatform.FaultServerError},
		{"slow", slow, cardplatform.FaultTimeout},
		{"unreachable", unreachable, cardplatform.FaultUnreachable},
	} {
		tc.cfg.Breaker.Failures = 100 // TestECardBreaker tests it
		c := newClient(t, tc.cfg)
		for _, ck := range ecardCalls {
			t.Run(tc.name+"/"+ck.name, func(t *testing.T) {
				start := time.Now()
				fe := wantFault(t, ck.call(t.Context(), c), tc.kind)
				if fe.Check != ck.name {
					t.Errorf("FaultError.Check = %q; want %q", fe.Check, ck.name)
				}
				quickly(t, start, 2*time.Second)
			})
		}
	}
}

// TestECardBreaker: after consecutive faults the breaker opens and the
// e-card calls fail at once without reaching the platform.
func TestECardBreaker(t *testing.T) {
	f := startFake(t, func(int64, *http.Request) fakeAnswer {
		return fakeAnswer{status: http.StatusInternalServerError, body: `{"error":"internal","message":"boom"}`}
	})
	cfg := f.config()
	cfg.Breaker = cardplatform.BreakerConfig{Failures: 2, OpenFor: time.Minute}
	c := newClient(t, cfg)
	for range 2 {
		wantFault(t, ecardCalls[1].call(t.Context(), c), cardplatform.FaultServerError)
	}
	before := f.requests.Load()
	for _, ck := range ecardCalls {
		wantFault(t, ck.call(t.Context(), c), cardplatform.FaultBreakerOpen)
	}
	if n := f.requests.Load(); n != before {
		t.Errorf("requests at the platform with the breaker open = %d; want none", n-before)
	}
}

// TestECardTicketNotRetried: a ticket creation whose answer does not come
// (a 503 from a gateway, a connection dropped after the request was
// written) is not sent again, since the platform may have made the
// ticket; the idempotent calls are sent again.
func TestECardTicketNotRetried(t *testing.T) {
	for _, ck := range ecardCalls {
		for _, how := range []string{"503", "dropped"} {
			t.Run(ck.name+"/"+how, func(t *testing.T) {
				f := startFakeHandler(t, func(n int64, w http.ResponseWriter, r *http.Request) {
					if n == 1 && how == "dropped" {
						if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
							conn.Close()
						}
						return
					}
					status, body := http.StatusOK, ck.ok()
					if n == 1 {
						status, body = http.StatusServiceUnavailable, `{"error":"unavailable","message":"busy"}`
					}
					signedAnswer(w, r, status, body)
				})
				cfg := f.config()
				cfg.RetryBackoff = time.Millisecond
				c := newClient(t, cfg)
				err := ck.call(t.Context(), c)
				switch {
				case ck.idempotent && err != nil:
					t.Errorf("error = %v; want nil after a retry", err)
				case !ck.idempotent && !errors.Is(err, connectors.ErrUnavailable):
					t.Errorf("error = %v; want one wrapping connectors.ErrUnavailable", err)
				}
				want := int64(1)
				if ck.idempotent {
					want = 2
				}
				if n := f.requests.Load(); n != want {
					t.Errorf("requests at the platform = %d; want %d", n, want)
				}
			})
		}
	}
}

// TestECardForgedAnswers: answers that are unsigned, signed with another
// secret, replayed from another request (signed over another nonce), or
// stale are refused as FaultBadSignature, and nothing in them is used.
func TestECardForgedAnswers(t *testing.T) {
	forgeries := map[string]func(body string) fakeAnswer{
		"unsigned": func(b string) fakeAnswer { return fakeAnswer{status: http.StatusOK, body: b, unsigned: true} },
		"another secret": func(b string) fakeAnswer {
			return fakeAnswer{status: http.StatusOK, body: b, secret: "forger-secret-0123456789abcdef-0123456"}
		},
		"replayed": func(b string) fakeAnswer {
			return fakeAnswer{status: http.StatusOK, body: b, nonce: strings.Repeat("ab", 16)}
		},
		"stale": func(b string) fakeAnswer {
			return fakeAnswer{status: http.StatusOK, body: b, at: time.Now().Add(-time.Hour)}
		},
	}
	for name, forge := range forgeries {
		for _, ck := range ecardCalls {
			t.Run(name+"/"+ck.name, func(t *testing.T) {
				f := startFake(t, func(int64, *http.Request) fakeAnswer { return forge(ck.ok()) })
				c := newClient(t, f.config())
				wantFault(t, ck.call(t.Context(), c), cardplatform.FaultBadSignature)
			})
		}
	}
}

// TestECardBadAnswers: signed answers that break the rules of
// docs/cardplatform-api.md are faults (FaultBadResponse), never results.
func TestECardBadAnswers(t *testing.T) {
	later := time.Now().Add(time.Minute).Format(time.RFC3339)
	far := time.Now().Add(time.Hour).Format(time.RFC3339)
	payload := `"payload":"https://platform.example/app/v1/tickets/x"`
	licence := func(change string) string {
		fields := map[string]string{"name": `"张三"`, "sex": `"male"`, "nationality": `"CHN"`, "number": `"` + zhangNumber + `"`,
			"card_number": `"A00000001"`, "issuing_region": `"110105"`, "issuing_authority": `"北京市人力资源和社会保障局"`,
			"issue_date": `"2020-01-01"`, "valid_until": `"2030-01-01"`, "status": `"normal"`}
		k, v, _ := strings.Cut(change, "=")
		fields[k] = v
		var b strings.Builder
		for k, v := range fields {
			if v != "" {
				b.WriteString(`,"` + k + `":` + v)
			}
		}
		return `{"found":true,"licence":{` + b.String()[1:] + `}}`
	}
	binding := func(fields string) string { return `{"bindings":[{` + fields + `}]}` }
	okBinding := `"id":"b1","number":"` + zhangNumber + `","device_name":"phone","bound_at":"` + later + `"`
	tests := []struct {
		name, check, body string
	}{
		{"ticket: no id", cardplatform.CheckTicket, `{"expires_at":"` + later + `",` + payload + `}`},
		{"ticket: short id", cardplatform.CheckTicket, `{"ticket_id":"short","expires_at":"` + later + `",` + payload + `}`},
		{"ticket: id with a slash", cardplatform.CheckTicket, `{"ticket_id":"../../0123456789abcdef","expires_at":"` + later + `",` + payload + `}`},
		{"ticket: no expiry", cardplatform.CheckTicket, `{"ticket_id":"` + testTicketID + `",` + payload + `}`},
		{"ticket: expired", cardplatform.CheckTicket, `{"ticket_id":"` + testTicketID + `","expires_at":"` + time.Now().Add(-time.Hour).Format(time.RFC3339) + `",` + payload + `}`},
		{"ticket: expiry too far", cardplatform.CheckTicket, `{"ticket_id":"` + testTicketID + `","expires_at":"` + far + `",` + payload + `}`},
		{"ticket: payload not a URL", cardplatform.CheckTicket, `{"ticket_id":"` + testTicketID + `","expires_at":"` + later + `","payload":"javascript:alert(1)"}`},
		{"ticket: payload too long", cardplatform.CheckTicket, `{"ticket_id":"` + testTicketID + `","expires_at":"` + later + `","payload":"https://p.example/` + strings.Repeat("a", 2048) + `"}`},
		{"ticket: trailing data", cardplatform.CheckTicket, validTicketAnswer() + `{}`},
		{"status: unknown state", cardplatform.CheckTicketStatus, `{"state":"approved"}`},
		{"status: no state", cardplatform.CheckTicketStatus, `{}`},
		{"status: confirmed without number", cardplatform.CheckTicketStatus, `{"state":"confirmed","binding_id":"b1","confirmed_at":"` + later + `"}`},
		{"status: confirmed with a bad number", cardplatform.CheckTicketStatus, `{"state":"confirmed","number":"110105199003070018","binding_id":"b1","confirmed_at":"` + later + `"}`},
		{"status: confirmed without binding", cardplatform.CheckTicketStatus, `{"state":"confirmed","number":"` + zhangNumber + `","confirmed_at":"` + later + `"}`},
		{"status: confirmed without time", cardplatform.CheckTicketStatus, `{"state":"confirmed","number":"` + zhangNumber + `","binding_id":"b1"}`},
		{"counter: unknown outcome", cardplatform.CheckCounter, `{"outcome":"ok"}`},
		{"counter: valid without number", cardplatform.CheckCounter, `{"outcome":"valid","name":"张三","binding_id":"b1"}`},
		{"counter: valid without name", cardplatform.CheckCounter, `{"outcome":"valid","number":"` + zhangNumber + `","binding_id":"b1"}`},
		{"counter: name too long", cardplatform.CheckCounter, `{"outcome":"valid","number":"` + zhangNumber + `","name":"` + strings.Repeat("张", 65) + `","binding_id":"b1"}`},
		{"counter: valid without binding", cardplatform.CheckCounter, `{"outcome":"valid","number":"` + zhangNumber + `","name":"张三"}`},
		{"licence: no found", cardplatform.CheckLicence, `{}`},
		{"licence: found without licence", cardplatform.CheckLicence, `{"found":true}`},
		{"licence: another number", cardplatform.CheckLicence, licence(`number="11010519491231002X"`)},
		{"licence: no name", cardplatform.CheckLicence, licence(`name=`)},
		{"licence: bad sex", cardplatform.CheckLicence, licence(`sex="1"`)},
		{"licence: bad nationality", cardplatform.CheckLicence, licence(`nationality="China"`)},
		{"licence: bad card number", cardplatform.CheckLicence, licence(`card_number="a0000001"`)},
		{"licence: bad region", cardplatform.CheckLicence, licence(`issuing_region="991105"`)},
		{"licence: no authority", cardplatform.CheckLicence, licence(`issuing_authority=`)},
		{"licence: bad issue date", cardplatform.CheckLicence, licence(`issue_date="2020-13-01"`)},
		{"licence: valid until before issue", cardplatform.CheckLicence, licence(`valid_until="2019-01-01"`)},
		{"licence: unknown status", cardplatform.CheckLicence, licence(`status="lost"`)},
		{"bindings: no list", cardplatform.CheckBindings, `{}`},
		{"bindings: no id", cardplatform.CheckBindings, binding(`"number":"` + zhangNumber + `","device_name":"phone","bound_at":"` + later + `"`)},
		{"bindings: another holder's", cardplatform.CheckBindings, binding(strings.Replace(okBinding, zhangNumber, "11010519491231002X", 1))},
		{"bindings: bad number", cardplatform.CheckBindings, binding(strings.Replace(okBinding, zhangNumber, "110105199003070018", 1))},
		{"bindings: no device name", cardplatform.CheckBindings, binding(strings.Replace(okBinding, `"phone"`, `""`, 1))},
		{"bindings: no bound_at", cardplatform.CheckBindings, binding(`"id":"b1","number":"` + zhangNumber + `","device_name":"phone"`)},
		{"bindings: too many", cardplatform.CheckBindings, `{"bindings":[` + strings.Repeat(`{`+okBinding+`},`, 200) + `{` + okBinding + `}]}`},
		{"revoke: no found", cardplatform.CheckRevoke, `{"revoked":true}`},
	}
	calls := map[string]func(context.Context, *cardplatform.Client) error{}
	for _, ck := range ecardCalls {
		calls[ck.name] = ck.call
	}
	// The answers the bad ones are made from are accepted, so that each bad
	// answer fails for the reason its name says.
	for check, body := range map[string]string{
		cardplatform.CheckLicence:      licence(""),
		cardplatform.CheckBindings:     binding(okBinding),
		cardplatform.CheckCounter:      `{"outcome":"valid","number":"` + zhangNumber + `","name":"张三","binding_id":"b1"}`,
		cardplatform.CheckTicketStatus: `{"state":"confirmed","number":"` + zhangNumber + `","binding_id":"b1","confirmed_at":"` + later + `"}`,
	} {
		f := startFake(t, func(int64, *http.Request) fakeAnswer { return fakeAnswer{status: http.StatusOK, body: body} })
		if err := calls[check](t.Context(), newClient(t, f.config())); err != nil {
			t.Errorf("%s: the valid answer %s: error = %v; want nil", check, body, err)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, func(int64, *http.Request) fakeAnswer { return fakeAnswer{status: http.StatusOK, body: tc.body} })
			c := newClient(t, f.config())
			wantFault(t, calls[tc.check](t.Context(), c), cardplatform.FaultBadResponse)
		})
	}
}

// TestECardAnswersAccepted: the answers ecardCalls' tests use are
// accepted.
func TestECardAnswersAccepted(t *testing.T) {
	for _, ck := range ecardCalls {
		f := startFake(t, func(int64, *http.Request) fakeAnswer { return fakeAnswer{status: http.StatusOK, body: ck.ok()} })
		if err := ck.call(t.Context(), newClient(t, f.config())); err != nil {
			t.Errorf("%s: error = %v; want nil", ck.name, err)
		}
	}
}

// signedAnswer writes an answer to r signed as the platform signs it.
func signedAnswer(w http.ResponseWriter, r *http.Request, status int, body string) {
	ts := wire.FormatTimestamp(time.Now())
	w.Header().Set(wire.HeaderTimestamp, ts)
	w.Header().Set(wire.HeaderSignature, wire.ResponseSignature([]byte(testSecret), status, ts, r.Header.Get(wire.HeaderNonce), wire.Digest([]byte(body))))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
