package idp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/simulator"
	"github.com/cardsso/cardsso/examples/cardplatform/server"
	"github.com/cardsso/cardsso/examples/ecard-app/app"
	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
	"github.com/cardsso/cardsso/storage"
)

// downSim is the simulator whose counter verification and licences fail
// as a platform away does (connectors.ErrUnavailable) while down is set.
type downSim struct {
	*simulator.Simulator
	down atomic.Bool
}

func (s *downSim) VerifyCounterCode(ctx context.Context, code string) (connectors.CounterResult, error) {
	if s.down.Load() {
		return connectors.CounterResult{}, fmt.Errorf("test platform: %w", connectors.ErrUnavailable)
	}
	return s.Simulator.VerifyCounterCode(ctx, code)
}

func (s *downSim) Licence(ctx context.Context, n citizenid.Number) (connectors.Licence, bool, error) {
	if s.down.Load() {
		return connectors.Licence{}, false, fmt.Errorf("test platform: %w", connectors.ErrUnavailable)
	}
	return s.Simulator.Licence(ctx, n)
}

// startECardNode starts a node on a simulator the test holds.
func startECardNode(t *testing.T) (*node, *downSim) {
	t.Helper()
	sim, err := simulator.Config{}.Open()
	if err != nil {
		t.Fatal(err)
	}
	ds := &downSim{Simulator: sim}
	return startNodeWith(t, nodeDeps{connector: ds}), ds
}

// ecardAnswer is a JSON ecardAnswer of the e-card APIs.
type ecardAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func call(t *testing.T, method, u, token, contentType, body string) ecardAnswer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := ecardAnswer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, u, b)
		}
	}
	return a
}

func verifyCode(t *testing.T, n *node, token, code string) ecardAnswer {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"code": code})
	return call(t, http.MethodPost, n.issuer+"/ecard/verify", token, "application/json", string(b))
}

// ccToken is a client credentials access token of the client, asking for scopes.
func ccToken(t *testing.T, n *node, id, secret string, scopes ...string) *oauth2.Token {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: n.issuer + "/oauth/token", Scopes: scopes}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials for %s: %v", id, err)
	}
	return tok
}

