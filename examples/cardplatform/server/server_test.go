package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
)

// The signing in these tests is written out from docs/cardplatform-api.md,
// independently of package wire, so that a mistake there shows here.

const (
	clientID = "cardsso-test"
	secret   = "test-secret-0123456789abcdef-0123456789"
	zhang    = "110105199003070017"
)

// clock is a settable clock for the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type platform struct {
	url   string
	clock *clock
}

func start(t *testing.T) *platform {
	t.Helper()
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &platform{clock: &clock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}}
	h, err := server.NewHandler(server.Config{
		Clients: map[string]string{clientID: secret},
		Checker: sim,
		Now:     p.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// signed is a request as a client builds it, every part of which a test
// may change before sending.
type signed struct {
	method, path            string
	client, secret          string
	timestamp, nonce        string
	body                    []byte // what is signed
	sendBody                []byte // what is sent; nil means body
	digest                  string // header value; "" means hex(SHA-256(body))
	signature               string // header value; "" means computed
	contentType             string
	dropHeader              string
	signedPath, signedDigst string // what is signed, when not path / digest
}

func newRequest(p *platform, path string, body string) *signed {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		panic(err)
	}
	return &signed{
		method: http.MethodPost, path: path,
		client: clientID, secret: secret,
		timestamp:   strconv.FormatInt(p.clock.Now().Unix(), 10),
		nonce:       hex.EncodeToString(n),
		body:        []byte(body),
		contentType: "application/json",
	}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mac(key string, lines ...string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(strings.Join(lines, "\n")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

type answer struct {
	status int
	header http.Header
	body   []byte
	err    struct{ Error, Message string }
}

func (s *signed) send(t *testing.T, p *platform) answer {
	t.Helper()
	digest := s.digest
	if digest == "" {
		digest = hexSHA256(s.body)
	}
	signedPath, signedDigest := s.path, digest
	if s.signedPath != "" {
		signedPath = s.signedPath
	}
	if s.signedDigst != "" {
		signedDigest = s.signedDigst
	}
	sig := s.signature
	if sig == "" {
		sig = mac(s.secret, s.method, signedPath, s.timestamp, s.nonce, signedDigest)
	}
	body := s.body
	if s.sendBody != nil {
		body = s.sendBody
	}
	req, err := http.NewRequestWithContext(t.Context(), s.method, p.url+s.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", s.contentType)
	req.Header.Set("X-Card-Client", s.client)
	req.Header.Set("X-Card-Timestamp", s.timestamp)
	req.Header.Set("X-Card-Nonce", s.nonce)
	req.Header.Set("X-Card-Content-SHA256", digest)
	req.Header.Set("X-Card-Signature", sig)
	if s.dropHeader != "" {
		req.Header.Del(s.dropHeader)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if a.body, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(a.body, &a.err); err != nil {
			t.Fatalf("error answer %q is not JSON: %v", a.body, err)
		}
	}
	return a
}

// responseSigned reports whether a is signed for the request s with key.
func (a answer) signedFor(s *signed, key string) bool {
	want := mac(key, strconv.Itoa(a.status), a.header.Get("X-Card-Timestamp"), s.nonce, hexSHA256(a.body))
	got := a.header.Get("X-Card-Signature")
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

const zhangRealName = `{"name":"张三","number":"110105199003070017"}`

func TestSignedRequestAnswered(t *testing.T) {
	p := start(t)
	for _, tt := range []struct {
		path, body, want string
	}{
		{"/v1/realname", zhangRealName, `{"matched":true,"card_region":"110105"}`},
		{"/v1/realname", `{"name":"李四","number":"110105199003070017"}`, `{"matched":false}`},
		{"/v1/card", `{"name":"张三","number":"110105199003070017","card_number":"A00000001"}`,
			`{"matched":true,"card":{"region":"110105","number":"A00000001","status":"normal","generation":3}}`},
		{"/v1/card", `{"name":"李四","number":"440305198511120028","card_number":"A00000002"}`,
			`{"matched":true,"card":{"region":"440305","number":"A00000002","status":"reported_lost","generation":2}}`},
		{"/v1/card", `{"name":"张三","number":"110105199003070017","card_number":"A00000004"}`, `{"matched":false}`},
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
}

func TestFaceAnswersPassOrFailOnly(t *testing.T) {
	p := start(t)
	own, err := simulator.DemoPhoto(zhang)
	if err != nil {
		t.Fatal(err)
	}
	other, err := simulator.DemoPhoto("510104200002290046")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		photo []byte
		want  string
	}{
		{"own photo", own, `{"passed":true}`},
		{"赵六's photo", other, `{"passed":false}`},
	} {
		body, _ := json.Marshal(map[string]any{"number": zhang, "photo": tt.photo, "challenge": "c-1"})
		s := newRequest(p, "/v1/face", string(body))
		a := s.send(t, p)
		if a.status != http.StatusOK || string(a.body) != tt.want || !a.signedFor(s, secret) {
			t.Errorf("face check with %s = %d %s; want 200 %s, signed", tt.name, a.status, a.body, tt.want)
		}
	}
	body, _ := json.Marshal(map[string]any{"number": zhang, "photo": []byte("not an image"), "challenge": "c-2"})
	s := newRequest(p, "/v1/face", string(body))
	if a := s.send(t, p); a.status != http.StatusUnprocessableEntity || a.err.Error != "invalid_photo" || !a.signedFor(s, secret) {
		t.Errorf("face check with a bad photo = %d %s; want 422 invalid_photo, signed", a.status, a.body)
	}
}

// TestRefusals: each way a request can be wrong is refused with the
// documented status and error code.
func TestRefusals(t *testing.T) {
	p := start(t)
	tests := []struct {
		name   string
		mod    func(s *signed)
		status int
		code   string
	}{
		{"tampered body (digest header kept)", func(s *signed) {
			s.sendBody = []byte(strings.Replace(string(s.body), "张三", "李四", 1))
		}, 401, "digest_mismatch"},
		{"tampered body with a recomputed digest", func(s *signed) {
			s.sendBody = []byte(strings.Replace(string(s.body), "张三", "李四", 1))
			s.digest = hexSHA256(s.sendBody)
			s.signedDigst = hexSHA256(s.body)
		}, 401, "bad_signature"},
		{"timestamp 6 minutes old", func(s *signed) { s.timestamp = ts(p, -6*time.Minute) }, 401, "stale_timestamp"},
		{"timestamp 6 minutes ahead", func(s *signed) { s.timestamp = ts(p, 6*time.Minute) }, 401, "stale_timestamp"},
		{"wrong secret", func(s *signed) { s.secret = "wrong-secret-0123456789abcdef-0123456789" }, 401, "bad_signature"},
		{"unknown client", func(s *signed) { s.client = "someone-else" }, 401, "unknown_client"},
		{"signed for another path", func(s *signed) { s.signedPath = "/v1/card" }, 401, "bad_signature"},
		{"signature not base64", func(s *signed) { s.signature = "not base64!" }, 401, "bad_signature"},
		{"no signature", func(s *signed) { s.dropHeader = "X-Card-Signature" }, 401, "unauthenticated"},
		{"no digest", func(s *signed) { s.dropHeader = "X-Card-Content-SHA256" }, 401, "unauthenticated"},
		{"no client", func(s *signed) { s.dropHeader = "X-Card-Client" }, 401, "unauthenticated"},
		{"nonce too short", func(s *signed) { s.nonce = s.nonce[:30] }, 401, "unauthenticated"},
		{"nonce in upper case", func(s *signed) { s.nonce = strings.ToUpper(s.nonce) }, 401, "unauthenticated"},
		{"timestamp not a number", func(s *signed) { s.timestamp = "+" + s.timestamp }, 401, "unauthenticated"},
		{"GET", func(s *signed) { s.method = http.MethodGet }, 405, "method_not_allowed"},
		{"unknown path", func(s *signed) { s.path = "/v1/score" }, 404, "not_found"},
		{"body not JSON", func(s *signed) { s.body = []byte("name=张三") }, 400, "bad_request"},
		{"invalid number", func(s *signed) { s.body = []byte(`{"name":"张三","number":"110105199003070018"}`) }, 400, "bad_request"},
		{"not JSON content type", func(s *signed) { s.contentType = "text/plain" }, 400, "bad_request"},
		{"body over 16 KiB", func(s *signed) {
			s.body = []byte(`{"name":"` + strings.Repeat("张", 6000) + `","number":"110105199003070017"}`)
		}, 413, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRequest(p, "/v1/realname", zhangRealName)
			tt.mod(s)
			a := s.send(t, p)
			if a.status != tt.status || a.err.Error != tt.code {
				t.Errorf("answer = %d %s; want %d %s", a.status, a.body, tt.status, tt.code)
			}
			if a.err.Message == "" {
				t.Errorf("answer %s has no message", a.body)
			}
			if strings.Contains(string(a.body), zhang) || strings.Contains(string(a.body), "张三") {
				t.Errorf("answer %s echoes the request", a.body)
			}
		})
	}
}

func TestTimestampWindowEdges(t *testing.T) {
	p := start(t)
	for _, d := range []time.Duration{-5 * time.Minute, -4*time.Minute - 59*time.Second, 4*time.Minute + 59*time.Second, 5 * time.Minute} {
		s := newRequest(p, "/v1/realname", zhangRealName)
		s.timestamp = ts(p, d)
		if a := s.send(t, p); a.status != http.StatusOK {
			t.Errorf("timestamp %v from now: answer %d %s; want 200", d, a.status, a.body)
		}
	}
}

func TestReplayedNonce(t *testing.T) {
	p := start(t)
	s := newRequest(p, "/v1/realname", zhangRealName)
	if a := s.send(t, p); a.status != http.StatusOK {
		t.Fatalf("first request: %d %s; want 200", a.status, a.body)
	}
	// The same request again, byte for byte.
	a := s.send(t, p)
	if a.status != http.StatusUnauthorized || a.err.Error != "replayed_nonce" {
		t.Errorf("replayed request: %d %s; want 401 replayed_nonce", a.status, a.body)
	}
	if !a.signedFor(s, secret) {
		t.Errorf("replay refusal is not signed (the request was authenticated)")
	}
	// The same nonce on a new, validly signed request.
	s2 := newRequest(p, "/v1/card", `{"name":"张三","number":"110105199003070017","card_number":"A00000001"}`)
	s2.nonce = s.nonce
	if a := s2.send(t, p); a.status != http.StatusUnauthorized || a.err.Error != "replayed_nonce" {
		t.Errorf("new request with a used nonce: %d %s; want 401 replayed_nonce", a.status, a.body)
	}
	// The nonce of a refused request (bad signature) is not burnt.
	s3 := newRequest(p, "/v1/realname", zhangRealName)
	good := s3.secret
	s3.secret = "wrong-secret-0123456789abcdef-0123456789"
	if a := s3.send(t, p); a.err.Error != "bad_signature" {
		t.Fatalf("badly signed request: %d %s; want bad_signature", a.status, a.body)
	}
	s3.secret = good
	if a := s3.send(t, p); a.status != http.StatusOK {
		t.Errorf("nonce after a refused attempt: %d %s; want 200", a.status, a.body)
	}

	// Later, still in the window, the replay is still refused; once the
	// timestamp is out of the window, the timestamp check refuses it.
	for _, later := range []time.Duration{4 * time.Minute, 2 * time.Minute, 5 * time.Minute, 30 * time.Minute} {
		p.clock.Add(later)
		a := s.send(t, p)
		if a.status != http.StatusUnauthorized || (a.err.Error != "replayed_nonce" && a.err.Error != "stale_timestamp") {
			t.Errorf("replay %v later: %d %s; want 401 replayed_nonce or stale_timestamp", later, a.status, a.body)
		}
	}
}

func ts(p *platform, d time.Duration) string {
	return strconv.FormatInt(p.clock.Now().Add(d).Unix(), 10)
}

func TestNewHandlerValidates(t *testing.T) {
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []server.Config{
		{Clients: map[string]string{clientID: secret}},
		{Checker: sim},
		{Checker: sim, Clients: map[string]string{clientID: "short"}},
		{Checker: sim, Clients: map[string]string{"": secret}},
		{Checker: sim, Clients: map[string]string{clientID: secret}, Skew: -time.Second},
	} {
		if _, err := server.NewHandler(cfg); err == nil {
			t.Errorf("NewHandler(%s) error = nil; want an error", fmt.Sprint(len(cfg.Clients), cfg.Checker != nil, cfg.Skew))
		}
	}
}

// realNameOnly offers only the real-name check, and fails it.
type realNameOnly struct{ err error }

func (r realNameOnly) CheckRealName(context.Context, string, citizenid.Number) (connectors.RealNameResult, error) {
	return connectors.RealNameResult{}, r.err
}

func TestCheckerFaults(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		path, body string
		status     int
		code       string
	}{
		{"no card check", nil, "/v1/card", `{"name":"张三","number":"110105199003070017","card_number":"A00000001"}`, 501, "not_implemented"},
		{"no face check", nil, "/v1/face", `{"number":"110105199003070017","photo":"iVBORw0K","challenge":"c"}`, 501, "not_implemented"},
		{"checker unavailable", connectors.ErrUnavailable, "/v1/realname", zhangRealName, 503, "unavailable"},
		{"checker fails", errors.New("disk on fire"), "/v1/realname", zhangRealName, 500, "internal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := server.NewHandler(server.Config{Clients: map[string]string{clientID: secret}, Checker: realNameOnly{tt.err}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			p := &platform{url: srv.URL, clock: &clock{t: time.Now()}}
			s := newRequest(p, tt.path, tt.body)
			a := s.send(t, p)
			if a.status != tt.status || a.err.Error != tt.code || !a.signedFor(s, secret) {
				t.Errorf("answer = %d %s; want %d %s, signed", a.status, a.body, tt.status, tt.code)
			}
			if strings.Contains(string(a.body), "disk on fire") {
				t.Errorf("answer %s leaks the checker's error", a.body)
			}
		})
	}
}
