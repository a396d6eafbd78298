package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsso/cardsso/idp/keys"
	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

const (
	testIssuer   = "http://127.0.0.1:9400"
	testRedirect = "http://127.0.0.1:9401/cb"
	portalSecret = "portal-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	otherSecret  = "other-secret-0123456789abcdefghijklmnopqrstuvwxyz"
)

// faultyStore is the real store whose token, account and client reads fail
// (as with the database unreachable) while their switch is set.
type faultyStore struct {
	storage.Store
	failTokens, failAccounts, failClients atomic.Bool
}

var errDown = errors.New("database unreachable")

func (s *faultyStore) GetAccessToken(ctx context.Context, id string) (storage.AccessToken, error) {
	if s.failTokens.Load() {
		return storage.AccessToken{}, errDown
	}
	return s.Store.GetAccessToken(ctx, id)
}

func (s *faultyStore) GetAccount(ctx context.Context, id string) (storage.Account, error) {
	if s.failAccounts.Load() {
		return storage.Account{}, errDown
	}
	return s.Store.GetAccount(ctx, id)
}

func (s *faultyStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	if s.failClients.Load() {
		return storage.Client{}, errDown
	}
	return s.Store.GetClient(ctx, id)
}

// testProvider is a provider over SQLite with two confidential clients
// (portal, other), a public one (spa) and one account.
type testProvider struct {
	p       *Provider
	store   *faultyStore
	account storage.Account
	now     time.Time
}

func newTestProvider(t testing.TB) *testProvider { t.Helper(); return newTestProviderAlg(t, "") }

// newTestProviderAlg is newTestProvider with signing keys of alg.
func newTestProviderAlg(t testing.TB, alg string) *testProvider {
	t.Helper()
	return newTestProviderKeys(t, alg, nil)
}

