package cardplatform_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
)

// checks calls each of the three checks for 张三.
var checks = []struct {
	name       string
	idempotent bool
	call       func(ctx context.Context, c *cardplatform.Client) error
}{
	{cardplatform.CheckRealName, true, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.CheckRealName(ctx, zhangName, citizenidMust(zhangNumber))
		return err
	}},
	{cardplatform.CheckCard, true, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.CheckCard(ctx, zhangName, citizenidMust(zhangNumber), "A00000001")
		return err
	}},
	{cardplatform.CheckFace, false, func(ctx context.Context, c *cardplatform.Client) error {
		_, err := c.CheckFace(ctx, citizenidMust(zhangNumber), []byte("\x89PNG not really"), "challenge-1")
		return err
	}},
}

// wantFault checks that err is a *FaultError of kind wrapping
// connectors.ErrUnavailable.
func wantFault(t *testing.T, err error, kind cardplatform.FaultKind) *cardplatform.FaultError {
	t.Helper()
	if !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("error = %v; want one wrapping connectors.ErrUnavailable", err)
	}
	f, ok := errors.AsType[*cardplatform.FaultError](err)
	if !ok || f.Kind != kind {
		t.Fatalf("error = %#v; want a *FaultError of kind %s", err, kind)
	}
	return f
}

// quickly fails the test when the call took longer than d.
func quickly(t *testing.T, start time.Time, d time.Duration) {
	t.Helper()
	if took := time.Since(start); took > d {
		t.Errorf("call took %v; want under %v", took, d)
	}
}

func TestPlatformDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			c := newClient(t, cardplatform.Config{
				URL: "https://" + addr, ClientID: testClientID, Secret: testSecret,
				RetryBackoff: time.Millisecond,
			})
			start := time.Now()
			f := wantFault(t, ck.call(t.Context(), c), cardplatform.FaultUnreachable)
			quickly(t, start, 2*time.Second)
			// Every check may be sent again when no connection was made:
			// the request cannot have reached the platform.
			if f.Attempts != 1+cardplatform.DefaultRetries {
				t.Errorf("Attempts = %d; want %d", f.Attempts, 1+cardplatform.DefaultRetries)
			}
		})
	}
}

func TestSlowPlatform(t *testing.T) {
	f := startFakeHandler(t, hang)
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			cfg := f.config()
			cfg.Timeout = 300 * time.Millisecond
			c := newClient(t, cfg)
			start := time.Now()
			wantFault(t, ck.call(t.Context(), c), cardplatform.FaultTimeout)
			quickly(t, start, 2*time.Second)
		})
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		status int
		retry  bool // for idempotent checks
	}{
		{http.StatusInternalServerError, false},
		{http.StatusNotImplemented, false},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusGatewayTimeout, true},
		{http.StatusTooManyRequests, false},
	}
	for _, tt := range tests {
		for _, ck := range checks {
			t.Run(http.StatusText(tt.status)+"/"+ck.name, func(t *testing.T) {
				f := startFake(t, func(int64, *http.Request) fakeAnswer {
					return fakeAnswer{status: tt.status, body: `{"error":"unavailable","message":"backend down"}`}
				})
				cfg := f.config()
				cfg.RetryBackoff = time.Millisecond
				reg := prometheus.NewRegistry()
				cfg.Registerer = reg
				c := newClient(t, cfg)
				start := time.Now()
				fe := wantFault(t, ck.call(t.Context(), c), cardplatform.FaultServerError)
				quickly(t, start, 2*time.Second)
				want := 1
				if tt.retry && ck.idempotent {
					want += cardplatform.DefaultRetries
				}
				if got := f.requests.Load(); got != int64(want) || fe.Attempts != want {
					t.Errorf("requests at the platform = %d, Attempts = %d; want %d", got, fe.Attempts, want)
				}
				if fe.StatusCode != tt.status {
					t.Errorf("StatusCode = %d; want %d", fe.StatusCode, tt.status)
				}
				if !strings.Contains(fe.Error(), "backend down") {
					t.Errorf("error %q does not carry the platform's message", fe.Error())
				}
				if got := metricValue(t, reg, "cardsso_cardplatform_retries_total", map[string]string{"check": ck.name}); got != float64(want-1) {
					t.Errorf("retries_total{check=%s} = %v; want %d", ck.name, got, want-1)
				}
			})
		}
	}
}

