package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/cardplatform/wire"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// The body limits. A face request carries the photo in base64, a third
// larger than connectors.MaxPhotoBytes.
const (
	MaxBodyBytes     = 16 << 10
	MaxFaceBodyBytes = (connectors.MaxPhotoBytes+2)/3*4 + MaxBodyBytes
)

// DefaultMaxNonces bounds the nonce cache (see Config.MaxNonces).
const DefaultMaxNonces = 1 << 20

// Config configures a Handler.
type Config struct {
	// Clients maps each client id to its shared secret (at least
	// wire.MinSecretBytes bytes). At least one is required.
	Clients map[string]string
	// Checker answers the checks: the real-name check always, the
	// real-card and real-person checks when it also implements
	// connectors.CardChecker and connectors.FaceChecker (found by type
	// assertion; without them those endpoints answer 501).
	Checker connectors.RealNameChecker
	// ECard, when not nil, answers the e-card endpoints (/v1/ecard/*);
	// without it they answer 501.
	ECard ECard
	// App, when not nil, is the e-card app API (connectors/ecardapp),
	// served under /app/ with the prefix taken off: /app/v1/bindings
	// reaches App as /v1/bindings. It is not signed like the rest: the app
	// proves itself with its JWS.
	App http.Handler
	// Skew is how far a request's timestamp may be from Now, either way.
	// Zero means wire.DefaultSkew (5 minutes).
	Skew time.Duration
	// MaxNonces bounds the nonces remembered against replays (up to two
	// skew windows' worth of requests). When it is reached, requests are
	// refused with 503 until old nonces expire. Zero means
	// DefaultMaxNonces.
	MaxNonces int
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger gets one line per request, with the number masked; never the
	// name or the photo. Nil means no logs.
	Logger *slog.Logger
}

// Handler serves the card service platform API of
// docs/cardplatform-api.md. It is safe for concurrent use.
type Handler struct {
	clients map[string][]byte
	checker connectors.RealNameChecker
	card    connectors.CardChecker // nil when Checker is not one
	face    connectors.FaceChecker // nil when Checker is not one
	ecard   ECard                  // nil: the e-card endpoints answer 501
	app     http.Handler           // nil: no app API
	skew    time.Duration
	now     func() time.Time
	log     *slog.Logger
	nonces  *nonceCache
}

// NewHandler validates cfg and returns a Handler.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Checker == nil {
		return nil, errors.New("server: config: Checker is required")
	}
	if len(cfg.Clients) == 0 {
		return nil, errors.New("server: config: Clients: at least one client is required")
	}
	if cfg.Skew < 0 || cfg.MaxNonces < 0 {
		return nil, errors.New("server: config: Skew and MaxNonces must not be negative")
	}
	h := &Handler{
		clients: make(map[string][]byte, len(cfg.Clients)),
		checker: cfg.Checker,
		ecard:   cfg.ECard,
		skew:    cfg.Skew,
		now:     cfg.Now,
		log:     cfg.Logger,
	}
	for id, secret := range cfg.Clients {
		if id == "" {
			return nil, errors.New("server: config: Clients: a client id is empty")
		}
		if len(secret) < wire.MinSecretBytes {
			return nil, fmt.Errorf("server: config: Clients: the secret of %q must be at least %d bytes", id, wire.MinSecretBytes)
		}
		h.clients[id] = []byte(secret)
	}
	h.card, _ = cfg.Checker.(connectors.CardChecker)
	h.face, _ = cfg.Checker.(connectors.FaceChecker)
	if cfg.App != nil {
		h.app = http.StripPrefix(appPrefix, cfg.App)
	}
	if h.skew == 0 {
		h.skew = wire.DefaultSkew
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	maxNonces := cfg.MaxNonces
	if maxNonces == 0 {
		maxNonces = DefaultMaxNonces
	}
	h.nonces = newNonceCache(h.skew, maxNonces, h.now())
	return h, nil
}

// exchange is one request being served: who asked, and what the answer
// is signed with once the request is authenticated.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	check  string
	client string
	secret []byte // set once the request's signature is verified
	nonce  string
	number citizenid.Number
}

// ServeHTTP authenticates the request and answers the check. The steps,
// each refusing with the error code in brackets: the path is an endpoint
// [not_found] and the method POST [method_not_allowed]; the signing
// headers are present and well-formed [unauthenticated]; the client is
// known [unknown_client]; the timestamp is within the skew window
// [stale_timestamp]; the body is within the endpoint's limit [too_large];
// its digest is the header's [digest_mismatch]; the signature verifies
// [bad_signature]; the nonce is new [replayed_nonce]; then the body is
// decoded [bad_request] and the check made. Answers from then on are
// signed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.app != nil && strings.HasPrefix(r.URL.Path, appPrefix+"/") {
		h.app.ServeHTTP(w, r)
		return
	}
	x := &exchange{w: w, r: r}
	limit, ok := h.route(x)
	if !ok {
		return
	}
	body, ok := h.authenticate(x, limit)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "Content-Type must be application/json")
		return
	}

	switch x.check {
	case "realname":
		h.realName(x, body)
	case "card":
		h.cardCheck(x, body)
	case "face":
		h.faceCheck(x, body)
	default:
		h.serveECard(x, body)
	}
}