// newTestProviderKeys is newTestProviderAlg whose provider signs with the
// keys signingKeys returns for the idp/keys Manager (nil: the Manager).
func newTestProviderKeys(t testing.TB, alg string, signingKeys func(*keys.Manager) SigningKeys) *testProvider {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(t.TempDir(), "cardsso.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	text, err := keys.GenerateMasterKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	mk, err := keys.ParseMasterKey(text)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(db, mk, keys.ManagerConfig{Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	var sk SigningKeys = km
	if signingKeys != nil {
		sk = signingKeys(km)
	}
	fs := &faultyStore{Store: db}
	secrets := mk.MAC(keys.PurposeClientSecret)
	s := NewStorage(StorageConfig{
		Store: fs, Keys: sk, ClientSecrets: secrets, PairwiseKey: mk.Derive("pairwise subjects", 32), Numbers: mk,
		LoginURL:            func(id string) string { return "/login?id=" + id },
		AccessTokenLifetime: 15 * time.Minute, IDTokenLifetime: 15 * time.Minute, RefreshTokenLifetime: time.Hour,
		AuthRequestLifetime: 10 * time.Minute, CodeLifetime: time.Minute,
		ClientCacheTTL: -1, // every read reaches the (faulty) store
	})
	var ck [32]byte
	copy(ck[:], mk.Derive(keys.PurposeOIDCCrypto, 32))
	p, err := NewProvider(ProviderConfig{Issuer: testIssuer, CryptoKey: ck, Storage: s})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []storage.Client{
		{ID: "portal", SecretHash: secrets.Sum([]byte(portalSecret)), RedirectURIs: []string{testRedirect}, AllowedClaims: []string{"cardsso.ssn"}},
		{ID: "other", SecretHash: secrets.Sum([]byte(otherSecret)), RedirectURIs: []string{testRedirect}},
		{ID: "spa", Public: true, RedirectURIs: []string{testRedirect}},
	} {
		c.CreatedAt, c.UpdatedAt = now, now
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	const ssn = "110105199003070017"
	a := storage.Account{ID: "acct-1", Name: "张三", SSNIndex: mk.BlindIndex(ssn), SSNMasked: "110***********0017",
		CardRegion: "110105", CardNumber: "A00000001", CardStatus: "normal", PasswordHash: "x",
		RealNameVerifiedAt: now, CreatedAt: now, UpdatedAt: now}
	a.SSNSealed, err = mk.Seal([]byte(ssn), storage.SSNAssociatedData(a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	return &testProvider{p: p, store: fs, account: a, now: now}
}

// accessToken stores an access token of portal's and returns its value.
func (tp *testProvider) accessToken(t testing.TB, scopes []string, mod func(*storage.AccessToken)) string {
	t.Helper()
	ctx := context.Background()
	at := storage.AccessToken{ID: "at-" + strings.ReplaceAll(strings.Join(scopes, "-"), ".", "_") + "-" + time.Now().Format("150405.000000000"),
		GrantID: "grant-1", ClientID: "portal", AccountID: tp.account.ID, SessionID: "sess-1",
		Scopes: scopes, Audience: []string{"portal"}, AuthTime: tp.now.Add(-time.Minute), ACR: "urn:cardsso:loa:2",
		AMR: []string{"pwd"}, CreatedAt: tp.now, ExpiresAt: tp.now.Add(15 * time.Minute)}
	if mod != nil {
		mod(&at)
	}
	if err := tp.store.CreateAccessToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	c, err := tp.store.GetClient(ctx, at.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	v, err := op.CreateBearerToken(at.ID, tp.p.storage.subjectOf(c, at.AccountID), tp.p.op.Crypto())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// ccToken gets a client credentials JWT for the client at the token endpoint.
func (tp *testProvider) ccToken(t testing.TB, id, secret string) string {
	t.Helper()
	rec := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"ecard.verify"}}, id, secret)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.AccessToken == "" {
		t.Fatalf("client credentials: %d %s", rec.Code, rec.Body)
	}
	return out.AccessToken
}

// do sends a form request; id and secret, when set, go in Basic auth.
func (tp *testProvider) do(h http.Handler, method, path string, form url.Values, id, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, testIssuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(id, secret)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// library is the introspection endpoint as it was: zitadel/oidc's handler
// behind the fault reporter.
func (tp *testProvider) library() http.Handler {
	return reportFaults(tp.p.IssuerInterceptor(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op.Introspect(w, r, tp.p.op)
	})))
}

func decode(t testing.TB, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", rec.Code, rec.Body, err)
	}
	return m
}

// TestIntrospectSameAsLibrary: for every kind of token, the answer has the
// same fields and values as the library's handler gave.
func TestIntrospectSameAsLibrary(t *testing.T) {
	tp := newTestProvider(t)
	ctx := context.Background()
	revoked := tp.accessToken(t, []string{"openid"}, func(at *storage.AccessToken) { at.ID = "revoked" })
	if err := tp.store.DeleteAccessToken(ctx, "revoked"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, caller, secret string
		active                      bool
	}{
		{"openid", tp.accessToken(t, []string{"openid"}, nil), "portal", portalSecret, true},
		{"profile", tp.accessToken(t, []string{"openid", "profile"}, nil), "portal", portalSecret, true},
		{"profile offline_access", tp.accessToken(t, []string{"openid", "profile", "offline_access"}, nil), "portal", portalSecret, true},
		{"card", tp.accessToken(t, []string{"openid", "profile", "cardsso.card"}, nil), "portal", portalSecret, true},
		{"ssn", tp.accessToken(t, []string{"openid", "cardsso.card", "cardsso.ssn"}, nil), "portal", portalSecret, true},
		{"no acr, amr or auth_time", tp.accessToken(t, []string{"openid"}, func(at *storage.AccessToken) {
			at.ACR, at.AMR, at.AuthTime = "", nil, time.Time{}
		}), "portal", portalSecret, true},
		{"two audiences", tp.accessToken(t, []string{"openid"}, func(at *storage.AccessToken) {
			at.Audience = []string{"portal", "other"}
		}), "portal", portalSecret, true},
		{"client credentials", tp.ccToken(t, "portal", portalSecret), "portal", portalSecret, true},
		{"another client's client credentials", tp.ccToken(t, "portal", portalSecret), "other", otherSecret, false},
		{"another client's token", tp.accessToken(t, []string{"openid"}, nil), "other", otherSecret, false},
		{"expired", tp.accessToken(t, []string{"openid"}, func(at *storage.AccessToken) {
			at.CreatedAt, at.ExpiresAt = tp.now.Add(-time.Hour), tp.now.Add(-time.Minute)
		}), "portal", portalSecret, false},
		{"revoked", revoked, "portal", portalSecret, false},
		{"refresh token", "lqtVSh2h8G6rS0sNnNnJmIXKk_N6yoIU8o7bZCoRFHA", "portal", portalSecret, false},
		{"garbage", "c1.AAAA", "portal", portalSecret, false},
		{"forged JWT", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJwb3J0YWwiLCJqdGkiOiJjYzp4In0.", "portal", portalSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"token": {tt.token}}
			got := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/introspect", form, tt.caller, tt.secret)
			want := tp.do(tp.library(), http.MethodPost, "/oauth/introspect", form, tt.caller, tt.secret)
			if got.Code != http.StatusOK || want.Code != http.StatusOK {
				t.Fatalf("status %d (library %d); want 200", got.Code, want.Code)
			}
			g, w := decode(t, got), decode(t, want)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("answer\n %s\nwant (the library's)\n %s", got.Body, want.Body)
			}
			if g["active"] != tt.active {
				t.Errorf("active = %v; want %v", g["active"], tt.active)
			}
			if !tt.active && len(g) != 1 {
				t.Errorf("inactive answer %s says more than active=false", got.Body)
			}
			if ct := got.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q; want application/json", ct)
			}
		})
	}
}

