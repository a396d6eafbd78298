package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

// button is a submit button of a page's form.
type button struct {
	action, name, value, text string
	hidden                    url.Values // the form's hidden inputs
}

// buttonsOf lists the buttons of every form of a page, and counts the
// radio inputs.
func buttonsOf(t *testing.T, body string) (out []button, radios int) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attrs := func(n *html.Node) map[string]string {
		m := map[string]string{}
		for _, a := range n.Attr {
			m[a.Key] = a.Val
		}
		return m
	}
	var text func(*html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var b strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			b.WriteString(text(c))
		}
		return b.String()
	}
	var walk func(n *html.Node, form string, hidden url.Values)
	walk = func(n *html.Node, form string, hidden url.Values) {
		if n.Type == html.ElementNode {
			a := attrs(n)
			switch n.Data {
			case "form":
				hidden = url.Values{}
				form = a["action"]
				var collect func(*html.Node)
				collect = func(c *html.Node) {
					if c.Type == html.ElementNode && c.Data == "input" {
						ca := attrs(c)
						if ca["type"] == "hidden" {
							hidden.Set(ca["name"], ca["value"])
						}
						if ca["type"] == "radio" {
							radios++
						}
					}
					for d := c.FirstChild; d != nil; d = d.NextSibling {
						collect(d)
					}
				}
				collect(n)
			case "button":
				out = append(out, button{action: form, name: a["name"], value: a["value"], text: strings.TrimSpace(text(n)), hidden: hidden})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form, hidden)
		}
	}
	walk(doc, "", nil)
	return out, radios
}

// press submits the form of a button, with the button's name and value.
func (b *browser) press(base string, bt button) page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range bt.hidden {
		v[k] = vs
	}
	if bt.name != "" {
		v.Set(bt.name, bt.value)
	}
	return b.post(base+bt.action, v)
}

// TestConsentPage: the consent page says who is signing in (张*, masked
// number, never the full name or number), lists what a claims request adds
// (also inside verified_claims) in both languages, and answers with
// exactly two buttons, Allow and Deny. The answer covers the claims: the
// same claims pass next time, a new claim asks again.
func TestConsentPage(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9721/cb"
	r := newRP(t, n, "third", registerThirdParty(t, n, admin.ClientSpec{ID: "third", Name: "Third portal", RedirectURIs: []string{red}}), red)
	r.conf.Scopes = []string{oidc.ScopeOpenID}
	br := newBrowser(t, red)
	claimsReq := oauth2.SetAuthURLParam("claims",
		`{"userinfo":{"birthdate":null},"id_token":{"acr":{"essential":false},"verified_claims":{"verification":{"trust_framework":null},"claims":{"name":null}}}}`)
	v := oauth2.GenerateVerifier()
	ask := register(t, br, n, r.authorize(br, "s", "n", v, claimsReq), zhangSan, zhangSanSSN, goodPass)
	if ask.url.Path != "/login/consent" {
		t.Fatalf("no consent page: %d at %s:\n%s", ask.status, ask.url, ask.body)
	}
	for _, want := range []string{"张*", "110***********0017", "Third portal",
		"your name, as verified by the card service", "how your identity was verified", "your date of birth"} {
		if !strings.Contains(ask.body, want) {
			t.Errorf("consent page lacks %q:\n%s", want, ask.body)
		}
	}
	for _, never := range []string{zhangSan, zhangSanSSN} {
		if strings.Contains(ask.body, never) {
			t.Errorf("consent page shows %q unmasked", never)
		}
	}
	buttons, radios := buttonsOf(t, ask.body)
	var allow, deny *button
	var consentButtons int
	for i, b := range buttons {
		if b.action != "/login/consent" {
			continue
		}
		consentButtons++
		switch {
		case b.name == "decision" && b.value == "allow" && b.text == "Allow":
			allow = &buttons[i]
		case b.name == "decision" && b.value == "deny":
			deny = &buttons[i]
		}
	}
	if consentButtons != 2 || allow == nil || deny == nil || radios != 0 {
		t.Fatalf("consent form: %d buttons (%+v), %d radios; want exactly Allow and Deny, no radios", consentButtons, buttons, radios)
	}
	if allow.hidden.Get("csrf_token") == "" {
		t.Error("consent form without CSRF token")
	}
	// The same page in Chinese names the claims in Chinese.
	zh := br.get(ask.url.String() + "&lang=zh-CN")
	for _, want := range []string{"经社保卡服务平台核验的您的姓名", "您的出生日期", "正在登录", "同意"} {
		if !strings.Contains(zh.body, want) {
			t.Errorf("Chinese consent page lacks %q", want)
		}
	}
	br.get(ask.url.String() + "&lang=en")
	// Without the CSRF token the button does nothing.
	forged := *allow
	forged.hidden = url.Values{"authRequestID": allow.hidden["authRequestID"]}
	if got := br.press(n.issuer, forged); got.status != http.StatusForbidden {
		t.Errorf("consent without CSRF token: %d; want 403", got.status)
	}
	exchange(t, r, br.press(n.issuer, *allow), v, "s")

	// Remembered, claims included: the same request passes at once.
	v2 := oauth2.GenerateVerifier()
	exchange(t, r, r.authorize(br, "s2", "n", v2, claimsReq), v2, "s2")
	// A claim not consented to asks again.
	more := r.authorize(br, "s3", "n", oauth2.GenerateVerifier(), oauth2.SetAuthURLParam("claims", `{"userinfo":{"ssn_masked":null}}`))
	if more.url.Path != "/login/consent" || !strings.Contains(more.body, "your masked social security number") {
		t.Fatalf("a new claim did not ask again: %d at %s", more.status, more.url)
	}
	buttons, _ = buttonsOf(t, more.body)
	for _, b := range buttons {
		if b.action == "/login/consent" && b.value == "deny" {
			if got := br.press(n.issuer, b); !strings.Contains(got.location, "error=access_denied") {
				t.Errorf("Deny: %q; want access_denied", got.location)
			}
		}
	}
}