// route sets x.check from the path and returns the endpoint's body limit,
// or refuses a path that is no endpoint [not_found] or a method other
// than POST [method_not_allowed].
func (h *Handler) route(x *exchange) (limit int64, ok bool) {
	limit = MaxBodyBytes
	switch x.r.URL.Path {
	case wire.PathRealName:
		x.check = "realname"
	case wire.PathCard:
		x.check = "card"
	case wire.PathFace:
		x.check = "face"
		limit = MaxFaceBodyBytes
	default:
		if x.check = ecardChecks[x.r.URL.Path]; x.check != "" {
			break
		}
		h.refuse(x, http.StatusNotFound, wire.CodeNotFound, "no such endpoint")
		return 0, false
	}
	if x.r.Method != http.MethodPost {
		x.w.Header().Set("Allow", http.MethodPost)
		h.refuse(x, http.StatusMethodNotAllowed, wire.CodeMethod, "use POST")
		return 0, false
	}
	return limit, true
}

// signingHeaders are a request's signing headers, well-formed.
type signingHeaders struct {
	ts     string
	t      time.Time
	nonce  string
	digest string
	sig    string
}

// parseSigning sets x.client and returns the request's signing headers,
// or refuses the request when one is missing or malformed
// [unauthenticated].
func (h *Handler) parseSigning(x *exchange) (signingHeaders, bool) {
	r := x.r
	x.client = r.Header.Get(wire.HeaderClient)
	sh := signingHeaders{
		ts:     r.Header.Get(wire.HeaderTimestamp),
		nonce:  r.Header.Get(wire.HeaderNonce),
		digest: r.Header.Get(wire.HeaderContentSHA256),
		sig:    r.Header.Get(wire.HeaderSignature),
	}
	var tsOK bool
	sh.t, tsOK = wire.ParseTimestamp(sh.ts)
	switch {
	case x.client == "" || sh.ts == "" || sh.nonce == "" || sh.digest == "" || sh.sig == "":
		h.refuse(x, http.StatusUnauthorized, wire.CodeUnauthenticated, "a signing header is missing")
		return sh, false
	case !tsOK || !wire.ValidNonce(sh.nonce) || !wire.ValidDigest(sh.digest):
		h.refuse(x, http.StatusUnauthorized, wire.CodeUnauthenticated, "a signing header is malformed")
		return sh, false
	}
	return sh, true
}

// authenticate checks the request's signature (the steps from
// [unauthenticated] to [replayed_nonce] of ServeHTTP) and returns its
// body, or refuses the request. Once the signature verifies, x holds the
// secret and the nonce, so the answers from then on are signed.
func (h *Handler) authenticate(x *exchange, limit int64) ([]byte, bool) {
	sh, ok := h.parseSigning(x)
	if !ok {
		return nil, false
	}
	secret, ok := h.clients[x.client]
	if !ok {
		h.refuse(x, http.StatusUnauthorized, wire.CodeUnknownClient, "unknown client")
		return nil, false
	}
	now := h.now()
	if !wire.WithinSkew(sh.t, now, h.skew) {
		h.refuse(x, http.StatusUnauthorized, wire.CodeStaleTimestamp, fmt.Sprintf("timestamp is more than %v away from the platform's clock", h.skew))
		return nil, false
	}
	body, ok := h.readBody(x, limit)
	if !ok {
		return nil, false
	}
	if wire.Digest(body) != sh.digest {
		h.refuse(x, http.StatusUnauthorized, wire.CodeDigestMismatch, "body does not match "+wire.HeaderContentSHA256)
		return nil, false
	}
	want := wire.RequestSignature(secret, x.r.Method, x.r.URL.EscapedPath(), sh.ts, sh.nonce, sh.digest)
	if !wire.SignatureEqual(sh.sig, want) {
		h.refuse(x, http.StatusUnauthorized, wire.CodeBadSignature, "signature does not match")
		return nil, false
	}
	// Authenticated: answers are signed from here on. The nonce is
	// recorded only now, so nobody without the secret can burn nonces.
	x.secret, x.nonce = secret, sh.nonce
	seen, full := h.nonces.add(x.client+"\x00"+sh.nonce, now)
	switch {
	case seen:
		h.refuse(x, http.StatusUnauthorized, wire.CodeReplayedNonce, "nonce already used")
		return nil, false
	case full:
		h.refuse(x, http.StatusServiceUnavailable, wire.CodeUnavailable, "too many requests in the replay window")
		return nil, false
	}
	return body, true
}

// readBody reads the request body, or refuses a body over limit
// [too_large] or one that cannot be read [bad_request].
func (h *Handler) readBody(x *exchange, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, limit))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.refuse(x, http.StatusRequestEntityTooLarge, wire.CodeTooLarge, fmt.Sprintf("body over %d bytes", limit))
			return nil, false
		}
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "cannot read the body")
		return nil, false
	}
	return body, true
}

