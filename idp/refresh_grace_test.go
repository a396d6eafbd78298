package idp_test

import (
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp"
	"github.com/cardsso/cardsso/idp/admin"
)

// TestRefreshReuseGrace: a portal that crashed after CardSSO rotated its
// refresh token, and presents the old one again, gets a fresh pair when its
// client has a reuse grace and is within it; the same reuse after the
// grace, or at a strict client, is taken as theft and revokes the whole
// family, the tokens issued within the grace included (issue #18 §8).
func TestRefreshReuseGrace(t *testing.T) {
	clk := &clock{t: time.Now()}
	n := startNode(t, func(c *idp.Config) { c.Now = clk.Now })
	const red = "http://127.0.0.1:9820/cb"
	lenient := newRP(t, n, "lenient", registerClient(t, n, admin.ClientSpec{ID: "lenient", RedirectURIs: []string{red},
		RefreshReuseGrace: 30 * time.Second}), red)
	strict := newRP(t, n, "strict", registerClient(t, n, admin.ClientSpec{ID: "strict", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	first, _ := exchange(t, lenient, register(t, br, n, lenient.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
	tokens := func(r *rp) *oauth2.Token {
		t.Helper()
		v := oauth2.GenerateVerifier()
		tok, _ := exchange(t, r, r.authorize(br, "s", "n", v), v, "s")
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		return tok
	}
	active := func(r *rp, tok string) bool { return r.introspect(tok)["active"] == true }

	// Within the grace: the old token again gives a fresh pair.
	old := first.RefreshToken
	rotated, err := lenient.refresh(old)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	clk.Add(10 * time.Second)
	again, err := lenient.refresh(old)
	if err != nil {
		t.Fatalf("the rotated token again, 10 s later, within a 30 s grace: %v", err)
	}
	if again.RefreshToken == rotated.RefreshToken || again.RefreshToken == old {
		t.Errorf("the reuse within the grace did not get a fresh refresh token")
	}
	if _, err := lenient.refresh(again.RefreshToken); err != nil {
		t.Errorf("the pair issued within the grace does not rotate: %v", err)
	}
	// After the grace: theft, the family goes, the grace's pair included.
	clk.Add(25 * time.Second)
	if _, err := lenient.refresh(old); oauthError(err) != "invalid_grant" {
		t.Errorf("the rotated token after the grace: %v; want invalid_grant", err)
	}
	if _, err := lenient.refresh(rotated.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("the family's other refresh token after a reuse past the grace: %v; want invalid_grant", err)
	}
	if active(lenient, again.AccessToken) {
		t.Errorf("an access token issued within the grace is still active after the family was revoked")
	}

	// A strict client: the first reuse revokes the family.
	s := tokens(strict)
	next, err := strict.refresh(s.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.refresh(s.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("strict client, reuse: %v; want invalid_grant", err)
	}
	if _, err := strict.refresh(next.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("strict client: the family survived a reuse: %v", err)
	}
}

// TestRefreshReuseGraceBounded: the grace is 0 to 5 minutes.
func TestRefreshReuseGraceBounded(t *testing.T) {
	n := startNode(t)
	a := n.admin(t)
	for _, d := range []time.Duration{-time.Second, 6 * time.Minute} {
		if _, _, err := a.CreateClient(t.Context(), admin.ClientSpec{ID: "c", RedirectURIs: []string{"http://127.0.0.1:9821/cb"}, RefreshReuseGrace: d}); err == nil {
			t.Errorf("grace %s accepted", d)
		}
	}
	if _, _, err := a.CreateClient(t.Context(), admin.ClientSpec{ID: "c", RedirectURIs: []string{"http://127.0.0.1:9821/cb"}}); err != nil {
		t.Fatal(err)
	}
	info, err := a.SetRefreshReuseGrace(t.Context(), "c", 30*time.Second)
	if err != nil || info.RefreshReuseGrace != "30s" {
		t.Errorf("SetRefreshReuseGrace = %+v, %v", info.RefreshReuseGrace, err)
	}
	if _, err := a.SetRefreshReuseGrace(t.Context(), "nobody", time.Second); err == nil {
		t.Errorf("an unknown client was updated")
	}
}

// TestRevokeRefreshTokenWithAccessTokenHint: a refresh token revoked with
// the wrong token_type_hint is still revoked (RFC 7009 §2.1: the server
// extends its search to every type); the library tried the hinted type
// only and answered 200 with the token still live.
func TestRevokeRefreshTokenWithAccessTokenHint(t *testing.T) {
	n := startNode(t)
	const red = "http://127.0.0.1:9822/cb"
	r := newRP(t, n, "c", registerClient(t, n, admin.ClientSpec{ID: "c", RedirectURIs: []string{red}}), red)
	br := newBrowser(t, red)
	v := oauth2.GenerateVerifier()
	tok, _ := exchange(t, r, register(t, br, n, r.authorize(br, "s", "n", v), zhangSan, zhangSanSSN, goodPass), v, "s")
	if got := r.revoke(tok.RefreshToken, "access_token"); got != 200 {
		t.Fatalf("revocation: %d", got)
	}
	if _, err := r.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
		t.Errorf("refresh after revoking with the access_token hint: %v; want invalid_grant", err)
	}
	if r.introspect(tok.AccessToken)["active"] == true {
		t.Errorf("the grant's access token is still active after its refresh token was revoked")
	}
}
