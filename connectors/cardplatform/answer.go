package cardplatform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// classify turns an answer (its body read whole) to the request signed
// with nonce into the attempt's outcome, by status: a gateway fault may be
// sent again when the check allows it, other server faults are not; a 200
// (and the refusal of an invalid photo) must carry a valid signature; any
// other 4xx is the platform's refusal.
func (c *Client) classify(spec callSpec, resp *http.Response, nonce string, respBody []byte) (outcome string, retry bool, err error) {
	status := resp.StatusCode
	switch {
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		o, _, e := spec.fault(FaultServerError, status, c.platformMessage(spec, respBody))
		return o, spec.idempotent, e
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return spec.fault(FaultServerError, status, c.platformMessage(spec, respBody))
	case status == http.StatusOK:
		if !c.verifyResponse(resp, nonce, respBody) {
			return spec.fault(FaultBadSignature, status, errors.New("answer signature does not verify"))
		}
		outcome, err := spec.accept(respBody)
		if err != nil {
			return spec.fault(FaultBadResponse, status, err)
		}
		return outcome, false, nil
	case status >= 400:
		var e wire.ErrorResponse
		_ = json.Unmarshal(respBody, &e) // a 4xx without a JSON body is still a refusal
		if status == http.StatusUnprocessableEntity && e.Error == wire.CodeInvalidPhoto {
			if !c.verifyResponse(resp, nonce, respBody) {
				return spec.fault(FaultBadSignature, status, errors.New("answer signature does not verify"))
			}
			return outcomeInvalidPhoto, false, fmt.Errorf("cardplatform: %s check: %w", spec.check, connectors.ErrInvalidPhoto)
		}
		return outcomeRefused, false, &RefusedError{
			Check:      spec.check,
			StatusCode: status,
			Code:       clean(e.Error, 64, spec),
			Message:    clean(e.Message, maxServerMessageRunes, spec),
		}
	default:
		return spec.fault(FaultBadResponse, status, fmt.Errorf("unexpected HTTP status %d", status))
	}
}

// verifyResponse reports whether resp carries a valid signature over its
// status, its timestamp (within the skew window), our nonce and body.
func (c *Client) verifyResponse(resp *http.Response, nonce string, body []byte) bool {
	ts := resp.Header.Get(wire.HeaderTimestamp)
	t, ok := wire.ParseTimestamp(ts)
	if !ok || !wire.WithinSkew(t, c.s.now(), c.s.skew) {
		return false
	}
	want := wire.ResponseSignature(c.s.secret, resp.StatusCode, ts, nonce, wire.Digest(body))
	return wire.SignatureEqual(resp.Header.Get(wire.HeaderSignature), want)
}

// platformMessage returns the message of a 5xx answer's error body as an
// error, cleaned, or nil when it has none.
func (c *Client) platformMessage(spec callSpec, body []byte) error {
	var e wire.ErrorResponse
	if json.Unmarshal(body, &e) != nil || (e.Error == "" && e.Message == "") {
		return nil
	}
	msg := "(no code)"
	if errorCode.MatchString(e.Error) {
		// A code is letters and digits: it can still be a number
		// (FuzzPlatformAnswers found one).
		msg = clean(e.Error, 64, spec)
	}
	if m := clean(e.Message, maxServerMessageRunes, spec); m != "" {
		msg += ": " + m
	}
	return errors.New("platform says " + msg)
}

// errorCode is what an error code of the platform looks like (wire.ErrorResponse.Error).
var errorCode = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// numberLike matches what may be a citizen identity number, or its first
// 17 digits, in a platform's message.
var numberLike = regexp.MustCompile(`[0-9]{17}[0-9Xx]?`)

// decode unmarshals a JSON answer into v, refusing trailing data.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("answer is not the expected JSON: %w", err)
	}
	if dec.More() {
		return errors.New("answer has data after the JSON value")
	}
	return nil
}

// clean makes a string from the platform safe to put in an error or a
// log: the number and the name are replaced, control characters dropped,
// and it is cut to at most max runes. The platform should never echo
// them; this is in case it does.
func clean(s string, max int, spec callSpec) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "?")
	if n := spec.number.String(); n != "" {
		s = strings.ReplaceAll(s, n, spec.number.Masked())
		s = strings.ReplaceAll(s, strings.ToLower(n), spec.number.Masked())
		s = strings.ReplaceAll(s, n[:len(n)-1], citizenid.Mask(n[:len(n)-1]))
	}
	// Numbers the call was not about (a counter code's holder, a list of
	// bindings) cannot be replaced by value: mask whatever looks like one.
	s = numberLike.ReplaceAllStringFunc(s, citizenid.Mask)
	name := strings.TrimSpace(spec.name)
	if name != "" {
		s = strings.ReplaceAll(s, name, "[name]")
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			return -1
		case name == "" && r > unicode.MaxASCII:
			// A check asked by number alone (the face check) cannot take
			// the name out: names on the cards are written in Chinese
			// characters, so only the ASCII of the text is kept
			// (FuzzPlatformAnswers found a platform's echo of the name
			// reaching the error and the log).
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
