package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crewjam/saml"
)

// TestSAMLFirstLogin: a citizen registers at a samlsp SP (HTTP-Redirect)
// and the SP reads the NameID, attributes and level.
func TestSAMLFirstLogin(t *testing.T) {
	n := startNode(t)
	sp := newCrewSP(t, n, spOpts{byURL: true, attributes: []string{"name", "ssn_masked", "card_region"}})
	b := newBrowser(t)
	login := b.get(sp.url + "/hello")
	if login.status != http.StatusOK || login.url.Path != "/login" {
		t.Fatalf("SP-initiated SSO did not reach the login page: %d %s\n%s", login.status, login.url, login.body)
	}
	done := register(t, b, n, login, zhangSan, zhangSanSSN, goodPass)
	action, resp := samlResponseOf(t, done)
	if !strings.HasPrefix(action, sp.url) || !strings.Contains(string(resp), "EncryptedAssertion") {
		t.Errorf("response to %s; encrypted: %v", action, strings.Contains(string(resp), "EncryptedAssertion"))
	}
	hello := b.postSAML(done)
	sub, attrs := helloOf(t, hello)
	t.Logf("sub %s attrs %v class %s", sub, attrs, classRefOf(sp.last()))
	_ = saml.HTTPPostBinding
}
