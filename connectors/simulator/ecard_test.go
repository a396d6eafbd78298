package simulator_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/connectors/ecardapp"
	"github.com/cardsso/cardsso/connectors/simulator"
)

// fakeClock is a clock the tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ecardEnv is a simulator with its app API behind httptest at
// <server>/ecard-sim, as CardSSO mounts it, and an app speaking to it.
type ecardEnv struct {
	sim   *simulator.Simulator
	app   *connectorstest.HTTPApp
	base  string
	clock *fakeClock
}

// newECard starts an ecardEnv; its clock is real when fake is false.
func newECard(t *testing.T, fake bool) *ecardEnv {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/ecard-sim"
	env := &ecardEnv{base: base}
	cfg := simulator.Config{AppBaseURL: base + "/"}
	if fake {
		env.clock = &fakeClock{t: time.Now()}
		cfg.Now = env.clock.Now
	}
	s, err := simulator.New(cfg)
	if err != nil {
		t.Fatalf("New error = %v; want nil", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ecard-sim/", http.StripPrefix("/ecard-sim", s.AppHandler()))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	env.sim = s
	env.app = &connectorstest.HTTPApp{BaseURL: base, Client: srv.Client(), Now: cfg.Now}
	return env
}

func (env *ecardEnv) bind(t *testing.T, name, number, card string) string {
	t.Helper()
	id, err := env.app.Bind(t.Context(), name, number, card)
	if err != nil {
		t.Fatalf("Bind(%s) error = %v; want nil", name, err)
	}
	return id
}

func (env *ecardEnv) ticket(t *testing.T) connectors.LoginTicket {
	t.Helper()
	tk, err := env.sim.CreateLoginTicket(t.Context(), connectors.TicketRequest{Portal: "Example portal", ClientID: "example"})
	if err != nil {
		t.Fatalf("CreateLoginTicket error = %v; want nil", err)
	}
	return tk
}

func (env *ecardEnv) state(t *testing.T, id string) connectors.TicketStatus {
	t.Helper()
	st, err := env.sim.LoginTicketStatus(t.Context(), id)
	if err != nil {
		t.Fatalf("LoginTicketStatus error = %v; want nil", err)
	}
	return st
}

// wantRefusal checks that err is an app API refusal with status and code.
func wantRefusal(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *connectorstest.AppError
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Errorf("%s: error = %v; want %d %s", what, err, status, code)
	}
}

func TestECardSuite(t *testing.T) {
	env := newECard(t, false)
	connectorstest.TestECard(t, env.sim, env.app)
}

func TestBindConfirmStatus(t *testing.T) {
	env := newECard(t, true)
	b := env.bind(t, "张三", "110105199003070017", "A00000001")
	tk := env.ticket(t)
	if want := env.base + "/v1/tickets/" + tk.ID; tk.Payload != want {
		t.Errorf("Payload = %q; want %q", tk.Payload, want)
	}
	if len(tk.ID) != 22 || strings.Trim(tk.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("ID = %q; want 22 base64url characters (128 bits)", tk.ID)
	}
	if want := env.clock.Now().Add(connectors.TicketLifetime); !tk.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v; want %v", tk.ExpiresAt, want)
	}
	resp, err := env.app.Client.Get(tk.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var info ecardapp.TicketInfo
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || info.Ticket != tk.ID || info.Portal != "Example portal" || info.State != "pending" || !info.ExpiresAt.Equal(tk.ExpiresAt) {
		t.Errorf("GET payload = %d %+v, %v; want 200 with the ticket, its portal, pending, its expiry", resp.StatusCode, info, err)
	}
	env.clock.Add(10 * time.Second)
	if err := env.app.Answer(t.Context(), b, tk.Payload, true); err != nil {
		t.Fatalf("confirm error = %v; want nil", err)
	}
	confirmedAt := env.clock.Now()
	env.clock.Add(time.Second)
	for range 3 {
		st := env.state(t, tk.ID)
		if st.State != connectors.TicketConfirmed || st.Number.String() != "110105199003070017" || st.BindingID != b || !st.ConfirmedAt.Equal(confirmedAt) {
			t.Errorf("LoginTicketStatus = %+v; want confirmed by 张三 through %s at %v", st, b, confirmedAt)
		}
	}
	bs, err := env.sim.Bindings(t.Context(), nil)
	if err != nil || len(bs) != 1 || !bs[0].LastUsedAt.Equal(confirmedAt) || bs[0].DeviceName != "connectorstest" {
		t.Errorf("Bindings(nil) = %+v, %v; want the one binding, last used at %v", bs, err, confirmedAt)
	}
}

func TestTicketRefusals(t *testing.T) {
	env := newECard(t, true)
	b := env.bind(t, "张三", "110105199003070017", "A00000001")
	post := func(tk connectors.LoginTicket, jws string) error {
		return env.app.Post(t.Context(), tk.Payload, jws, true)
	}
	confirmation := func(t *testing.T, ticket string) string {
		t.Helper()
		jws, err := env.app.Confirmation(b, ticket)
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}

	t.Run("expired ticket", func(t *testing.T) {
		tk := env.ticket(t)
		env.clock.Add(connectors.TicketLifetime)
		wantRefusal(t, "confirm at expiry", post(tk, confirmation(t, tk.ID)), http.StatusGone, ecardapp.ErrTicketGone)
		wantRefusal(t, "GET at expiry", env.app.Answer(t.Context(), b, tk.Payload, true), http.StatusGone, ecardapp.ErrTicketGone)
		if st := env.state(t, tk.ID); st.State != connectors.TicketExpired {
			t.Errorf("LoginTicketStatus = %+v; want expired", st)
		}
	})
	t.Run("confirmed twice", func(t *testing.T) {
		tk := env.ticket(t)
		if err := post(tk, confirmation(t, tk.ID)); err != nil {
			t.Fatalf("first confirm error = %v; want nil", err)
		}
		wantRefusal(t, "second confirm", post(tk, confirmation(t, tk.ID)), http.StatusConflict, ecardapp.ErrTicketUsed)
		wantRefusal(t, "refuse after confirm", env.app.Post(t.Context(), tk.Payload, confirmation(t, tk.ID), false), http.StatusConflict, ecardapp.ErrTicketUsed)
		if st := env.state(t, tk.ID); st.State != connectors.TicketConfirmed || st.BindingID != b {
			t.Errorf("LoginTicketStatus = %+v; want still confirmed by %s", st, b)
		}
	})
	t.Run("revoked binding", func(t *testing.T) {
		r := env.bind(t, "张三", "110105199003070017", "A00000001")
		tk := env.ticket(t)
		jws, err := env.app.Confirmation(r, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.sim.RevokeBinding(t.Context(), r, nil); err != nil {
			t.Fatal(err)
		}
		wantRefusal(t, "confirm by a revoked binding", post(tk, jws), http.StatusUnauthorized, ecardapp.ErrBadSignature)
		if st := env.state(t, tk.ID); st.State != connectors.TicketPending {
			t.Errorf("LoginTicketStatus = %+v; want pending", st)
		}
	})
	t.Run("signed by another key", func(t *testing.T) {
		tk := env.ticket(t)
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		now := env.clock.Now()
		jws, err := ecardapp.Sign(other, b, ecardapp.Confirmation{Ticket: tk.ID, JTI: connectorstest.NewJTI(), IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		wantRefusal(t, "confirm signed by another key", post(tk, jws), http.StatusUnauthorized, ecardapp.ErrBadSignature)
		if st := env.state(t, tk.ID); st.State != connectors.TicketPending {
			t.Errorf("LoginTicketStatus = %+v; want pending", st)
		}
	})
	t.Run("confirmation for another ticket", func(t *testing.T) {
		tk, other := env.ticket(t), env.ticket(t)
		wantRefusal(t, "confirm with the other ticket's confirmation", post(tk, confirmation(t, other.ID)), http.StatusUnauthorized, ecardapp.ErrBadSignature)
		if st := env.state(t, tk.ID); st.State != connectors.TicketPending {
			t.Errorf("LoginTicketStatus = %+v; want pending", st)
		}
	})
	t.Run("replayed jti", func(t *testing.T) {
		tk := env.ticket(t)
		jws := confirmation(t, tk.ID)
		if err := env.app.Post(t.Context(), tk.Payload, jws, false); err != nil {
			t.Fatalf("refuse error = %v; want nil", err)
		}
		wantRefusal(t, "the same JWS again", post(tk, jws), http.StatusConflict, ecardapp.ErrReplayed)
		if st := env.state(t, tk.ID); st.State != connectors.TicketRefused {
			t.Errorf("LoginTicketStatus = %+v; want refused", st)
		}
	})
	t.Run("unknown ticket", func(t *testing.T) {
		payload := env.base + "/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA"
		jws := confirmation(t, "AAAAAAAAAAAAAAAAAAAAAA")
		wantRefusal(t, "confirm an unknown ticket", env.app.Post(t.Context(), payload, jws, true), http.StatusGone, ecardapp.ErrTicketGone)
	})
	t.Run("not a JWS", func(t *testing.T) {
		tk := env.ticket(t)
		wantRefusal(t, "confirm with garbage", post(tk, "garbage"), http.StatusUnauthorized, ecardapp.ErrBadSignature)
	})
}

// rawPost posts body to url and returns the status and the decoded error.
func rawPost(t *testing.T, c *http.Client, url, contentType, body string) (int, ecardapp.Error) {
	t.Helper()
	resp, err := c.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e ecardapp.Error
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("POST %s: %d %q; want a JSON error", url, resp.StatusCode, b)
		}
		if strings.Contains(string(b), "110105199003070017") {
			t.Errorf("POST %s: body %q carries the full number", url, b)
		}
	}
	return resp.StatusCode, e
}

func TestAppRequestLimits(t *testing.T) {
	env := newECard(t, true)
	tk := env.ticket(t)
	c := env.app.Client
	tests := []struct {
		name, url, contentType, body string
		status                       int
		code                         string
	}{
		{"confirmation too large", tk.Payload + "/confirm", ecardapp.ContentTypeJOSE, strings.Repeat("A", ecardapp.MaxBody+1), http.StatusRequestEntityTooLarge, ecardapp.ErrBadRequest},
		{"bind request too large", env.base + ecardapp.PathBindings, "application/json", `{"name":"` + strings.Repeat("张", ecardapp.MaxBody) + `"}`, http.StatusRequestEntityTooLarge, ecardapp.ErrBadRequest},
		{"confirmation as JSON", tk.Payload + "/confirm", "application/json", "x.y.z", http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"unknown endpoint", env.base + "/v1/nothing", "application/json", "{}", http.StatusNotFound, ecardapp.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := rawPost(t, c, tt.url, tt.contentType, tt.body)
			if status != tt.status || e.Code != tt.code {
				t.Errorf("POST = %d %+v; want %d %s", status, e, tt.status, tt.code)
			}
		})
	}
}

func TestAppWrongMethod(t *testing.T) {
	env := newECard(t, true)
	tk := env.ticket(t)
	for _, tt := range []struct{ method, url string }{
		{http.MethodGet, env.base + ecardapp.PathBindings},
		{http.MethodPut, tk.Payload},
		{http.MethodGet, tk.Payload + "/confirm"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, tt.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := env.app.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e ecardapp.Error
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || err != nil || e.Code != ecardapp.ErrBadRequest {
			t.Errorf("%s %s = %d %+v, %v; want 404 with a JSON bad_request", tt.method, tt.url, resp.StatusCode, e, err)
		}
	}
}

func TestBindRefusals(t *testing.T) {
	env := newECard(t, true)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecardapp.PublicJWK(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub384, err := ecardapp.PublicJWK(&p384.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	private := map[string]any{}
	for k, v := range pub {
		private[k] = v
	}
	private["d"] = "AQ"
	zhang := func(edit func(*ecardapp.BindRequest)) ecardapp.BindRequest {
		r := ecardapp.BindRequest{Name: "张三", Number: "110105199003070017", CardNumber: "A00000001", DeviceName: "phone", PublicKey: pub}
		edit(&r)
		return r
	}
	tests := []struct {
		name   string
		req    ecardapp.BindRequest
		status int
		code   string
	}{
		{"wrong name", zhang(func(r *ecardapp.BindRequest) { r.Name = "赵六" }), http.StatusForbidden, ecardapp.ErrNotMatched},
		{"wrong card", zhang(func(r *ecardapp.BindRequest) { r.CardNumber = "A00000004" }), http.StatusForbidden, ecardapp.ErrNotMatched},
		{"lost card (李四)", ecardapp.BindRequest{Name: "李四", Number: "440305198511120028", CardNumber: "A00000002", DeviceName: "phone", PublicKey: pub}, http.StatusForbidden, ecardapp.ErrNotMatched},
		{"cancelled card (王五)", ecardapp.BindRequest{Name: "王五", Number: "31011519780520003X", CardNumber: "A00000003", DeviceName: "phone", PublicKey: pub}, http.StatusForbidden, ecardapp.ErrNotMatched},
		{"invalid number", zhang(func(r *ecardapp.BindRequest) { r.Number = "110105199003070018" }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"no key", zhang(func(r *ecardapp.BindRequest) { r.PublicKey = nil }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"P-384 key", zhang(func(r *ecardapp.BindRequest) { r.PublicKey = pub384 }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"private key", zhang(func(r *ecardapp.BindRequest) { r.PublicKey = private }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"symmetric key", zhang(func(r *ecardapp.BindRequest) { r.PublicKey = map[string]any{"kty": "oct", "k": "AAAA"} }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"empty device name", zhang(func(r *ecardapp.BindRequest) { r.DeviceName = "" }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"device name of 65 characters", zhang(func(r *ecardapp.BindRequest) { r.DeviceName = strings.Repeat("机", 65) }), http.StatusBadRequest, ecardapp.ErrBadRequest},
		{"device name with a control character", zhang(func(r *ecardapp.BindRequest) { r.DeviceName = "phone\n" }), http.StatusBadRequest, ecardapp.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := json.Marshal(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			status, e := rawPost(t, env.app.Client, env.base+ecardapp.PathBindings, "application/json", string(body))
			if status != tt.status || e.Code != tt.code {
				t.Errorf("bind = %d %+v; want %d %s", status, e, tt.status, tt.code)
			}
		})
	}
	status, e := rawPost(t, env.app.Client, env.base+ecardapp.PathBindings, "application/json", `{"name":"张三","extra":1}`)
	if status != http.StatusBadRequest || e.Code != ecardapp.ErrBadRequest {
		t.Errorf("bind with an unknown field = %d %+v; want 400 bad_request", status, e)
	}
	if bs, err := env.sim.Bindings(t.Context(), nil); err != nil || len(bs) != 0 {
		t.Errorf("Bindings after refusals = %+v, %v; want none", bs, err)
	}
	ok, err := json.Marshal(zhang(func(r *ecardapp.BindRequest) { r.DeviceName = strings.Repeat("机", 64) }))
	if err != nil {
		t.Fatal(err)
	}
	if status, e := rawPost(t, env.app.Client, env.base+ecardapp.PathBindings, "application/json", string(ok)); status != http.StatusCreated {
		t.Errorf("bind with a device name of 64 characters = %d %+v; want 201", status, e)
	}
}

func TestCounterCodes(t *testing.T) {
	env := newECard(t, true)
	b := env.bind(t, "张三", "110105199003070017", "A00000001")
	verify := func(code string) connectors.CounterOutcome {
		t.Helper()
		r, err := env.sim.VerifyCounterCode(t.Context(), code)
		if err != nil {
			t.Fatalf("VerifyCounterCode error = %v; want nil", err)
		}
		if r.Outcome != connectors.CounterValid && (!r.Number.IsZero() || r.Name != "") {
			t.Errorf("VerifyCounterCode = %+v; want no holder unless valid", r)
		}
		return r.Outcome
	}
	code := func(at time.Time) string {
		t.Helper()
		c, err := env.app.CounterCode(b, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	valid := code(env.clock.Now())
	r, err := env.sim.VerifyCounterCode(t.Context(), valid)
	if err != nil || r.Outcome != connectors.CounterValid || r.Number.String() != "110105199003070017" || r.Name != "张三" || r.BindingID != b {
		t.Errorf("VerifyCounterCode(valid) = %+v, %v; want valid, 张三", r, err)
	}
	if bs, _ := env.sim.Bindings(t.Context(), nil); len(bs) != 1 || !bs[0].LastUsedAt.Equal(env.clock.Now()) {
		t.Errorf("Bindings = %+v; want LastUsedAt %v", bs, env.clock.Now())
	}
	if got := verify(valid); got != connectors.CounterUsed {
		t.Errorf("VerifyCounterCode(replayed) = %s; want used", got)
	}

	expiring := code(env.clock.Now())
	env.clock.Add(ecardapp.CounterCodeLifetime + ecardapp.Skew)
	if got := verify(expiring); got != connectors.CounterExpired {
		t.Errorf("VerifyCounterCode(expired) = %s; want expired", got)
	}

	confirmation, err := env.app.Confirmation(b, "AAAAAAAAAAAAAAAAAAAAAA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := env.clock.Now()
	foreign, err := ecardapp.Sign(other, b, ecardapp.CounterCode{Use: ecardapp.UseCounter, JTI: connectorstest.NewJTI(), IssuedAt: now.Unix(), Expiry: now.Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{
		"garbage":               "garbage",
		"empty":                 "",
		"a confirmation":        confirmation,
		"signed by another key": foreign,
		"too long":              strings.Repeat("A", connectors.MaxCounterCode+1),
	} {
		if got := verify(c); got != connectors.CounterInvalid {
			t.Errorf("VerifyCounterCode(%s) = %s; want invalid", name, got)
		}
	}

	revoked := code(env.clock.Now())
	if err := env.sim.RevokeBinding(t.Context(), b, nil); err != nil {
		t.Fatal(err)
	}
	if got := verify(revoked); got != connectors.CounterInvalid {
		t.Errorf("VerifyCounterCode(revoked binding) = %s; want invalid", got)
	}
}

func TestLicence(t *testing.T) {
	s := newDefault(t)
	l, found, err := s.Licence(t.Context(), mustParse(t, "110105199003070017"))
	if err != nil || !found {
		t.Fatalf("Licence(张三) = %+v, %v, %v; want found", l, found, err)
	}
	if l.Name != "张三" || l.Sex != "male" || l.Nationality != "CHN" || l.CardNumber != "A00000001" || l.IssuingRegion != "110105" ||
		l.IssuingAuthority != "北京市人力资源和社会保障局" || l.Status != connectors.CardNormal {
		t.Errorf("Licence(张三) = %+v; want 张三, male, CHN, A00000001, 110105, 北京市人力资源和社会保障局, normal", l)
	}
	if l.IssueDate.Year() != 2021 || !l.ValidUntil.Equal(l.IssueDate.AddDate(10, 0, 0)) {
		t.Errorf("Licence(张三) issued %v, valid until %v; want in 2021 (third generation), valid ten years", l.IssueDate, l.ValidUntil)
	}
	again, _, _ := s.Licence(t.Context(), mustParse(t, "110105199003070017"))
	if again != l {
		t.Errorf("Licence(张三) = %+v, then %+v; want the same", l, again)
	}
	li, found, err := s.Licence(t.Context(), mustParse(t, "440305198511120028"))
	if err != nil || !found || li.Sex != "female" || li.IssuingAuthority != "广东省人力资源和社会保障厅" || li.Status != connectors.CardReportedLost || li.IssueDate.Year() != 2011 {
		t.Errorf("Licence(李四) = %+v, %v, %v; want female, 广东省人力资源和社会保障厅, reported_lost, issued 2011", li, found, err)
	}
	if l, found, err := s.Licence(t.Context(), mustParse(t, "110101198001010010")); err != nil || found {
		t.Errorf("Licence(unknown) = %+v, %v, %v; want not found", l, found, err)
	}
}

func TestConcurrentConfirm(t *testing.T) {
	env := newECard(t, false)
	b := env.bind(t, "张三", "110105199003070017", "A00000001")
	tk := env.ticket(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			jws, err := env.app.Confirmation(b, tk.ID)
			if err == nil {
				err = env.app.Post(t.Context(), tk.Payload, jws, true)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		var e *connectorstest.AppError
		switch {
		case err == nil:
			ok++
		case !errors.As(err, &e) || e.Code != ecardapp.ErrTicketUsed:
			t.Errorf("confirm error = %v; want nil or ticket_used", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d confirmations answered 204; want exactly 1", ok, n)
	}
	if st := env.state(t, tk.ID); st.State != connectors.TicketConfirmed {
		t.Errorf("LoginTicketStatus = %+v; want confirmed", st)
	}
}

func TestECardPruning(t *testing.T) {
	env := newECard(t, true)
	b := env.bind(t, "张三", "110105199003070017", "A00000001")
	for range 10 {
		tk := env.ticket(t)
		if err := env.app.Answer(t.Context(), b, tk.Payload, true); err != nil {
			t.Fatal(err)
		}
	}
	if tickets, jtis := env.sim.ECardSizes(); tickets != 10 || jtis != 10 {
		t.Fatalf("sizes = %d tickets, %d jtis; want 10, 10", tickets, jtis)
	}
	env.clock.Add(2*connectors.TicketLifetime + time.Minute)
	last := env.ticket(t)
	if tickets, jtis := env.sim.ECardSizes(); tickets != 1 || jtis != 0 {
		t.Errorf("sizes after expiry = %d tickets, %d jtis; want 1 (the new one), 0", tickets, jtis)
	}
	if st := env.state(t, last.ID); st.State != connectors.TicketPending {
		t.Errorf("LoginTicketStatus(new) = %+v; want pending", st)
	}
}

func TestLiveTicketCap(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s, err := simulator.New(simulator.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	req := connectors.TicketRequest{Portal: "p"}
	for i := range simulator.MaxLiveTickets {
		if _, err := s.CreateLoginTicket(t.Context(), req); err != nil {
			t.Fatalf("CreateLoginTicket #%d error = %v; want nil", i, err)
		}
	}
	if _, err := s.CreateLoginTicket(t.Context(), req); !errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("CreateLoginTicket beyond the cap error = %v; want ErrUnavailable", err)
	}
	clock.Add(2*connectors.TicketLifetime + time.Second)
	if _, err := s.CreateLoginTicket(t.Context(), req); err != nil {
		t.Errorf("CreateLoginTicket once the others expired error = %v; want nil", err)
	}
	if _, err := s.CreateLoginTicket(t.Context(), connectors.TicketRequest{}); err == nil || errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("CreateLoginTicket(no portal) error = %v; want a request error", err)
	}
}

func TestAppBaseURLConfig(t *testing.T) {
	for _, u := range []string{"", "http://localhost:8080/ecard-sim", "https://idp.example/ecard-sim/"} {
		if err := (simulator.Config{AppBaseURL: u}).Validate(); err != nil {
			t.Errorf("Validate(app_base_url %q) = %v; want nil", u, err)
		}
	}
	for _, u := range []string{"/ecard-sim", "ftp://x/", "http://x/?a=b", "http://x/#f", "http://u:p@x/", "http://"} {
		var ce *simulator.ConfigError
		if err := (simulator.Config{AppBaseURL: u}).Validate(); !errors.As(err, &ce) || ce.Key != "app_base_url" {
			t.Errorf("Validate(app_base_url %q) = %v; want a ConfigError for app_base_url", u, err)
		}
	}
	s := newDefault(t)
	tk, err := s.CreateLoginTicket(t.Context(), connectors.TicketRequest{Portal: "p"})
	if err != nil || tk.Payload != simulator.DefaultAppBaseURL+"/v1/tickets/"+tk.ID {
		t.Errorf("CreateLoginTicket with the default base = %+v, %v; want a payload below %s", tk, err, simulator.DefaultAppBaseURL)
	}
}
