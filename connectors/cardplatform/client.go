package cardplatform

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
	"unicode/utf8"

	"github.com/sony/gobreaker/v2"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// Client asks a remote card service platform for the three checks over
// the HTTP API of docs/cardplatform-api.md. It is safe for concurrent use;
// build it with New and share it.
type Client struct {
	s       *settings
	http    *http.Client
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]
	m       *metrics
}

var (
	_ connectors.RealNameChecker = (*Client)(nil)
	_ connectors.CardChecker     = (*Client)(nil)
	_ connectors.FaceChecker     = (*Client)(nil)
)

// New validates cfg, fills in its defaults and returns a Client. A field
// that is not valid gives a *ConfigError naming it. New makes no request:
// a platform that is down shows at the first check.
func New(cfg Config) (*Client, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(s.registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{s: s, m: m}
	c.http = &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     s.tls,
			ForceAttemptHTTP2:   s.tls != nil,
			MaxIdleConnsPerHost: defaultMaxIdleConnsPerHost,
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect would send the signed body (and its nonce) somewhere
		// else: never follow one; a 3xx answer is a bad answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "cardplatform",
		MaxRequests: uint32(s.halfOpen),
		Timeout:     s.openFor,
		ReadyToTrip: func(counts gobreaker.Counts) bool {
			return counts.ConsecutiveFailures >= uint32(s.failures)
		},
		IsSuccessful: func(err error) bool { return !errors.Is(err, connectors.ErrUnavailable) },
		IsExcluded:   callerGaveUp,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			m.breaker.Set(breakerStateValue(to))
			s.logger.Warn("cardplatform: circuit breaker changed state", "from", from.String(), "to", to.String())
		},
	})
	return c, nil
}

// CloseIdleConnections closes the connections kept open for later checks.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// CheckRealName implements connectors.RealNameChecker with POST
// /v1/realname. A mismatch is RealNameResult{} (CardRegion is dropped). A
// fault is a *FaultError wrapping connectors.ErrUnavailable; a refused
// request a *RefusedError; a done ctx an error wrapping ctx.Err().
func (c *Client) CheckRealName(ctx context.Context, name string, number citizenid.Number) (connectors.RealNameResult, error) {
	if number.IsZero() {
		return connectors.RealNameResult{}, errors.New("cardplatform: realname check: no number")
	}
	var res connectors.RealNameResult
	err := c.call(ctx, callSpec{
		check: CheckRealName, path: wire.PathRealName, idempotent: true, number: number, name: name,
		payload: wire.RealNameRequest{Name: name, Number: number.String()},
		accept: func(body []byte) (string, error) {
			var r wire.RealNameResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			switch {
			case r.Matched == nil:
				return "", errors.New("answer has no matched field")
			case !*r.Matched:
				return outcomeMismatch, nil
			case r.CardRegion != "" && !citizenid.ValidRegion(r.CardRegion):
				return "", errors.New("card_region is not a 6-digit region code")
			}
			res = connectors.RealNameResult{Matched: true, CardRegion: r.CardRegion}
			return outcomeMatch, nil
		},
	})
	if err != nil {
		return connectors.RealNameResult{}, err
	}
	return res, nil
}

// CheckCard implements connectors.CardChecker with POST /v1/card. A
// mismatch is CardResult{}. A match must describe the card asked about,
// with a known status and a generation from 1 to 3; anything else is a
// fault of kind FaultBadResponse. Errors are as for CheckRealName.
func (c *Client) CheckCard(ctx context.Context, name string, number citizenid.Number, cardNumber string) (connectors.CardResult, error) {
	if number.IsZero() {
		return connectors.CardResult{}, errors.New("cardplatform: card check: no number")
	}
	if !connectors.ValidCardNumber(cardNumber) {
		return connectors.CardResult{}, errors.New("cardplatform: card check: card number must be 9 characters 0-9 or A-Z")
	}
	var res connectors.CardResult
	err := c.call(ctx, callSpec{
		check: CheckCard, path: wire.PathCard, idempotent: true, number: number, name: name,
		payload: wire.CardRequest{Name: name, Number: number.String(), CardNumber: cardNumber},
		accept: func(body []byte) (string, error) {
			var r wire.CardResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			switch {
			case r.Matched == nil:
				return "", errors.New("answer has no matched field")
			case !*r.Matched:
				return outcomeMismatch, nil
			case r.Card == nil:
				return "", errors.New("a match without a card")
			case !citizenid.ValidRegion(r.Card.Region):
				return "", errors.New("card.region is not a 6-digit region code")
			case r.Card.Number != cardNumber:
				return "", errors.New("card.number is not the card asked about")
			case !connectors.CardStatus(r.Card.Status).Valid():
				return "", errors.New("card.status is not a known status")
			case r.Card.Generation < 1 || r.Card.Generation > 3:
				return "", errors.New("card.generation is not 1, 2 or 3")
			}
			res = connectors.CardResult{Matched: true, Card: connectors.Card{
				Region:     r.Card.Region,
				Number:     r.Card.Number,
				Status:     connectors.CardStatus(r.Card.Status),
				Generation: r.Card.Generation,
			}}
			return outcomeMatch, nil
		},
	})
	if err != nil {
		return connectors.CardResult{}, err
	}
	return res, nil
}

