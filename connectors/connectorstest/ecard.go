package connectorstest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/ecardapp"
)

// ECard is an implementation of the four e-card interfaces, such as the
// simulator or a card platform client.
type ECard interface {
	connectors.LoginTickets
	connectors.CounterVerifier
	connectors.LicenceFetcher
	connectors.BindingAdmin
}

// AppDriver plays the phone app against the platform behind an ECard: the
// suite binds holders, answers tickets and makes counter codes through it.
// HTTPApp speaks the app API of connectors/ecardapp; a driver for another
// transport needs only these three methods.
type AppDriver interface {
	// Bind binds a new app, with a fresh key, to the holder: name, number
	// and card number as in ecardapp.BindRequest. It returns the binding
	// id; a refusal is an *AppError.
	Bind(ctx context.Context, name, number, cardNumber string) (bindingID string, err error)
	// Answer confirms (or, confirm false, refuses) the login ticket whose
	// QR payload is payload, with a fresh confirmation JWS signed by
	// binding's key. A refusal is an *AppError.
	Answer(ctx context.Context, bindingID, payload string, confirm bool) error
	// CounterCode returns a fresh counter code of binding, issued at now.
	CounterCode(bindingID string, now time.Time) (string, error)
}

// AppError is a refusal of the app API: its HTTP status and the
// ecardapp.Error of its body.
type AppError struct {
	Status  int
	Code    string // an ecardapp.Err* code
	Message string
}

// Error returns "app API: 409 ticket_used: message".
func (e *AppError) Error() string {
	return fmt.Sprintf("app API: %d %s: %s", e.Status, e.Code, e.Message)
}

// HTTPApp is an AppDriver over HTTP: it binds at BaseURL +
// ecardapp.PathBindings and answers tickets at their payload URLs. It keeps
// the keys of the bindings it made in memory. It is safe for concurrent use.
type HTTPApp struct {
	BaseURL string       // the app API's base URL, e.g. <issuer>/ecard-sim
	Client  *http.Client // nil: http.DefaultClient
	// Now is the clock of the JWS it signs; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

var _ AppDriver = (*HTTPApp)(nil)

func (a *HTTPApp) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return http.DefaultClient
}

func (a *HTTPApp) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Key returns the private key of binding id, for tests that sign by hand.
func (a *HTTPApp) Key(id string) *ecdsa.PrivateKey {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.keys[id]
}

// Bind implements AppDriver, with the device name "connectorstest".
func (a *HTTPApp) Bind(ctx context.Context, name, number, cardNumber string) (string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	jwk, err := ecardapp.PublicJWK(&key.PublicKey)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(ecardapp.BindRequest{Name: name, Number: number, CardNumber: cardNumber, DeviceName: "connectorstest", PublicKey: jwk})
	if err != nil {
		return "", err
	}
	var resp ecardapp.BindResponse
	if err := a.do(ctx, http.MethodPost, strings.TrimRight(a.BaseURL, "/")+ecardapp.PathBindings, "application/json", body, http.StatusCreated, &resp); err != nil {
		return "", err
	}
	if resp.BindingID == "" {
		return "", errors.New("app API: bind answered no binding_id")
	}
	a.mu.Lock()
	if a.keys == nil {
		a.keys = make(map[string]*ecdsa.PrivateKey)
	}
	a.keys[resp.BindingID] = key
	a.mu.Unlock()
	return resp.BindingID, nil
}

// Answer implements AppDriver: it fetches the ticket (as the app does, to
// show the portal) and posts the confirmation or refusal.
func (a *HTTPApp) Answer(ctx context.Context, bindingID, payload string, confirm bool) error {
	var info ecardapp.TicketInfo
	if err := a.do(ctx, http.MethodGet, payload, "", nil, http.StatusOK, &info); err != nil {
		return err
	}
	jws, err := a.Confirmation(bindingID, info.Ticket)
	if err != nil {
		return err
	}
	return a.Post(ctx, payload, jws, confirm)
}

// Confirmation returns a fresh confirmation JWS of ticket by binding.
func (a *HTTPApp) Confirmation(bindingID, ticket string) (string, error) {
	key := a.Key(bindingID)
	if key == nil {
		return "", fmt.Errorf("connectorstest: no key for binding %q", bindingID)
	}
	now := a.now()
	return ecardapp.Sign(key, bindingID, ecardapp.Confirmation{Ticket: ticket, JTI: NewJTI(), IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix()})
}

// Post posts jws to the ticket at payload: to payload + "/confirm", or
// "/refuse" when confirm is false. A refusal is an *AppError.
func (a *HTTPApp) Post(ctx context.Context, payload, jws string, confirm bool) error {
	action := "/confirm"
	if !confirm {
		action = "/refuse"
	}
	return a.do(ctx, http.MethodPost, payload+action, ecardapp.ContentTypeJOSE, []byte(jws), http.StatusNoContent, nil)
}

