package idp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

// fixture is a node with a confidential and a public client and a
// registered citizen (张三).
type fixture struct {
	n      *node
	conf   *rp // confidential
	public *rp
}

const (
	confRedirect   = "http://127.0.0.1:9101/cb"
	publicRedirect = "http://127.0.0.1:9102/cb"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	n := startNode(t)
	secret := registerClient(t, n, admin.ClientSpec{ID: "conf", RedirectURIs: []string{confRedirect}})
	registerClient(t, n, admin.ClientSpec{ID: "pub", Public: true, RedirectURIs: []string{publicRedirect}})
	f := &fixture{n: n, conf: newRP(t, n, "conf", secret, confRedirect), public: newRP(t, n, "pub", "", publicRedirect)}
	// Register 张三 once.
	br := f.browser(t)
	p := f.conf.authorize(br, "s", "n", oauth2.GenerateVerifier())
	codeFrom(t, register(t, br, n, p, zhangSan, zhangSanSSN, goodPass), confRedirect, "s")
	return f
}

func (f *fixture) browser(t *testing.T) *browser { return newBrowser(t, confRedirect, publicRedirect) }

// loginPage opens a fresh browser at the login page of a new request.
func (f *fixture) loginPage(t *testing.T) (*browser, page) {
	t.Helper()
	br := f.browser(t)
	p := f.conf.authorize(br, "st", "nonce", oauth2.GenerateVerifier())
	if p.status != http.StatusOK {
		t.Fatalf("authorize: status %d at %s", p.status, p.url)
	}
	return br, p
}

// login logs 张三 in with a fresh browser and returns the code and verifier.
func (f *fixture) login(t *testing.T) (code, verifier string) {
	t.Helper()
	br := f.browser(t)
	verifier = oauth2.GenerateVerifier()
	p := f.conf.authorize(br, "st", "nonce", verifier)
	done := br.submit(f.n.issuer, formFor(t, p, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass})
	return codeFrom(t, done, confRedirect, "st"), verifier
}

func TestLoginErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name       string
		action     string
		values     map[string]string
		wantStatus int
		wantText   string
	}{
		{"wrong password", "/login/password", map[string]string{"ssn": zhangSanSSN, "password": "wrong password 1"},
			http.StatusUnauthorized, "number or the password is wrong"},
		{"unknown number, same answer", "/login/password", map[string]string{"ssn": "510104200002290046", "password": "wrong password 1"},
			http.StatusUnauthorized, "number or the password is wrong"},
		{"malformed number: check character", "/login/password", map[string]string{"ssn": "110105199003070018", "password": "x"},
			http.StatusBadRequest, "last character of the number does not match"},
		{"malformed number: 17 characters", "/login/register", map[string]string{"name": zhangSan, "ssn": "11010519900307001"},
			http.StatusBadRequest, "must be 18 characters"},
		{"malformed number: letters", "/login/register", map[string]string{"name": zhangSan, "ssn": "11010519900307001A"},
			http.StatusBadRequest, "only digits"},
		{"name mismatch", "/login/register", map[string]string{"name": "李四", "ssn": "510104200002290046"},
			http.StatusUnauthorized, "do not match the card records"},
		{"unknown number at registration, same answer", "/login/register", map[string]string{"name": "李四", "ssn": "110101198001010010"},
			http.StatusUnauthorized, "do not match the card records"},
		// A registered number answers as an unregistered one would: on to
		// the password page (the reclaim is offered after it, reclaim_test.go).
		{"already registered, same answer as unregistered", "/login/register", map[string]string{"name": zhangSan, "ssn": zhangSanSSN},
			http.StatusOK, "Choose your password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br, p := f.loginPage(t)
			got := br.submit(f.n.issuer, formFor(t, p, tt.action), tt.values)
			if got.status != tt.wantStatus || !strings.Contains(got.body, tt.wantText) {
				t.Errorf("status %d, body without %q; want %d:\n%s", got.status, tt.wantText, tt.wantStatus, got.body)
			}
			// The page is shown again with its forms, so the citizen can retry.
			if got.status != http.StatusOK {
				formFor(t, got, "/login/password")
			}
		})
	}
	assertNoPersonalData(t, f.n)
}