// maxChallengeBytes bounds the challenge CheckFace sends.
const maxChallengeBytes = 512

// CheckFace implements connectors.FaceChecker with POST /v1/face. It is
// sent once: again only when no connection could be made, so the
// platform has not seen the challenge (see the package doc). An empty
// photo, one over connectors.MaxPhotoBytes, and a 422 invalid_photo answer
// give an error wrapping connectors.ErrInvalidPhoto. Other errors are as
// for CheckRealName.
func (c *Client) CheckFace(ctx context.Context, number citizenid.Number, photo []byte, challenge string) (connectors.FaceResult, error) {
	if number.IsZero() {
		return connectors.FaceResult{}, errors.New("cardplatform: face check: no number")
	}
	if len(photo) == 0 || len(photo) > connectors.MaxPhotoBytes {
		return connectors.FaceResult{}, fmt.Errorf("cardplatform: face check: photo of %d bytes (1 to %d allowed): %w", len(photo), connectors.MaxPhotoBytes, connectors.ErrInvalidPhoto)
	}
	if challenge == "" || len(challenge) > maxChallengeBytes || !utf8.ValidString(challenge) {
		return connectors.FaceResult{}, fmt.Errorf("cardplatform: face check: challenge must be 1 to %d bytes of UTF-8", maxChallengeBytes)
	}
	var res connectors.FaceResult
	err := c.call(ctx, callSpec{
		check: CheckFace, path: wire.PathFace, idempotent: false, number: number,
		payload: wire.FaceRequest{Number: number.String(), Photo: photo, Challenge: challenge},
		accept: func(body []byte) (string, error) {
			var r wire.FaceResponse
			if err := decode(body, &r); err != nil {
				return "", err
			}
			if r.Passed == nil {
				return "", errors.New("answer has no passed field")
			}
			res = connectors.FaceResult{Passed: *r.Passed}
			if *r.Passed {
				return outcomePass, nil
			}
			return outcomeFail, nil
		},
	})
	if err != nil {
		return connectors.FaceResult{}, err
	}
	return res, nil
}

// callSpec describes one check for call.
type callSpec struct {
	check      string
	path       string
	idempotent bool
	number     citizenid.Number // for logs (masked) and to take out of messages
	name       string           // to take out of messages
	payload    any
	// accept decodes and validates a verified 200 answer and returns the
	// outcome; an error makes the answer a FaultBadResponse.
	accept func(body []byte) (outcome string, err error)
}

// call makes one check: through the breaker, with the per-call timeout
// and the retries the check allows, and records its metrics and, for a
// fault or a refusal, a log line.
func (c *Client) call(ctx context.Context, spec callSpec) error {
	if err := ctx.Err(); err != nil {
		c.m.calls.WithLabelValues(spec.check, outcomeCanceled).Inc()
		return fmt.Errorf("cardplatform: %s check: %w", spec.check, err)
	}
	body, err := json.Marshal(spec.payload)
	if err != nil {
		return fmt.Errorf("cardplatform: %s check: encode request: %w", spec.check, err)
	}

	done, err := c.breaker.Allow()
	if err != nil {
		ferr := &FaultError{Check: spec.check, Kind: FaultBreakerOpen}
		c.m.calls.WithLabelValues(spec.check, string(FaultBreakerOpen)).Inc()
		c.s.logger.Warn("cardplatform: check not made", "check", spec.check, "outcome", FaultBreakerOpen, "number", spec.number)
		return ferr
	}
	start := time.Now()
	outcome, attempts, err := c.exchange(ctx, spec, body)
	done(err)
	elapsed := time.Since(start)

	c.m.calls.WithLabelValues(spec.check, outcome).Inc()
	c.m.duration.WithLabelValues(spec.check).Observe(elapsed.Seconds())
	if err != nil && outcome != outcomeCanceled && outcome != outcomeInvalidPhoto {
		c.s.logger.Warn("cardplatform: check failed", "check", spec.check, "outcome", outcome,
			"number", spec.number, "attempts", attempts, "duration", elapsed, "error", err.Error())
	}
	return err
}