func TestRetryRecovers(t *testing.T) {
	f := startFake(t, func(n int64, _ *http.Request) fakeAnswer {
		if n < 3 {
			return fakeAnswer{status: http.StatusServiceUnavailable, body: `{"error":"unavailable","message":"busy"}`}
		}
		return fakeAnswer{status: http.StatusOK, body: `{"matched":true,"card_region":"110105"}`}
	})
	cfg := f.config()
	cfg.RetryBackoff = time.Millisecond
	c := newClient(t, cfg)
	got, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
	if want := (connectors.RealNameResult{Matched: true, CardRegion: "110105"}); err != nil || got != want {
		t.Errorf("CheckRealName = %+v, %v; want %+v, nil", got, err, want)
	}
	if n := f.requests.Load(); n != 3 {
		t.Errorf("requests at the platform = %d; want 3", n)
	}
}

// TestFaceNotRetriedOnceSent: a face check whose connection breaks after
// the request was written is not sent again (the challenge may be spent);
// a real-name check is.
func TestFaceNotRetriedOnceSent(t *testing.T) {
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			// Read the request, then drop the connection without an answer.
			f := startFakeHandler(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			})
			cfg := f.config()
			cfg.RetryBackoff = time.Millisecond
			c := newClient(t, cfg)
			fe := wantFault(t, ck.call(t.Context(), c), cardplatform.FaultUnreachable)
			want := 1
			if ck.idempotent {
				want += cardplatform.DefaultRetries
			}
			if got := f.requests.Load(); got != int64(want) || fe.Attempts != want {
				t.Errorf("requests at the platform = %d, Attempts = %d; want %d", got, fe.Attempts, want)
			}
		})
	}
}

func TestBadResponses(t *testing.T) {
	tests := []struct {
		name  string
		check string
		body  string
	}{
		{"not JSON", cardplatform.CheckRealName, `<html>Bad Gateway</html>`},
		{"truncated JSON", cardplatform.CheckRealName, `{"matched":tr`},
		{"no matched field", cardplatform.CheckRealName, `{"card_region":"110105"}`},
		{"matched is a string", cardplatform.CheckRealName, `{"matched":"yes"}`},
		{"trailing data", cardplatform.CheckRealName, `{"matched":true}{"matched":false}`},
		{"bad card_region", cardplatform.CheckRealName, `{"matched":true,"card_region":"99"}`},
		{"card: no matched field", cardplatform.CheckCard, `{}`},
		{"card: match without card", cardplatform.CheckCard, `{"matched":true}`},
		{"card: unknown status", cardplatform.CheckCard, `{"matched":true,"card":{"region":"110105","number":"A00000001","status":"frozen","generation":3}}`},
		{"card: another card", cardplatform.CheckCard, `{"matched":true,"card":{"region":"110105","number":"A00000002","status":"normal","generation":3}}`},
		{"card: generation 0", cardplatform.CheckCard, `{"matched":true,"card":{"region":"110105","number":"A00000001","status":"normal","generation":0}}`},
		{"card: bad region", cardplatform.CheckCard, `{"matched":true,"card":{"region":"1101","number":"A00000001","status":"normal","generation":3}}`},
		{"face: no passed field", cardplatform.CheckFace, `{"score":0.99}`},
		{"face: null passed", cardplatform.CheckFace, `{"passed":null}`},
		{"JSON null", cardplatform.CheckFace, `null`},
		{"too large", cardplatform.CheckRealName, `{"matched":true,"pad":"` + strings.Repeat("x", 70<<10) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(int64, *http.Request) fakeAnswer {
				return fakeAnswer{status: http.StatusOK, body: tt.body}
			})
			c := newClient(t, f.config())
			start := time.Now()
			wantFault(t, callCheck(t, c, tt.check), cardplatform.FaultBadResponse)
			quickly(t, start, 2*time.Second)
			if n := f.requests.Load(); n != 1 {
				t.Errorf("requests at the platform = %d; want 1 (a bad answer is not retried)", n)
			}
		})
	}
}