// CounterCode implements AppDriver: a code of ecardapp.CounterCodeLifetime.
func (a *HTTPApp) CounterCode(bindingID string, now time.Time) (string, error) {
	key := a.Key(bindingID)
	if key == nil {
		return "", fmt.Errorf("connectorstest: no key for binding %q", bindingID)
	}
	return ecardapp.Sign(key, bindingID, ecardapp.CounterCode{Use: ecardapp.UseCounter, JTI: NewJTI(), IssuedAt: now.Unix(), Expiry: now.Add(ecardapp.CounterCodeLifetime).Unix()})
}

// NewJTI returns a fresh jti: 128 random bits in base64url.
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// do sends a request and decodes a want answer into out (when not nil); any
// other answer is an *AppError.
func (a *HTTPApp) do(ctx context.Context, method, url, contentType string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		var e ecardapp.Error
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
			return fmt.Errorf("app API: %s %s: status %d with a body that is not a JSON error", method, url, resp.StatusCode)
		}
		return &AppError{Status: resp.StatusCode, Code: e.Code, Message: e.Message}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// appCode returns the app API error code of err, or "" when it is none.
func appCode(err error) string {
	var e *AppError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestECard runs the e-card suite against impl, whose platform app (the
// one app drives) must know the demo card holders. It checks that:
//   - a holder whose real-name and real-card checks pass with a normal card
//     binds; a wrong name, another holder's card number, and the lost and
//     cancelled cards of 李四 and 王五 are refused not_matched;
//   - a ticket is pending, then confirmed by a bound app with the holder's
//     number, the binding and the time, on every status call; a second
//     confirmation is refused ticket_used; a refused ticket is refused; an
//     unknown ticket is expired;
//   - a revoked binding can neither confirm a ticket (bad_signature) nor
//     make a valid counter code;
//   - a counter code is valid once, with the holder's number and name, then
//     used; garbage is invalid; an expired code is expired;
//   - the licence of 张三 is found with the card's elements, and an unknown
//     number is not found;
//   - Bindings lists a holder's bindings newest first with LastUsedAt set
//     after use; RevokeBinding refuses another owner's binding and an
//     unknown id with ErrBindingNotFound, and revoking twice is no error.
func TestECard(t *testing.T, impl ECard, app AppDriver) {
	t.Helper()
	t.Run("Bind", func(t *testing.T) { testBind(t, app) })
	t.Run("Tickets", func(t *testing.T) { testTickets(t, impl, app) })
	t.Run("CounterCodes", func(t *testing.T) { testCounterCodes(t, impl, app) })
	t.Run("Licence", func(t *testing.T) { testLicence(t, impl) })
	t.Run("Bindings", func(t *testing.T) { testBindings(t, impl, app) })
}

func mustBind(t *testing.T, app AppDriver, name, number, card string) string {
	t.Helper()
	id, err := app.Bind(t.Context(), name, number, card)
	if err != nil {
		t.Fatalf("Bind(%s, %s, %s) error = %v; want nil", name, citizenid.Mask(number), card, err)
	}
	return id
}

func testBind(t *testing.T, app AppDriver) {
	mustBind(t, app, "张三", zhangNumber, "A00000001")
	refused := []struct{ name, holder, number, card string }{
		{"wrong name", "赵六", zhangNumber, "A00000001"},
		{"another holder's card", "张三", zhangNumber, "A00000004"},
		{"unknown number", "张三", unknownNumber, "A00000001"},
		{"card reported lost", "李四", "440305198511120028", "A00000002"},
		{"card cancelled", "王五", "31011519780520003X", "A00000003"},
	}
	for _, tt := range refused {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			id, err := app.Bind(t.Context(), tt.holder, tt.number, tt.card)
			if code := appCode(err); code != ecardapp.ErrNotMatched {
				t.Errorf("Bind(%s, %s, %s) = %q, %v; want error %s", tt.holder, citizenid.Mask(tt.number), tt.card, id, err, ecardapp.ErrNotMatched)
			}
		})
	}
}

func newTicket(t *testing.T, impl ECard) connectors.LoginTicket {
	t.Helper()
	tk, err := impl.CreateLoginTicket(t.Context(), connectors.TicketRequest{Portal: "示例门户 Example portal", ClientID: "example"})
	if err != nil {
		t.Fatalf("CreateLoginTicket error = %v; want nil", err)
	}
	if len(tk.ID) < 16 || tk.Payload == "" || !tk.ExpiresAt.After(time.Now().Add(-time.Minute)) {
		t.Fatalf("CreateLoginTicket = %+v; want an id of 16 or more characters, a payload and a future expiry", tk)
	}
	return tk
}