// sessionButtons are the end buttons of the account page: the current
// session's, and the others.
func sessionButtons(t *testing.T, p page) (current button, others []button) {
	t.Helper()
	buttons, _ := buttonsOf(t, p.body)
	found := false
	for _, b := range buttons {
		if b.action != "/account/session/end" {
			continue
		}
		if b.hidden.Get("session") == "" || b.hidden.Get("csrf_token") == "" {
			t.Fatalf("end button without session reference or CSRF token: %+v", b)
		}
		if b.text == "Log out here" {
			current, found = b, true
		} else {
			others = append(others, b)
		}
	}
	if !found {
		t.Fatalf("the account page does not list the current session:\n%s", p.body)
	}
	return current, others
}

// TestAccountPageSessionsAndConsents: the account page names the level in
// words, lists the citizen's live sessions with the portals each signed in
// to, each with an end button, and the remembered consents with a
// withdraw button. Ending another session of one's own ends it (with a
// back-channel logout to its portal); another citizen's session reference
// is refused and ends nothing; ending the current one logs out; a
// withdrawn consent is asked again.
func TestAccountPageSessionsAndConsents(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9722/cb"
	rec := newLogoutReceiver(t, n, "third", 0)
	secret := registerThirdParty(t, n, admin.ClientSpec{ID: "third", Name: "Third portal", RedirectURIs: []string{red}, BackchannelLogoutURI: rec.url})
	r := newRP(t, n, "third", secret, red)
	r.conf.Scopes = []string{oidc.ScopeOpenID, "profile"}

	// 张三 on a first browser: registers at the portal and allows it.
	a1 := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	ask := register(t, a1, n, r.authorize(a1, "s", "n", v), zhangSan, zhangSanSSN, goodPass)
	buttons, _ := buttonsOf(t, ask.body)
	for _, b := range buttons {
		if b.value == "allow" {
			exchange(t, r, a1.press(n.issuer, b), v, "s")
		}
	}
	// … and on a second browser, at the account page only.
	a2 := newBrowser(t)
	login := a2.get(n.issuer + "/account")
	if got := a2.submit(n.issuer, formFor(t, login, "/login/password"), map[string]string{"ssn": zhangSanSSN, "password": goodPass}); got.url.Path != "/account" {
		t.Fatalf("second login: %d at %s", got.status, got.url)
	}
	// 赵六, another citizen, on a third browser.
	b := newBrowser(t)
	bPage := register(t, b, n, b.get(n.issuer+"/account"), zhaoLiu, zhaoLiuSSN, goodPass)
	if bPage.url.Path != "/account" {
		t.Fatalf("赵六's registration: %d at %s", bPage.status, bPage.url)
	}

	page1 := a1.get(n.issuer + "/account")
	if !strings.Contains(page1.body, "Level 1 (real name)") || strings.Contains(page1.body, "urn:cardsso:loa") {
		t.Errorf("the account page does not name the level in words:\n%s", page1.body)
	}
	zh := a1.get(n.issuer + "/account?lang=zh-CN")
	if !strings.Contains(zh.body, "一级（实名）") {
		t.Errorf("the Chinese account page does not name the level in words")
	}
	a1.get(n.issuer + "/account?lang=en")
	_, others := sessionButtons(t, page1)
	if len(others) != 1 {
		t.Fatalf("account page lists %d other sessions; want 1 (the second browser)", len(others))
	}
	if !strings.Contains(page1.body, "Third portal") {
		t.Errorf("the account page does not name the portal the session signed in to")
	}

	// 赵六 posts 张三's second session's reference with his own valid form:
	// refused, and the session lives.
	bCur, _ := sessionButtons(t, b.get(n.issuer+"/account"))
	foreign := bCur
	foreign.hidden = url.Values{"csrf_token": bCur.hidden["csrf_token"], "session": others[0].hidden["session"]}
	if got := b.press(n.issuer, foreign); got.status != http.StatusNotFound {
		t.Errorf("ending another citizen's session: %d; want 404", got.status)
	}
	if p := a2.get(n.issuer + "/account"); p.url.Path != "/account" {
		t.Fatalf("another citizen ended 张三's session: %d at %s", p.status, p.url)
	}
	if p := b.get(n.issuer + "/account"); p.url.Path != "/account" {
		t.Errorf("赵六 was logged out by the refused post: %d at %s", p.status, p.url)
	}
	// Without the CSRF token: refused.
	noCSRF := others[0]
	noCSRF.hidden = url.Values{"session": others[0].hidden["session"]}
	if got := a1.press(n.issuer, noCSRF); got.status != http.StatusForbidden {
		t.Errorf("ending a session without CSRF token: %d; want 403", got.status)
	}

	// The second browser's session, from its own page, lists the first
	// browser's session with the portal; ending it logs the portal out.
	_, fromA2 := sessionButtons(t, a2.get(n.issuer+"/account"))
	if len(fromA2) != 1 {
		t.Fatalf("second browser sees %d other sessions; want 1", len(fromA2))
	}
	if got := a2.press(n.issuer, fromA2[0]); got.status != http.StatusOK || !strings.Contains(got.body, "The session is ended") {
		t.Fatalf("ending the first browser's session: %d at %s:\n%s", got.status, got.url, got.body)
	}
	if p := a1.get(n.issuer + "/account"); p.url.Path != "/login" {
		t.Errorf("the ended session still works: %d at %s", p.status, p.url)
	}
	if lt := rec.wait(); lt.Subject == "" {
		t.Errorf("back-channel logout without subject")
	}

	// Consents: listed with a withdraw button; withdrawing makes the
	// portal ask again.
	page2 := a2.get(n.issuer + "/account")
	var withdraw *button
	buttons, _ = buttonsOf(t, page2.body)
	for i, bt := range buttons {
		if bt.action == "/account/consent/withdraw" && bt.hidden.Get("client") == "third" {
			withdraw = &buttons[i]
		}
	}
	if withdraw == nil || !strings.Contains(page2.body, "your name") {
		t.Fatalf("no withdraw button for the portal's consent:\n%s", page2.body)
	}
	a2.stopAt = append(a2.stopAt, red)
	v3 := oauth2.GenerateVerifier()
	exchange(t, r, r.authorize(a2, "s3", "n", v3), v3, "s3") // remembered: no consent page
	if got := a2.press(n.issuer, *withdraw); got.status != http.StatusOK || !strings.Contains(got.body, "Consent withdrawn") {
		t.Fatalf("withdraw: %d:\n%s", got.status, got.body)
	}
	if again := r.authorize(a2, "s4", "n", oauth2.GenerateVerifier()); again.url.Path != "/login/consent" {
		t.Errorf("after withdrawal the portal did not ask again: %d at %s", again.status, again.url)
	}
	// Withdrawing again, or another citizen's consent: nothing to withdraw.
	if got := a2.press(n.issuer, *withdraw); got.status != http.StatusNotFound {
		t.Errorf("withdrawing a withdrawn consent: %d; want 404", got.status)
	}

	// Ending the current session logs out.
	cur2, _ := sessionButtons(t, a2.get(n.issuer+"/account"))
	if got := a2.press(n.issuer, cur2); got.url.Path != "/logout/done" {
		t.Errorf("ending the current session: %d at %s; want the logged-out page", got.status, got.url)
	}
	if p := a2.get(n.issuer + "/account"); p.url.Path != "/login" {
		t.Errorf("still signed in after ending the current session: %d at %s", p.status, p.url)
	}
}