// TestIntrospectAnswerShape pins the fields of an active answer.
func TestIntrospectAnswerShape(t *testing.T) {
	tp := newTestProvider(t)
	tok := tp.accessToken(t, []string{"openid", "profile", "cardsso.card"}, nil)
	rec := tp.do(tp.p.Handler(), http.MethodPost, "/oauth/introspect", url.Values{"token": {tok}}, "portal", portalSecret)
	got := decode(t, rec)
	c, _ := tp.store.GetClient(context.Background(), "portal")
	want := map[string]any{
		"active": true, "scope": "openid profile cardsso.card", "client_id": "portal", "token_type": "Bearer",
		"exp": float64(tp.now.Add(15 * time.Minute).Unix()), "iat": float64(tp.now.Unix()),
		"auth_time": float64(tp.now.Add(-time.Minute).Unix()), "sub": tp.p.storage.subjectOf(c, tp.account.ID),
		"aud": []any{"portal"}, "amr": []any{"pwd"}, "iss": testIssuer, "acr": "urn:cardsso:loa:2",
		"name": "张三", "ssn_masked": "110***********0017", "card_region": "110105", "card_status": "normal",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer %s;\nwant %v", rec.Body, want)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q; want no-store", cc)
	}
}

// TestIntrospectErrors: the answers that are not about the token.
func TestIntrospectErrors(t *testing.T) {
	tp := newTestProvider(t)
	tok := tp.accessToken(t, []string{"openid"}, nil)
	h := tp.p.Handler()
	post := func(form url.Values, header http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, testIssuer+"/oauth/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	basic := func(id, secret string) http.Header {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(id, secret)
		return r.Header
	}
	tests := []struct {
		name      string
		form      url.Values
		header    http.Header
		status    int
		err       string
		challenge bool
	}{
		{"no client authentication", url.Values{"token": {tok}}, nil, 401, "invalid_client", false},
		{"client_id alone", url.Values{"token": {tok}, "client_id": {"portal"}}, nil, 401, "invalid_client", false},
		{"wrong secret (basic)", url.Values{"token": {tok}}, basic("portal", "wrong-secret-wrong-secret-wrong-secret"), 401, "invalid_client", true},
		{"wrong secret (post)", url.Values{"token": {tok}, "client_id": {"portal"}, "client_secret": {"wrong"}}, nil, 401, "invalid_client", false},
		{"unknown client", url.Values{"token": {tok}}, basic("nobody", portalSecret), 401, "invalid_client", true},
		{"public client", url.Values{"token": {tok}, "client_id": {"spa"}, "client_secret": {"x"}}, nil, 401, "invalid_client", false},
		{"public client, basic without secret", url.Values{"token": {tok}}, basic("spa", ""), 401, "invalid_client", true},
		{"not basic", url.Values{"token": {tok}}, http.Header{"Authorization": {"Bearer " + tok}}, 401, "invalid_client", true},
		{"client assertion", url.Values{"token": {tok}, "client_id": {"portal"}, "client_assertion": {"eyJ.eyJ.sig"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, nil, 401, "invalid_client", false},
		{"no token", url.Values{}, basic("portal", portalSecret), 400, "invalid_request", false},
		{"no token (post)", url.Values{"client_id": {"portal"}, "client_secret": {portalSecret}}, nil, 400, "invalid_request", false},
		{"body too large", url.Values{"token": {strings.Repeat("x", maxFormBody)}}, basic("portal", portalSecret), 413, "invalid_request", false},
		{"client_secret_post", url.Values{"token": {tok}, "client_id": {"portal"}, "client_secret": {portalSecret}}, nil, 200, "", false},
		{"basic with form-encoded secret", url.Values{"token": {tok}}, basic("portal", url.QueryEscape(portalSecret)), 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := post(tt.form, tt.header)
			got := decode(t, rec)
			if rec.Code != tt.status {
				t.Fatalf("status %d %s; want %d", rec.Code, rec.Body, tt.status)
			}
			if tt.err == "" {
				if got["active"] != true {
					t.Errorf("answer %s; want active", rec.Body)
				}
				return
			}
			if got["error"] != tt.err {
				t.Errorf("error %v; want %s", got["error"], tt.err)
			}
			if ch := rec.Header().Get("WWW-Authenticate"); (ch != "") != tt.challenge {
				t.Errorf("WWW-Authenticate %q; want one: %v", ch, tt.challenge)
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		rec := tp.do(h, http.MethodGet, "/oauth/introspect?token="+url.QueryEscape(tok), nil, "portal", portalSecret)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
			t.Errorf("GET: %d Allow %q; want 405 Allow POST", rec.Code, rec.Header().Get("Allow"))
		}
	})
}

// TestIntrospectStoreFault: a store that fails gives 503 server_error, not
// active=false (the token may well be live) nor invalid_client.
func TestIntrospectStoreFault(t *testing.T) {
	tp := newTestProvider(t)
	tok := tp.accessToken(t, []string{"openid", "profile"}, nil)
	cc := tp.ccToken(t, "portal", portalSecret)
	h := tp.p.Handler()
	tests := []struct {
		name  string
		token string
		fail  *atomic.Bool
	}{
		{"client read (authentication)", tok, &tp.store.failClients},
		{"token read", tok, &tp.store.failTokens},
		{"account read", tok, &tp.store.failAccounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fail.Store(true)
			rec := tp.do(h, http.MethodPost, "/oauth/introspect", url.Values{"token": {tt.token}}, "portal", portalSecret)
			tt.fail.Store(false)
			if got := decode(t, rec); rec.Code != http.StatusServiceUnavailable || got["error"] != "temporarily_unavailable" || rec.Header().Get("Retry-After") == "" {
				t.Errorf("during the outage: %d %s; want 503 temporarily_unavailable with Retry-After", rec.Code, rec.Body)
			}
			rec = tp.do(h, http.MethodPost, "/oauth/introspect", url.Values{"token": {tt.token}}, "portal", portalSecret)
			if got := decode(t, rec); got["active"] != true {
				t.Errorf("after the outage: %d %s; want active", rec.Code, rec.Body)
			}
		})
	}
	t.Run("client credentials token", func(t *testing.T) {
		// Authenticate the caller by client_secret_post before the outage
		// starts would need a cache; with none, the client read fails first.
		tp.store.failClients.Store(true)
		rec := tp.do(h, http.MethodPost, "/oauth/introspect", url.Values{"token": {cc}}, "portal", portalSecret)
		tp.store.failClients.Store(false)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("during the outage: %d %s; want 503", rec.Code, rec.Body)
		}
	})
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "张三", `quote " and \ backslash`, "tab\tnewline\n", "<script>&", "\u2028\u2029",
		"bad \xff utf-8", "\x7f", "emoji 🙂"} {
		got := string(appendJSONString(nil, s))
		want, _ := json.Marshal(s)
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || (back != s && utf8Valid(s)) {
			t.Errorf("appendJSONString(%q) = %s (reads back %q, %v); want %s", s, got, back, err, want)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\ufffd") == s }