// counterLog reads the node's counter verification record, newest first.
func counterLog(t *testing.T, n *node) []storage.CounterVerification {
	t.Helper()
	st, err := openStore(context.Background(), n.cfg, n.deps)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vs, err := st.ListCounterVerifications(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// TestECardCounterVerification: a staff app (client credentials, allowed
// cardsso.counter) verifies the counter code of 张三's app, bound through
// the node's app API (examples/ecard-app): the holder's name, masked
// number and card status now. The code replayed, an expired one (the
// app's clock ten minutes behind), one of a revoked binding, a malformed
// body, a token without the scope, a client not allowed the scope, no
// token and the platform down are each refused with their error; every
// request is one row of the record with its outcome, and no row nor log
// line holds the full number.
func TestECardCounterVerification(t *testing.T) {
	n, sim := startECardNode(t)
	ctx := context.Background()
	const red = "http://127.0.0.1:9811/cb"
	deskSecret := registerClient(t, n, admin.ClientSpec{ID: "counter-desk", RedirectURIs: []string{red}, AllowedClaims: []string{"cardsso.counter"}})
	otherSecret := registerClient(t, n, admin.ClientSpec{ID: "not-a-desk", RedirectURIs: []string{red}})
	desk := ccToken(t, n, "counter-desk", deskSecret, "cardsso.counter")
	if scope, _ := desk.Extra("scope").(string); scope != "cardsso.counter" {
		t.Fatalf("the desk's granted scope = %q; want cardsso.counter", scope)
	}
	holder := app.Holder{Name: zhangSan, Number: zhangSanSSN, CardNumber: "A00000001", DeviceName: "test phone"}
	phone, err := app.Bind(ctx, nil, n.issuer+idp.AppAPIPath, holder)
	if err != nil {
		t.Fatalf("bind 张三's app through the node: %v", err)
	}
	code, err := phone.CounterCode()
	if err != nil {
		t.Fatal(err)
	}

	ok := verifyCode(t, n, desk.AccessToken, code)
	if ok.status != http.StatusOK || ok.body["name"] != zhangSan || ok.body["ssn_masked"] != "110***********0017" ||
		ok.body["card_status"] != "normal" || ok.body["card_region"] != "110105" || ok.body["verification_id"] == "" {
		t.Fatalf("verify 张三's code = %d %s; want 200 naming 张三, masked, card normal in 110105", ok.status, ok.raw)
	}
	if at, err := time.Parse(time.RFC3339, fmt.Sprint(ok.body["verified_at"])); err != nil || time.Since(at) > time.Minute {
		t.Errorf("verified_at = %v; want now, RFC 3339", ok.body["verified_at"])
	}

	behind := *phone
	behind.Now = func() time.Time { return time.Now().Add(-10 * time.Minute) }
	expired, err := behind.CounterCode()
	if err != nil {
		t.Fatal(err)
	}
	second, err := app.Bind(ctx, nil, n.issuer+idp.AppAPIPath, holder)
	if err != nil {
		t.Fatal(err)
	}
	revokedCode, err := second.CounterCode()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.RevokeBinding(ctx, second.BindingID, nil); err != nil {
		t.Fatal(err)
	}
	noScope := ccToken(t, n, "counter-desk", deskSecret)
	notAllowed := ccToken(t, n, "not-a-desk", otherSecret, "cardsso.counter")
	if scope, _ := notAllowed.Extra("scope").(string); strings.Contains(scope, "cardsso.counter") {
		t.Errorf("a client not allowed cardsso.counter was granted it: %q", scope)
	}
	fresh := func() string {
		c, err := phone.CounterCode()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	refusals := []struct {
		name, token, body string
		status            int
		code, challenge   string
	}{
		{"replayed", desk.AccessToken, code, 422, "used_code", ""},
		{"expired", desk.AccessToken, expired, 422, "expired_code", ""},
		{"revoked binding", desk.AccessToken, revokedCode, 422, "invalid_code", ""},
		{"not a code", desk.AccessToken, "not.a.code", 422, "invalid_code", ""},
		{"malformed body", desk.AccessToken, "", 400, "invalid_request", ""},
		{"token without the scope", noScope.AccessToken, fresh(), 403, "insufficient_scope", `error="insufficient_scope"`},
		{"client not allowed the scope", notAllowed.AccessToken, fresh(), 403, "insufficient_scope", `error="insufficient_scope"`},
		{"no token", "", fresh(), 401, "invalid_token", "Bearer"},
		{"made-up token", "made-up", fresh(), 401, "invalid_token", `error="invalid_token"`},
	}
	for _, tc := range refusals {
		var a ecardAnswer
		if tc.name == "malformed body" {
			a = call(t, http.MethodPost, n.issuer+"/ecard/verify", tc.token, "application/json", `{"code": 42}`)
		} else {
			a = verifyCode(t, n, tc.token, tc.body)
		}
		if a.status != tc.status || a.body["error"] != tc.code || a.body["name"] != nil {
			t.Errorf("%s: %d %s; want %d %s", tc.name, a.status, a.raw, tc.status, tc.code)
		}
		if got := a.header.Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) || (tc.challenge == "") != (got == "") {
			t.Errorf("%s: WWW-Authenticate %q; want one with %q", tc.name, got, tc.challenge)
		}
	}

	sim.down.Store(true)
	down := verifyCode(t, n, desk.AccessToken, fresh())
	sim.down.Store(false)
	if down.status != http.StatusServiceUnavailable || down.body["error"] != "temporarily_unavailable" || down.header.Get("Retry-After") == "" {
		t.Errorf("platform down: %d %s (Retry-After %q); want 503 temporarily_unavailable with Retry-After",
			down.status, down.raw, down.header.Get("Retry-After"))
	}

	// The record: one row per request, with its client and outcome (rows
	// of one millisecond may list in any order).
	want := map[string]int{"counter-desk valid": 1, "counter-desk temporarily_unavailable": 1}
	for _, tc := range refusals {
		client := "counter-desk"
		switch tc.name {
		case "client not allowed the scope":
			client = "not-a-desk"
		case "no token", "made-up token":
			continue // no authenticated client: not recorded (an anonymous caller cannot grow the table)
		}
		want[client+" "+tc.code]++
	}
	got := counterLog(t, n)
	rows := map[string]int{}
	var first storage.CounterVerification
	for _, g := range got {
		rows[g.ClientID+" "+g.Outcome]++
		if g.Outcome == "valid" {
			first = g
		}
		if strings.Contains(fmt.Sprintf("%+v", g), zhangSanSSN) {
			t.Errorf("a row holds the full number: %+v", g)
		}
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("recorded (client outcome: rows) %v; want %v", rows, want)
	}
	if first.ID != ok.body["verification_id"] || first.NumberMasked != "110***********0017" || first.BindingID != phone.BindingID {
		t.Errorf("the success's row = %+v; want verification %v, masked number, binding %s", first, ok.body["verification_id"], phone.BindingID)
	}
	if strings.Contains(n.logs.String(), zhangSanSSN) {
		t.Error("the node logged a full social security number")
	}
}

// licenceAt gets the licence with the token.
func licenceAt(t *testing.T, n *node, token string) ecardAnswer {
	t.Helper()
	return call(t, http.MethodGet, n.issuer+"/ecard/license", token, "", "")
}

// TestECardLicence: a portal allowed cardsso.license gets, with 张三's
// access token, a JWS (application/jose, typ licence+jwt) that verifies
// with the node's JWKS (go-oidc's remote key set, an independent
// verifier), names the holder and the portal, and has the number masked;
// POST /ecard/license/verify says valid, and invalid once one byte is
// changed. Without the scope, or at a portal not on the allow-list (the
// scope is then not granted), the ecardAnswer is 403 insufficient_scope; with
// the platform down 503.
func TestECardLicence(t *testing.T) {
	n, sim := startECardNode(t)
	ctx := context.Background()
	const red, red2, red3 = "http://127.0.0.1:9812/cb", "http://127.0.0.1:9813/cb", "http://127.0.0.1:9815/cb"
	r := newRP(t, n, "licence-portal", registerClient(t, n, admin.ClientSpec{ID: "licence-portal", RedirectURIs: []string{red},
		AllowedClaims: []string{"cardsso.license"}}), red)
	other := newRP(t, n, "other-portal", registerClient(t, n, admin.ClientSpec{ID: "other-portal", RedirectURIs: []string{red2}}), red2)
	r.conf.Scopes = append(r.conf.Scopes, "cardsso.license")
	other.conf.Scopes = append(other.conf.Scopes, "cardsso.license")
	br := newBrowser(t, red, red2, red3)
	v := oauth2.GenerateVerifier()
	tok, idc := exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")

	a := licenceAt(t, n, tok.AccessToken)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/jose" {
		t.Fatalf("GET /ecard/license = %d %s %s; want 200 application/jose", a.status, a.header.Get("Content-Type"), a.raw)
	}
	jws := a.raw
	payload, err := oidc.NewRemoteKeySet(ctx, n.issuer+"/keys").VerifySignature(ctx, jws)
	if err != nil {
		t.Fatalf("the licence does not verify with the node's JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"iss": n.issuer, "aud": "licence-portal", "sub": idc.Sub, "name": zhangSan, "ssn_masked": "110***********0017",
		"nationality": "CHN", "sex": "male", "card_number": "A00000001", "issuing_region": "110105",
		"issuing_authority": "北京市人力资源和社会保障局", "card_status": "normal",
	} {
		if c[k] != want {
			t.Errorf("licence claim %s = %v; want %v", k, c[k], want)
		}
	}
	if c["ssn"] != nil || strings.Contains(string(payload), zhangSanSSN) {
		t.Errorf("the licence of a portal not allowed cardsso.ssn holds the full number: %s", payload)
	}
	if c["jti"] == nil || c["iat"] == nil || c["issue_date"] == nil || c["valid_until"] == nil {
		t.Errorf("licence claims %s; want jti, iat, issue_date and valid_until", payload)
	}
	header, _ := base64URLDecode(strings.Split(jws, ".")[0])
	var h map[string]any
	_ = json.Unmarshal(header, &h)
	if h["typ"] != "licence+jwt" || h["kid"] != kidOf(t, tok) {
		t.Errorf("licence header %s; want typ licence+jwt and the ID token's kid", header)
	}
	again := licenceAt(t, n, tok.AccessToken)
	if strings.Split(again.raw, ".")[1] == strings.Split(jws, ".")[1] {
		t.Error("two licences have the same claims; want a new identifier each")
	}

	check := call(t, http.MethodPost, n.issuer+"/ecard/license/verify", "", "application/jose", jws)
	if check.status != http.StatusOK || check.body["valid"] != true {
		t.Errorf("verify the licence = %d %s; want valid", check.status, check.raw)
	}
	if cl, _ := check.body["claims"].(map[string]any); cl["name"] != zhangSan {
		t.Errorf("verified claims %v; want 张三's", check.body["claims"])
	}
	// What `cardsso license verify` does without --issuer: the published
	// keys from the database.
	published, err := n.admin(t).PublishedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lc, err := idp.VerifyLicence(jws, published, n.issuer); err != nil || lc.Name != zhangSan {
		t.Errorf("VerifyLicence with the database's keys = %+v, %v; want 张三's claims", lc, err)
	}
	tampered := changeByte(jws)
	if _, err := idp.VerifyLicence(tampered, published, n.issuer); err == nil {
		t.Error("VerifyLicence of a licence with a byte changed = nil; want an error")
	}
	bad := call(t, http.MethodPost, n.issuer+"/ecard/license/verify", "", "application/jose", tampered)
	if bad.status != http.StatusOK || bad.body["valid"] != false || bad.body["reason"] == "" {
		t.Errorf("verify a licence with a byte changed = %d %s; want valid false with a reason", bad.status, bad.raw)
	}

	// Without the scope, and at a portal not allowed it.
	r.conf.Scopes = r.conf.Scopes[:len(r.conf.Scopes)-1]
	v = oauth2.GenerateVerifier()
	plain, _ := exchange(t, r, r.authorize(br, "p", "n", v), v, "p")
	v = oauth2.GenerateVerifier()
	otherTok, _ := exchange(t, other, other.authorize(br, "o", "n", v), v, "o")
	if scope, _ := otherTok.Extra("scope").(string); strings.Contains(scope, "cardsso.license") {
		t.Errorf("a portal not on the allow-list was granted cardsso.license: %q", scope)
	}
	for name, token := range map[string]string{"without the scope": plain.AccessToken, "portal not allowed": otherTok.AccessToken} {
		a := licenceAt(t, n, token)
		if a.status != http.StatusForbidden || a.body["error"] != "insufficient_scope" ||
			!strings.Contains(a.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("%s: %d %s; want 403 insufficient_scope", name, a.status, a.raw)
		}
	}
	// A portal allowed cardsso.ssn too, and granted it, gets the full number.
	const red4 = "http://127.0.0.1:9816/cb"
	full := newRP(t, n, "full-portal", registerClient(t, n, admin.ClientSpec{ID: "full-portal", RedirectURIs: []string{red4},
		AllowedClaims: []string{"cardsso.license", "cardsso.ssn"}}), red4)
	full.conf.Scopes = []string{"openid", "cardsso.license", "cardsso.ssn"}
	br.stopAt = append(br.stopAt, red4)
	v = oauth2.GenerateVerifier()
	fullTok, _ := exchange(t, full, full.authorize(br, "f", "n", v), v, "f")
	if lc, err := idp.VerifyLicence(licenceAt(t, n, fullTok.AccessToken).raw, published, n.issuer); err != nil || lc.SSN != zhangSanSSN || lc.SSNMasked != "" {
		t.Errorf("licence of a portal granted cardsso.ssn = %+v, %v; want the full number only", lc, err)
	}

	// A third-party portal allowed the licence asks the citizen's consent,
	// and the consent page names the licence.
	third := newRP(t, n, "third-portal", registerThirdParty(t, n, admin.ClientSpec{ID: "third-portal", RedirectURIs: []string{red3},
		AllowedClaims: []string{"cardsso.license"}}), red3)
	third.conf.Scopes = []string{"openid", "cardsso.license"}
	ask := third.authorize(br, "c", "n", oauth2.GenerateVerifier())
	if ask.url.Path != "/login/consent" || !strings.Contains(ask.body, "电子证照") && !strings.Contains(ask.body, "electronic licence") {
		t.Errorf("consent for cardsso.license: %d at %s; want the consent page naming the licence:\n%s", ask.status, ask.url, ask.body)
	}
	if a := licenceAt(t, n, ""); a.status != http.StatusUnauthorized || a.body["error"] != "invalid_token" {
		t.Errorf("no token: %d %s; want 401 invalid_token", a.status, a.raw)
	}
	sim.down.Store(true)
	if a := licenceAt(t, n, tok.AccessToken); a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" {
		t.Errorf("platform down: %d %s; want 503 temporarily_unavailable", a.status, a.raw)
	}
	sim.down.Store(false)
	if strings.Contains(n.logs.String(), zhangSanSSN) {
		t.Error("the node logged a full social security number")
	}
}

// changeByte changes one byte of a compact JWS's payload.
func changeByte(jws string) string {
	b := []byte(jws)
	i := bytes.IndexByte(b, '.') + 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestECardCounterOverTheNetwork: with the networked connector
// (examples/cardplatform's server over TLS, serving the e-card and its app
// API), a counter client verifies 张三's code; with the platform down the
// answer is 503 temporarily_unavailable, and the record has the success
// and the fault, nothing else.
func TestECardCounterOverTheNetwork(t *testing.T) {
	sim, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewHandler(server.Config{Clients: map[string]string{"cardsso": platformSecret}, Checker: sim, ECard: sim, App: sim.AppHandler()})
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	p := &platform{url: ts.URL, caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNodeWith(t, p.deps())
	secret := registerClient(t, n, admin.ClientSpec{ID: "desk", RedirectURIs: []string{"http://127.0.0.1:9814/cb"}, AllowedClaims: []string{"cardsso.counter"}})
	tok := ccToken(t, n, "desk", secret, "cardsso.counter")
	phone, err := app.Bind(context.Background(), ts.Client(), ts.URL+"/app",
		app.Holder{Name: zhangSan, Number: zhangSanSSN, CardNumber: "A00000001", DeviceName: "test phone"})
	if err != nil {
		t.Fatalf("bind through the platform: %v", err)
	}
	code, _ := phone.CounterCode()
	if a := verifyCode(t, n, tok.AccessToken, code); a.status != http.StatusOK || a.body["name"] != zhangSan || a.body["card_status"] != "normal" {
		t.Errorf("verify over the network = %d %s; want 200 naming 张三, card normal", a.status, a.raw)
	}
	down.Store(true)
	code, _ = phone.CounterCode()
	a := verifyCode(t, n, tok.AccessToken, code)
	down.Store(false)
	if a.status != http.StatusServiceUnavailable || a.body["error"] != "temporarily_unavailable" || a.header.Get("Retry-After") == "" {
		t.Errorf("platform down = %d %s; want 503 temporarily_unavailable with Retry-After", a.status, a.raw)
	}
	rows := map[string]int{}
	for _, v := range counterLog(t, n) {
		rows[v.Outcome]++
	}
	if want := map[string]int{"valid": 1, "temporarily_unavailable": 1}; !reflect.DeepEqual(rows, want) {
		t.Errorf("recorded outcomes %v; want %v", rows, want)
	}
}