func TestBadResponseSignature(t *testing.T) {
	good := `{"matched":true,"card_region":"110105"}`
	tests := []struct {
		name   string
		answer fakeAnswer
	}{
		{"unsigned", fakeAnswer{unsigned: true}},
		{"signed with another secret", fakeAnswer{secret: "another-secret-0123456789abcdef-01234"}},
		{"signed for another request", fakeAnswer{nonce: "00112233445566778899aabbccddeeff"}},
		{"timestamp an hour old", fakeAnswer{at: time.Now().Add(-time.Hour)}},
		{"timestamp an hour ahead", fakeAnswer{at: time.Now().Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, func(int64, *http.Request) fakeAnswer {
				a := tt.answer
				a.status, a.body = http.StatusOK, good
				return a
			})
			c := newClient(t, f.config())
			got, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
			wantFault(t, err, cardplatform.FaultBadSignature)
			if got.Matched {
				t.Errorf("CheckRealName = %+v; want the zero result with the error", got)
			}
		})
	}
	// A tampered body: the signature is over another body.
	t.Run("tampered body", func(t *testing.T) {
		f := startFakeHandler(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
			ts := wire.FormatTimestamp(time.Now())
			w.Header().Set(wire.HeaderTimestamp, ts)
			w.Header().Set(wire.HeaderSignature, wire.ResponseSignature([]byte(testSecret), http.StatusOK, ts,
				r.Header.Get(wire.HeaderNonce), wire.Digest([]byte(`{"matched":false}`))))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(good)) // a match, under a mismatch's signature
		})
		c := newClient(t, f.config())
		_, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
		wantFault(t, err, cardplatform.FaultBadSignature)
	})
}

func TestBreaker(t *testing.T) {
	var healthy atomic.Bool
	f := startFake(t, func(int64, *http.Request) fakeAnswer {
		if healthy.Load() {
			return fakeAnswer{status: http.StatusOK, body: `{"matched":true,"card_region":"110105"}`}
		}
		return fakeAnswer{status: http.StatusInternalServerError, body: `{"error":"internal","message":"boom"}`}
	})
	cfg := f.config()
	cfg.Breaker = cardplatform.BreakerConfig{Failures: 3, OpenFor: 300 * time.Millisecond}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	c := newClient(t, cfg)
	zhang := mustParse(t, zhangNumber)

	for i := range 3 {
		_, err := c.CheckRealName(t.Context(), zhangName, zhang)
		wantFault(t, err, cardplatform.FaultServerError)
		if n := f.requests.Load(); n != int64(i+1) {
			t.Fatalf("after %d faults: requests at the platform = %d; want %d", i+1, n, i+1)
		}
	}
	if got := metricValue(t, reg, "cardsso_cardplatform_breaker_state", nil); got != 2 {
		t.Errorf("breaker_state = %v; want 2 (open)", got)
	}
	// Open: every check fails at once, without reaching the platform.
	healthy.Store(true)
	for _, ck := range checks {
		start := time.Now()
		f := wantFault(t, ck.call(t.Context(), c), cardplatform.FaultBreakerOpen)
		quickly(t, start, 200*time.Millisecond)
		if f.Attempts != 0 {
			t.Errorf("%s: Attempts = %d; want 0", ck.name, f.Attempts)
		}
	}
	if n := f.requests.Load(); n != 3 {
		t.Errorf("requests at the platform while open = %d; want 3", n)
	}
	if got := metricValue(t, reg, "cardsso_cardplatform_calls_total", map[string]string{"check": cardplatform.CheckRealName, "outcome": "breaker_open"}); got != 1 {
		t.Errorf("calls_total{realname,breaker_open} = %v; want 1", got)
	}

	// After OpenFor it half-opens; the platform is healthy again, so the
	// probe succeeds and the breaker closes.
	time.Sleep(400 * time.Millisecond)
	for i := range 3 {
		got, err := c.CheckRealName(t.Context(), zhangName, zhang)
		if err != nil || !got.Matched {
			t.Fatalf("check %d after recovery = %+v, %v; want a match", i, got, err)
		}
	}
	if n := f.requests.Load(); n != 6 {
		t.Errorf("requests at the platform = %d; want 6", n)
	}
	if got := metricValue(t, reg, "cardsso_cardplatform_breaker_state", nil); got != 0 {
		t.Errorf("breaker_state = %v; want 0 (closed)", got)
	}

	// A failed probe opens it again.
	healthy.Store(false)
	for range 3 {
		_, _ = c.CheckRealName(t.Context(), zhangName, zhang)
	}
	time.Sleep(400 * time.Millisecond)
	_, err := c.CheckRealName(t.Context(), zhangName, zhang) // the probe
	wantFault(t, err, cardplatform.FaultServerError)
	_, err = c.CheckRealName(t.Context(), zhangName, zhang)
	wantFault(t, err, cardplatform.FaultBreakerOpen)
}