func (h *Handler) realName(x *exchange, body []byte) {
	var req wire.RealNameRequest
	if !h.decode(x, body, &req) || !h.parseNumber(x, req.Number) {
		return
	}
	res, err := h.checker.CheckRealName(x.r.Context(), req.Name, x.number)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := wire.RealNameResponse{Matched: &res.Matched}
	if res.Matched {
		out.CardRegion = res.CardRegion
	}
	h.answer(x, outcome(res.Matched, "match", "mismatch"), out)
}

func (h *Handler) cardCheck(x *exchange, body []byte) {
	if h.card == nil {
		h.refuse(x, http.StatusNotImplemented, wire.CodeNotImplemented, "this platform does not offer the real-card check")
		return
	}
	var req wire.CardRequest
	if !h.decode(x, body, &req) || !h.parseNumber(x, req.Number) {
		return
	}
	if !connectors.ValidCardNumber(req.CardNumber) {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "card_number must be 9 characters 0-9 or A-Z")
		return
	}
	res, err := h.card.CheckCard(x.r.Context(), req.Name, x.number, req.CardNumber)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	out := wire.CardResponse{Matched: &res.Matched}
	if res.Matched {
		out.Card = &wire.Card{
			Region:     res.Card.Region,
			Number:     res.Card.Number,
			Status:     string(res.Card.Status),
			Generation: res.Card.Generation,
		}
	}
	h.answer(x, outcome(res.Matched, "match", "mismatch"), out)
}

func (h *Handler) faceCheck(x *exchange, body []byte) {
	if h.face == nil {
		h.refuse(x, http.StatusNotImplemented, wire.CodeNotImplemented, "this platform does not offer the real-person check")
		return
	}
	var req wire.FaceRequest
	if !h.decode(x, body, &req) || !h.parseNumber(x, req.Number) {
		return
	}
	if req.Challenge == "" {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "challenge is required")
		return
	}
	if len(req.Photo) == 0 || len(req.Photo) > connectors.MaxPhotoBytes {
		h.refuse(x, http.StatusUnprocessableEntity, wire.CodeInvalidPhoto, fmt.Sprintf("photo must be 1 to %d bytes", connectors.MaxPhotoBytes))
		return
	}
	res, err := h.face.CheckFace(x.r.Context(), x.number, req.Photo, req.Challenge)
	if err != nil {
		h.checkFailed(x, err)
		return
	}
	// Pass or fail only: a score never leaves the platform.
	h.answer(x, outcome(res.Passed, "pass", "fail"), wire.FaceResponse{Passed: &res.Passed})
}

// decode unmarshals the request body into v, or refuses the request.
func (h *Handler) decode(x *exchange, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil || dec.More() {
		msg := "body is not a JSON object of the expected fields"
		var b64 base64.CorruptInputError
		if errors.As(err, &b64) {
			msg = "photo is not standard base64"
		}
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, msg)
		return false
	}
	return true
}

// parseNumber validates the request's number into x.number, or refuses
// the request. The message names the rule broken, never the number.
func (h *Handler) parseNumber(x *exchange, s string) bool {
	n, err := citizenid.ParseAt(s, h.now())
	if err != nil {
		h.refuse(x, http.StatusBadRequest, wire.CodeBadRequest, "number is not a valid citizen identity number")
		return false
	}
	x.number = n
	return true
}

// checkFailed answers a check that returned an error.
func (h *Handler) checkFailed(x *exchange, err error) {
	switch {
	case errors.Is(err, connectors.ErrInvalidPhoto):
		h.refuse(x, http.StatusUnprocessableEntity, wire.CodeInvalidPhoto, "photo is not a usable PNG or JPEG image")
	case errors.Is(err, connectors.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.refuse(x, http.StatusServiceUnavailable, wire.CodeUnavailable, "the check cannot be made now")
	default:
		h.refuse(x, http.StatusInternalServerError, wire.CodeInternal, "the check failed")
	}
}

// answer writes a 200 answer.
func (h *Handler) answer(x *exchange, outcome string, v any) {
	h.write(x, http.StatusOK, v)
	h.log.Info("cardplatform server: check", "check", x.check, "client", x.client, "number", x.number,
		"outcome", outcome, "remote", x.r.RemoteAddr)
}

// refuse writes an error answer and logs it.
func (h *Handler) refuse(x *exchange, status int, code, message string) {
	h.write(x, status, wire.ErrorResponse{Error: code, Message: message})
	attrs := []any{"check", x.check, "status", status, "error", code, "client", x.client, "remote", x.r.RemoteAddr}
	if !x.number.IsZero() {
		attrs = append(attrs, "number", x.number)
	}
	h.log.Warn("cardplatform server: refused", attrs...)
}

// write writes v as the JSON answer, signed when the request was
// authenticated.
func (h *Handler) write(x *exchange, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the types written cannot fail to encode
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal","message":"cannot encode the answer"}`)
	}
	hd := x.w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	if x.secret != nil {
		ts := wire.FormatTimestamp(h.now())
		hd.Set(wire.HeaderTimestamp, ts)
		hd.Set(wire.HeaderSignature, wire.ResponseSignature(x.secret, status, ts, x.nonce, wire.Digest(body)))
	}
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}

func outcome(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
