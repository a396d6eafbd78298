package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// MaxAnswer bounds every answer body the app reads, in bytes.
const MaxAnswer = 1 << 20

// Timeout is the default time limit of one request to the platform.
const Timeout = 15 * time.Second

// App is an app bound to a holder: what its key file holds, and how it
// talks to the platform.
type App struct {
	Platform     string // the app API base URL, without a trailing slash
	BindingID    string // the kid of the app's JWS
	DeviceName   string
	MaskedNumber string // the holder's number, masked (citizenid.Mask)
	BoundAt      time.Time
	Key          *ecdsa.PrivateKey

	// HTTP sends the requests; nil means NewHTTPClient().
	HTTP *http.Client
	// Now is the clock of iat and exp; nil means time.Now.
	Now func() time.Time
}

// NewHTTPClient is the app's default client: Timeout per request, and no
// redirects followed (a redirect could lead a confirmation elsewhere).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *App) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return NewHTTPClient()
}

// PlatformError is a 4xx or 5xx answer of the platform: its status and,
// when the body is one, its ecardapp.Error.
type PlatformError struct {
	Status int
	Body   ecardapp.Error // zero when the body is not one
}

func (e *PlatformError) Error() string {
	if e.Body.Code == "" {
		return fmt.Sprintf("the platform answered %d %s", e.Status, http.StatusText(e.Status))
	}
	msg := fmt.Sprintf("the platform refused (%d %s)", e.Status, oneLine(e.Body.Code, 64))
	if m := oneLine(e.Body.Message, 300); m != "" {
		msg += ": " + m
	}
	return msg
}

// oneLine makes text from the network safe to print on one line: control
// characters become spaces, and it is cut at max bytes.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "…"
	}
	return s
}

// do sends a request and decodes a 2xx answer into out (nil: the body is
// ignored). Any other answer is a *PlatformError.
func (a *App) do(ctx context.Context, method, u, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return fmt.Errorf("the platform cannot be reached: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return fmt.Errorf("reading the platform's answer: %w", err)
	}
	if len(b) > MaxAnswer {
		return fmt.Errorf("the platform's answer is over %d bytes", MaxAnswer)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		pe := &PlatformError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, &pe.Body) // not JSON: the status says it all
		return pe
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the platform's answer to %s: %w", method, err)
	}
	return nil
}

// ErrURL means a URL the app will not use: not absolute http(s), http to
// a host that is not loopback, or carrying credentials.
var ErrURL = errors.New("unusable URL")

// checkURL parses an absolute http(s) URL; http only for a loopback host
// (localhost, 127.0.0.0/8, ::1), so that a JWS never crosses a network
// in clear.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: %q: want an http or https URL", ErrURL, raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: %q: no host", ErrURL, raw)
	case u.User != nil:
		return nil, fmt.Errorf("%w: %q: carries credentials", ErrURL, raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("%w: %q: http is only for a loopback host; use https", ErrURL, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseBase checks a platform's app API base URL and returns it without a
// trailing slash, query or fragment.
func ParseBase(raw string) (string, error) {
	u, err := checkURL(raw)
	if err != nil {
		return "", err
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %q: a base URL has no query or fragment", ErrURL, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// newJTI is a fresh random jti: 16 bytes, base64url (22 characters).
func newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
