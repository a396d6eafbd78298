package cardplatform_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/internal/testlog"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/simulator"
)

// TestNoPersonalDataInErrorsOrLogs makes checks that end in every kind of
// result, fault and refusal, with the client's and the platform server's
// logs captured, and checks that no error message and no log line carries
// the full number, the name or the photo.
func TestNoPersonalDataInErrorsOrLogs(t *testing.T) {
	clientLogs := &testlog.Buffer{}
	var errs []string
	record := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	photo, err := simulator.DemoPhoto(zhangNumber)
	if err != nil {
		t.Fatal(err)
	}
	zhang := mustParse(t, zhangNumber)
	run := func(cfg cardplatform.Config) {
		cfg.Logger = newLogger(clientLogs)
		cfg.RetryBackoff = time.Millisecond
		c := newClient(t, cfg)
		_, err := c.CheckRealName(t.Context(), zhangName, zhang)
		record(err)
		_, err = c.CheckRealName(t.Context(), "李四", zhang)
		record(err)
		_, err = c.CheckCard(t.Context(), zhangName, zhang, "A00000001")
		record(err)
		_, err = c.CheckFace(t.Context(), zhang, photo, "challenge")
		record(err)
		_, err = c.CheckFace(t.Context(), zhang, photo[:100], "challenge")
		record(err)
		// The e-card calls: those that name no number send none, but the
		// answers carry 张三's (a confirmed ticket, a valid code).
		_, err = c.CreateLoginTicket(t.Context(), connectors.TicketRequest{Portal: "市民服务门户", ClientID: "portal"})
		record(err)
		_, err = c.LoginTicketStatus(t.Context(), testTicketID)
		record(err)
		_, err = c.VerifyCounterCode(t.Context(), "a.counter.code")
		record(err)
		_, _, err = c.Licence(t.Context(), zhang)
		record(err)
		_, err = c.Bindings(t.Context(), &zhang)
		record(err)
		_, err = c.Bindings(t.Context(), nil)
		record(err)
		record(c.RevokeBinding(t.Context(), testBinding, &zhang))
	}

	// The real platform: results, and an invalid photo.
	p := startPlatform(t)
	run(p.config())
	// Refused: a wrong secret.
	cfg := p.config()
	cfg.Secret = "wrong-secret-0123456789abcdef-0123456789"
	run(cfg)
	// Faults: 503, a platform that echoes the details back in its
	// messages, bad signatures, bad answers, a timeout, a platform that is
	// down, and an open breaker.
	echo := func(status int) *fake {
		return startFake(t, func(_ int64, r *http.Request) fakeAnswer {
			var req struct{ Name, Number string }
			_ = json.NewDecoder(r.Body).Decode(&req)
			// The e-card calls send no name, and most no number: the
			// platform echoes 张三's anyway.
			if req.Name == "" {
				req.Name = zhangName
			}
			msg, _ := json.Marshal("bad number " + req.Number + " for " + req.Name + " (" + strings.ToLower(req.Number) + ")" +
				" of " + zhangNumber)
			return fakeAnswer{status: status, body: `{"error":"bad_request","message":` + string(msg) + `}`}
		})
	}
	run(echo(http.StatusBadRequest).config())
	run(echo(http.StatusServiceUnavailable).config())
	run(startFake(t, func(int64, *http.Request) fakeAnswer {
		return fakeAnswer{status: http.StatusOK, body: `{"matched":true}`, secret: "another-secret-0123456789abcdef-01234"}
	}).config())
	run(startFake(t, func(int64, *http.Request) fakeAnswer {
		return fakeAnswer{status: http.StatusOK, body: `{"matched":"` + zhangNumber + `"}`}
	}).config())
	slow := startFakeHandler(t, hang).config()
	slow.Timeout = 50 * time.Millisecond
	run(slow)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := cardplatform.Config{URL: "https://" + ln.Addr().String(), ClientID: testClientID, Secret: testSecret,
		Breaker: cardplatform.BreakerConfig{Failures: 1}}
	ln.Close()
	run(down)

	forbidden := []string{zhangNumber, zhangNumber[:17], zhangName, "李四", base64.StdEncoding.EncodeToString(photo[:60])}
	texts := map[string]string{
		"client logs":   clientLogs.String(),
		"platform logs": p.logs.String(),
		"errors":        strings.Join(errs, "\n"),
	}
	for what, text := range texts {
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("%s contain %q:\n%s", what, f, text)
			}
		}
	}
	// And they do say something: the masked number is there.
	for _, what := range []string{"client logs", "platform logs"} {
		if !strings.Contains(texts[what], zhang.Masked()) {
			t.Errorf("%s do not mention %s:\n%s", what, zhang.Masked(), texts[what])
		}
	}
	if len(errs) < 30 {
		t.Errorf("only %d errors recorded; the scenarios did not run", len(errs))
	}
	t.Logf("%d errors, e.g.:\n%s", len(errs), strings.Join(errs[:min(len(errs), 12)], "\n"))
}