func wantState(t *testing.T, impl ECard, id string, want connectors.TicketState) connectors.TicketStatus {
	t.Helper()
	st, err := impl.LoginTicketStatus(t.Context(), id)
	if err != nil || st.State != want {
		t.Fatalf("LoginTicketStatus = %+v, %v; want state %s, nil", st, err, want)
	}
	return st
}

func testTickets(t *testing.T, impl ECard, app AppDriver) {
	zhang := mustParse(t, zhangNumber)
	b := mustBind(t, app, "张三", zhangNumber, "A00000001")

	t.Run("confirmed", func(t *testing.T) {
		tk := newTicket(t, impl)
		wantState(t, impl, tk.ID, connectors.TicketPending)
		if err := app.Answer(t.Context(), b, tk.Payload, true); err != nil {
			t.Fatalf("confirm error = %v; want nil", err)
		}
		for range 2 { // every status call answers the confirmation
			st := wantState(t, impl, tk.ID, connectors.TicketConfirmed)
			if st.Number != zhang || st.BindingID != b || st.ConfirmedAt.IsZero() {
				t.Errorf("LoginTicketStatus = %+v; want number %s, binding %s and a time", st, zhang.Masked(), b)
			}
		}
		err := app.Answer(t.Context(), b, tk.Payload, true)
		if code := appCode(err); code != ecardapp.ErrTicketUsed {
			t.Errorf("second confirm error = %v; want %s", err, ecardapp.ErrTicketUsed)
		}
		if code := appCode(app.Answer(t.Context(), b, tk.Payload, false)); code != ecardapp.ErrTicketUsed {
			t.Errorf("refuse after confirm: code %q; want %s", code, ecardapp.ErrTicketUsed)
		}
		wantState(t, impl, tk.ID, connectors.TicketConfirmed)
	})
	t.Run("refused", func(t *testing.T) {
		tk := newTicket(t, impl)
		if err := app.Answer(t.Context(), b, tk.Payload, false); err != nil {
			t.Fatalf("refuse error = %v; want nil", err)
		}
		st := wantState(t, impl, tk.ID, connectors.TicketRefused)
		if !st.Number.IsZero() || st.BindingID != "" {
			t.Errorf("LoginTicketStatus = %+v; want no holder for a refused ticket", st)
		}
		if code := appCode(app.Answer(t.Context(), b, tk.Payload, true)); code != ecardapp.ErrTicketUsed {
			t.Errorf("confirm after refuse: code %q; want %s", code, ecardapp.ErrTicketUsed)
		}
	})
	t.Run("unknown ticket", func(t *testing.T) {
		wantState(t, impl, "AAAAAAAAAAAAAAAAAAAAAA", connectors.TicketExpired)
	})
	t.Run("revoked binding", func(t *testing.T) {
		r := mustBind(t, app, "张三", zhangNumber, "A00000001")
		if err := impl.RevokeBinding(t.Context(), r, nil); err != nil {
			t.Fatalf("RevokeBinding error = %v; want nil", err)
		}
		tk := newTicket(t, impl)
		if code := appCode(app.Answer(t.Context(), r, tk.Payload, true)); code != ecardapp.ErrBadSignature {
			t.Errorf("confirm by a revoked binding: code %q; want %s", code, ecardapp.ErrBadSignature)
		}
		wantState(t, impl, tk.ID, connectors.TicketPending)
	})
}