// TestBreakerIgnoresRefusalsAndCancels: answers that are not faults (a 4xx
// refusal, an invalid photo) and checks the caller cancelled do not open the
// breaker.
func TestBreakerIgnoresRefusalsAndCancels(t *testing.T) {
	f := startFake(t, func(_ int64, r *http.Request) fakeAnswer {
		if strings.HasSuffix(r.URL.Path, "/face") {
			return fakeAnswer{status: http.StatusUnprocessableEntity, body: `{"error":"invalid_photo","message":"not an image"}`}
		}
		return fakeAnswer{status: http.StatusBadRequest, body: `{"error":"bad_request","message":"number is not valid"}`}
	})
	cfg := f.config()
	cfg.Breaker.Failures = 2
	c := newClient(t, cfg)
	for range 5 {
		_, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
		r, ok := errors.AsType[*cardplatform.RefusedError](err)
		if !ok || r.StatusCode != http.StatusBadRequest || r.Code != "bad_request" || errors.Is(err, connectors.ErrUnavailable) {
			t.Fatalf("CheckRealName error = %v; want a *RefusedError (400 bad_request) not wrapping ErrUnavailable", err)
		}
		_, err = c.CheckFace(t.Context(), mustParse(t, zhangNumber), []byte("photo"), "c")
		if !errors.Is(err, connectors.ErrInvalidPhoto) || errors.Is(err, connectors.ErrUnavailable) {
			t.Fatalf("CheckFace error = %v; want one wrapping ErrInvalidPhoto only", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c.CheckCard(ctx, zhangName, mustParse(t, zhangNumber), "A00000001"); !errors.Is(err, context.Canceled) || errors.Is(err, connectors.ErrUnavailable) {
			t.Fatalf("CheckCard(cancelled) error = %v; want one wrapping context.Canceled only", err)
		}
	}
	if n := f.requests.Load(); n != 10 {
		t.Errorf("requests at the platform = %d; want 10 (the breaker stayed closed)", n)
	}
}

// TestCallerDeadline: the caller's own deadline ends a slow check with
// the caller's error, and the check is not a platform fault.
func TestCallerDeadline(t *testing.T) {
	f := startFakeHandler(t, hang)
	c := newClient(t, f.config())
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.CheckRealName(ctx, zhangName, mustParse(t, zhangNumber))
	quickly(t, start, 2*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("CheckRealName error = %v; want one wrapping context.DeadlineExceeded only", err)
	}
}

// TestRefusedByPlatform: requests the real platform refuses (a wrong
// secret, an unknown client id, a clock outside the window) are
// *RefusedError naming the platform's code, not platform faults.
func TestRefusedByPlatform(t *testing.T) {
	p := startPlatform(t)
	tests := []struct {
		name string
		mod  func(*cardplatform.Config)
		code string
	}{
		{"wrong secret", func(c *cardplatform.Config) { c.Secret = "wrong-secret-0123456789abcdef-0123456789" }, "bad_signature"},
		{"unknown client", func(c *cardplatform.Config) { c.ClientID = "someone-else" }, "unknown_client"},
		{"clock an hour slow", func(c *cardplatform.Config) {
			c.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		}, "stale_timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := p.config()
			tt.mod(&cfg)
			c := newClient(t, cfg)
			for _, ck := range checks {
				err := ck.call(t.Context(), c)
				r, ok := errors.AsType[*cardplatform.RefusedError](err)
				if !ok || r.StatusCode != http.StatusUnauthorized || r.Code != tt.code || errors.Is(err, connectors.ErrUnavailable) {
					t.Errorf("%s: error = %v; want a *RefusedError 401 %s not wrapping ErrUnavailable", ck.name, err, tt.code)
				}
			}
		})
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// TestNoRandomness: without randomness there is no nonce, and no request.
func TestNoRandomness(t *testing.T) {
	f := startFake(t, func(int64, *http.Request) fakeAnswer {
		return fakeAnswer{status: http.StatusOK, body: `{"matched":true}`}
	})
	cfg := f.config()
	cfg.Rand = failingReader{}
	c := newClient(t, cfg)
	_, err := c.CheckRealName(t.Context(), zhangName, mustParse(t, zhangNumber))
	if err == nil || errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("CheckRealName error = %v; want a local error", err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("requests at the platform = %d; want 0", n)
	}
}