func TestLoginPagesInChinese(t *testing.T) {
	f := newFixture(t)
	br := f.browser(t)
	u := f.conf.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	resp, err := br.c.Do(req) // no Accept-Language: the default is zh-CN
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(body, `lang="zh-CN"`) || !strings.Contains(body, "社会保障号码") {
		t.Errorf("default login page is not in Chinese:\n%s", body)
	}
	en := br.get(resp.Request.URL.String() + "&lang=en")
	if !strings.Contains(en.body, `lang="en"`) || !strings.Contains(en.body, "Social security number") {
		t.Errorf("language switch to English failed:\n%s", en.body)
	}
}

func TestCSRFTokenRequired(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ name, token string }{{"missing", ""}, {"wrong", "AAAA"}} {
		t.Run(tc.name, func(t *testing.T) {
			br, p := f.loginPage(t)
			form := formFor(t, p, "/login/password")
			form.fields.Set("csrf_token", tc.token)
			got := br.submit(f.n.issuer, form, map[string]string{"ssn": zhangSanSSN, "password": goodPass})
			if got.status != http.StatusForbidden || !strings.Contains(got.body, "form has expired") {
				t.Errorf("status %d; want 403 with an explanation:\n%s", got.status, got.body)
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	f := newFixture(t)
	br := f.browser(t)
	base := f.conf.conf.Endpoint.AuthURL
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())

	// Unregistered redirect_uri: an error page, never a redirect.
	p := br.get(base + "?" + url.Values{"client_id": {"conf"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"http://127.0.0.1:6666/evil"}, "state": {"s"}}.Encode())
	if p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("unregistered redirect_uri: status %d location %q; want 400 and no redirect", p.status, p.location)
	}
	// Unknown client: an error page.
	p = br.get(base + "?" + url.Values{"client_id": {"nobody"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {confRedirect}, "state": {"s"}}.Encode())
	if p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("unknown client: status %d location %q; want 400 and no redirect", p.status, p.location)
	}
	// Public client: plain PKCE and missing PKCE are refused with invalid_request.
	for name, q := range map[string]url.Values{
		"plain PKCE": {"code_challenge": {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs"}, "code_challenge_method": {"plain"}},
		"no PKCE":    {},
	} {
		q.Set("client_id", "pub")
		q.Set("response_type", "code")
		q.Set("scope", "openid")
		q.Set("redirect_uri", publicRedirect)
		q.Set("state", "s")
		p := br.get(base + "?" + q.Encode())
		u, _ := url.Parse(p.location)
		if !strings.HasPrefix(p.location, publicRedirect) || u.Query().Get("error") != "invalid_request" {
			t.Errorf("%s: redirect %q; want %s?error=invalid_request", name, p.location, publicRedirect)
		}
	}
	// prompt=none without a session: login_required back at the client.
	p = br.get(base + "?" + url.Values{"client_id": {"conf"}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {confRedirect}, "state": {"s"}, "prompt": {"none"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode())
	u, _ := url.Parse(p.location)
	if u == nil || u.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none without session: redirect %q; want error=login_required", p.location)
	}
}

func TestTokenErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	t.Run("missing PKCE verifier", func(t *testing.T) {
		code, _ := f.login(t)
		_, err := f.conf.conf.Exchange(ctx, code)
		if got := oauthError(err); got != "invalid_request" {
			t.Errorf("error %q (%v); want invalid_request", got, err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		code, _ := f.login(t)
		_, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if got := oauthError(err); got != "invalid_grant" {
			t.Errorf("error %q (%v); want invalid_grant", got, err)
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		code, v := f.login(t)
		bad := f.conf.conf
		bad.ClientID = "nobody"
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(v))
		if got := oauthError(err); got != "invalid_client" {
			t.Errorf("error %q (%v); want invalid_client", got, err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code, v := f.login(t)
		bad := f.conf.conf
		bad.ClientSecret = strings.Repeat("x", 43)
		_, err := bad.Exchange(ctx, code, oauth2.VerifierOption(v))
		if got := oauthError(err); got != "invalid_client" {
			t.Errorf("error %q (%v); want invalid_client", got, err)
		}
	})
	t.Run("code used twice revokes the first tokens", func(t *testing.T) {
		code, v := f.login(t)
		tok, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if got := oauthError(err); got != "invalid_grant" {
			t.Errorf("second use: error %q (%v); want invalid_grant", got, err)
		}
		if _, err := f.conf.userinfo(tok); err == nil {
			t.Errorf("access token from the first use still works")
		}
		if _, err := f.conf.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh token from the first use: %v; want invalid_grant", err)
		}
	})
	t.Run("parallel redemptions: exactly one wins", func(t *testing.T) {
		code, v := f.login(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 8 {
			wg.Go(func() {
				if _, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d of 8 parallel redemptions succeeded; want exactly 1", wins)
		}
	})
	t.Run("rotated refresh token reused revokes the family", func(t *testing.T) {
		code, v := f.login(t)
		tok, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		tok2, err := f.conf.refresh(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.conf.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("reuse of a rotated refresh token: %v; want invalid_grant", err)
		}
		if _, err := f.conf.refresh(tok2.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("the family's newest refresh token still works after reuse: %v", err)
		}
		if _, err := f.conf.userinfo(tok2); err == nil {
			t.Errorf("the family's access token still works after reuse")
		}
	})
	t.Run("revoking a refresh token revokes its grant", func(t *testing.T) {
		code, v := f.login(t)
		tok, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.conf.revoke(tok.RefreshToken, "refresh_token"); got != http.StatusOK {
			t.Fatalf("revocation status %d", got)
		}
		if _, err := f.conf.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("revoked refresh token: %v; want invalid_grant", err)
		}
		if _, err := f.conf.userinfo(tok); err == nil {
			t.Errorf("access token of a revoked grant still works")
		}
	})
	t.Run("introspection needs a confidential client", func(t *testing.T) {
		code, v := f.login(t)
		tok, err := f.conf.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, f.conf.eps.Introspection, strings.NewReader(url.Values{"token": {tok.AccessToken}, "client_id": {"pub"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(body, `"active":true`) {
			t.Errorf("a public client introspected a token: %s", body)
		}
	})
}

func TestLogoutRedirectMustBeRegistered(t *testing.T) {
	f := newFixture(t)
	code, v := f.login(t)
	tok, err := f.conf.conf.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	br := f.browser(t)
	p := br.get(f.conf.eps.EndSession + "?" + url.Values{
		"id_token_hint":            {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"http://127.0.0.1:6666/evil"},
	}.Encode())
	if strings.Contains(p.location, "6666") || p.status < 400 {
		t.Errorf("unregistered post_logout_redirect_uri: status %d location %q; want an error", p.status, p.location)
	}
	_ = oidc.ScopeOpenID
}

func TestClientSecretPost(t *testing.T) {
	f := newFixture(t)
	code, v := f.login(t)
	post := f.conf.conf
	post.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok, err := post.Exchange(context.Background(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("client_secret_post exchange: %v", err)
	}
	f.conf.verify(tok)
}

// TestLogoutWithoutHintAsks: without an id_token_hint the OP asks before it
// ends the session, so a stray link cannot log a citizen out.
func TestLogoutWithoutHintAsks(t *testing.T) {
	n := startNode(t)
	const redirect, bye = "http://127.0.0.1:9201/cb", "http://127.0.0.1:9201/bye"
	secret := registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{bye}})
	r := newRP(t, n, "c", secret, redirect)
	br := newBrowser(t, redirect, bye)
	p := r.authorize(br, "s", "n", oauth2.GenerateVerifier())
	codeFrom(t, register(t, br, n, p, zhangSan, zhangSanSSN, goodPass), redirect, "s")

	ask := br.get(r.eps.EndSession + "?" + url.Values{"client_id": {"c"}, "post_logout_redirect_uri": {bye}}.Encode())
	if ask.status != http.StatusOK {
		t.Fatalf("end_session without hint: %d %q; want the confirmation page", ask.status, ask.location)
	}
	// Still signed in: a new request gets a code without a prompt.
	codeFrom(t, r.authorize(br, "s2", "n", oauth2.GenerateVerifier()), redirect, "s2")
	done := br.submit(n.issuer, formFor(t, ask, "/logout"), nil)
	if !strings.HasPrefix(done.location, bye) {
		t.Fatalf("after confirming: %d %q; want %s", done.status, done.location, bye)
	}
	again := r.authorize(br, "s3", "n", oauth2.GenerateVerifier())
	if again.status != http.StatusOK || !strings.Contains(again.body, `action="/login/password"`) {
		t.Errorf("after logout, authorize did not ask to log in: %d %s", again.status, again.location)
	}
	// A forged logout link (bad signature) cannot pick the redirect.
	forged := br.get(n.issuer + "/logout?to=https://evil.example.com/&sub=&sig=AAAA")
	if strings.Contains(forged.location, "evil") {
		t.Errorf("forged logout link redirected to %q", forged.location)
	}
}