func testCounterCodes(t *testing.T, impl ECard, app AppDriver) {
	zhang := mustParse(t, zhangNumber)
	b := mustBind(t, app, "张三", zhangNumber, "A00000001")
	verify := func(code string) connectors.CounterResult {
		t.Helper()
		r, err := impl.VerifyCounterCode(t.Context(), code)
		if err != nil {
			t.Fatalf("VerifyCounterCode error = %v; want nil", err)
		}
		return r
	}
	code, err := app.CounterCode(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(code); r != (connectors.CounterResult{Outcome: connectors.CounterValid, Number: zhang, Name: "张三", BindingID: b}) {
		t.Errorf("VerifyCounterCode(fresh code) = %+v; want valid, %s, 张三, %s", r, zhang.Masked(), b)
	}
	if r := verify(code); r.Outcome != connectors.CounterUsed || !r.Number.IsZero() {
		t.Errorf("VerifyCounterCode(the same code again) = %+v; want used, no holder", r)
	}
	old, err := app.CounterCode(b, time.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r := verify(old); r.Outcome != connectors.CounterExpired || !r.Number.IsZero() {
		t.Errorf("VerifyCounterCode(a code of 10 minutes ago) = %+v; want expired, no holder", r)
	}
	for _, garbage := range []string{"", "not a code", code[:len(code)-4] + "AAAA", strings.Repeat("A", connectors.MaxCounterCode+1)} {
		if r := verify(garbage); r.Outcome != connectors.CounterInvalid || !r.Number.IsZero() {
			t.Errorf("VerifyCounterCode(%.20q…) = %+v; want invalid, no holder", garbage, r)
		}
	}
	r := mustBind(t, app, "张三", zhangNumber, "A00000001")
	revokedCode, err := app.CounterCode(r, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := impl.RevokeBinding(t.Context(), r, &zhang); err != nil {
		t.Fatalf("RevokeBinding error = %v; want nil", err)
	}
	if got := verify(revokedCode); got.Outcome != connectors.CounterInvalid {
		t.Errorf("VerifyCounterCode(code of a revoked binding) = %+v; want invalid", got)
	}
}

func testLicence(t *testing.T, impl ECard) {
	zhang := mustParse(t, zhangNumber)
	l, found, err := impl.Licence(t.Context(), zhang)
	if err != nil || !found {
		t.Fatalf("Licence(%s) = %+v, %v, %v; want found", zhang.Masked(), l, found, err)
	}
	if l.Name != "张三" || l.Number != zhang || l.Sex != "male" || l.Nationality != "CHN" || l.CardNumber != "A00000001" ||
		l.IssuingRegion != "110105" || l.IssuingAuthority == "" || l.Status != connectors.CardNormal ||
		l.IssueDate.IsZero() || (!l.ValidUntil.IsZero() && !l.ValidUntil.After(l.IssueDate)) {
		t.Errorf("Licence(%s) = %+v; want 张三, male, CHN, A00000001, region 110105 with an authority, normal, an issue date before the validity's end", zhang.Masked(), l)
	}
	zhao, _, err := impl.Licence(t.Context(), mustParse(t, zhaoNumber))
	if err != nil || zhao.Sex != "female" || zhao.Name != "赵六" {
		t.Errorf("Licence(赵六) = %+v, %v; want 赵六, female", zhao, err)
	}
	if l, found, err := impl.Licence(t.Context(), mustParse(t, unknownNumber)); err != nil || found {
		t.Errorf("Licence(unknown number) = %+v, %v, %v; want not found, nil", l, found, err)
	}
}

func testBindings(t *testing.T, impl ECard, app AppDriver) {
	zhang, zhao := mustParse(t, zhangNumber), mustParse(t, zhaoNumber)
	first := mustBind(t, app, "赵六", zhaoNumber, "A00000004")
	second := mustBind(t, app, "赵六", zhaoNumber, "A00000004")
	code, err := app.CounterCode(first, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r, err := impl.VerifyCounterCode(t.Context(), code); err != nil || r.Outcome != connectors.CounterValid {
		t.Fatalf("VerifyCounterCode = %+v, %v; want valid", r, err)
	}
	bs, err := impl.Bindings(t.Context(), &zhao)
	if err != nil || len(bs) < 2 || bs[0].ID != second || bs[1].ID != first {
		t.Fatalf("Bindings(赵六) = %+v, %v; want %s then %s first", bs, err, second, first)
	}
	for _, b := range bs {
		if b.Number != zhao || b.DeviceName == "" || b.BoundAt.IsZero() || !b.RevokedAt.IsZero() {
			t.Errorf("Bindings(赵六) has %+v; want 赵六's live binding with a device name and a time", b)
		}
	}
	if bs[1].LastUsedAt.IsZero() || !bs[0].LastUsedAt.IsZero() {
		t.Errorf("Bindings(赵六) LastUsedAt = %v (used), %v (unused); want set, zero", bs[1].LastUsedAt, bs[0].LastUsedAt)
	}
	if err := impl.RevokeBinding(t.Context(), first, &zhang); !errors.Is(err, connectors.ErrBindingNotFound) {
		t.Errorf("RevokeBinding(赵六's binding, owner 张三) = %v; want ErrBindingNotFound", err)
	}
	if err := impl.RevokeBinding(t.Context(), "no-such-binding-id", nil); !errors.Is(err, connectors.ErrBindingNotFound) {
		t.Errorf("RevokeBinding(unknown id) = %v; want ErrBindingNotFound", err)
	}
	for range 2 {
		if err := impl.RevokeBinding(t.Context(), first, &zhao); err != nil {
			t.Errorf("RevokeBinding(own binding) = %v; want nil (also when revoked already)", err)
		}
	}
	bs, err = impl.Bindings(t.Context(), &zhao)
	if err != nil || len(bs) < 2 || bs[1].ID != first || bs[1].RevokedAt.IsZero() {
		t.Errorf("Bindings(赵六) after revoking %s = %+v, %v; want it listed, revoked", first, bs, err)
	}
}
