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
// when the platform echoes them.
func FuzzPlatformAnswers(f *testing.F) {
	f.Add(uint8(0), []byte(`{"matched":true,"card_region":"110105"}`), true)
	f.Add(uint8(1), []byte(`{"matched":false}`), true)
	f.Add(uint8(2), []byte(`{"matched":true,"card":{"number":"A00000001","status":"normal","generation":3,"issued_at":"2020-01-01"}}`), true)
	f.Add(uint8(0), []byte(`{"matched":true,"score":0.93}`), true)
	f.Add(uint8(10), []byte(`{"error":"busy","message":"110105199003070017 张三 is busy"}`), true)
	f.Add(uint8(0), []byte(`{"matched":true} trailing`), false)
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
	})
}