// exchange sends the request, again after a fault when that is safe and
// time is left, and returns the outcome, the number of requests sent and
// the error.
func (c *Client) exchange(parent context.Context, spec callSpec, body []byte) (string, int, error) {
	ctx, cancel := context.WithTimeout(parent, c.s.timeout)
	defer cancel()

	for attempts := 1; ; attempts++ {
		outcome, retry, err := c.attempt(parent, ctx, spec, body)
		if f, ok := errors.AsType[*FaultError](err); ok {
			f.Attempts = attempts
		}
		if err == nil || !retry || attempts > c.s.retries {
			return outcome, attempts, err
		}
		wait := c.backoff(attempts)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return outcome, attempts, err // no time left for another try
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if parent.Err() != nil {
				return outcomeCanceled, attempts, fmt.Errorf("cardplatform: %s check: %w", spec.check, parent.Err())
			}
			return outcome, attempts, err
		}
		c.m.retries.WithLabelValues(spec.check).Inc()
	}
}

// backoff returns the wait before attempt n+1: RetryBackoff·2^(n-1), at
// most 2s, times a random factor in [0.5, 1).
func (c *Client) backoff(n int) time.Duration {
	d := c.s.backoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	var b [8]byte
	if _, err := io.ReadFull(c.s.rand, b[:]); err != nil {
		return d
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(half))
}

// attempt sends one signed request and classifies what came back. retry
// reports whether sending it again is safe (for the check) and useful.
func (c *Client) attempt(parent, ctx context.Context, spec callSpec, body []byte) (outcome string, retry bool, err error) {
	var gotConn bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { gotConn = true }}
	req, nonce, err := c.newRequest(httptrace.WithClientTrace(ctx, trace), spec, body)
	if err != nil {
		return outcomeError, false, err
	}

	resp, err := c.http.Do(req)
	var respBody []byte
	if err == nil {
		respBody, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
		resp.Body.Close()
	}
	switch {
	case err == nil:
	case parent.Err() != nil:
		return outcomeCanceled, false, fmt.Errorf("cardplatform: %s check: %w", spec.check, parent.Err())
	case ctx.Err() != nil:
		return spec.fault(FaultTimeout, 0, fmt.Errorf("no answer within %v", c.s.timeout))
	default:
		// Reads may always be sent again; the face check only when the
		// request cannot have left: no connection was ever made.
		o, _, e := spec.fault(FaultUnreachable, 0, err)
		return o, spec.idempotent || !gotConn, e
	}
	if len(respBody) > maxResponseBytes {
		return spec.fault(FaultBadResponse, resp.StatusCode, fmt.Errorf("answer larger than %d bytes", maxResponseBytes))
	}
	return c.classify(spec, resp, nonce, respBody)
}

// fault is the outcome of an attempt that ended in a fault of kind: not
// to be sent again unless the caller says otherwise.
func (spec callSpec) fault(kind FaultKind, status int, cause error) (outcome string, retry bool, err error) {
	return string(kind), false, &FaultError{Check: spec.check, Kind: kind, StatusCode: status, Err: cause}
}

// newRequest builds the request of spec with body, signed with a fresh
// nonce, which it also returns (the answer's signature covers it).
func (c *Client) newRequest(ctx context.Context, spec callSpec, body []byte) (*http.Request, string, error) {
	nonceBytes := make([]byte, wire.NonceBytes)
	if _, err := io.ReadFull(c.s.rand, nonceBytes); err != nil {
		return nil, "", fmt.Errorf("cardplatform: %s check: make a nonce: %w", spec.check, err)
	}
	nonce := hex.EncodeToString(nonceBytes)
	ts := wire.FormatTimestamp(c.s.now())
	digest := wire.Digest(body)
	u := *c.s.base
	u.Path += spec.path

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("cardplatform: %s check: build request: %w", spec.check, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(wire.HeaderClient, c.s.clientID)
	req.Header.Set(wire.HeaderTimestamp, ts)
	req.Header.Set(wire.HeaderNonce, nonce)
	req.Header.Set(wire.HeaderContentSHA256, digest)
	req.Header.Set(wire.HeaderSignature, wire.RequestSignature(c.s.secret, http.MethodPost, u.EscapedPath(), ts, nonce, digest))
	return req, nonce, nil
}

// callerGaveUp reports whether err means the caller's ctx ended the check
// (not our timeout): such checks count neither for nor against the
// platform in the breaker.
func callerGaveUp(err error) bool {
	if _, ok := errors.AsType[*FaultError](err); ok {
		return false
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
