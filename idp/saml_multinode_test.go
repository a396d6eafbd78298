package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crewjam/saml/samlsp"

	"github.com/cardsso/cardsso/storage/storagetest"
)

// TestSAMLTwoNodes: a SAML sign-in parked on node A continues on node B,
// the next SP gets SSO on A, and a LogoutRequest on B ends the session for
// A: parked requests, single-use keys, participants and the SAML keys live
// in the shared database.
func TestSAMLTwoNodes(t *testing.T) {
	if !storagetest.PostgresConfigured() {
		t.Log("CARDSSO_TEST_POSTGRES is not set: the two-node SAML test needs PostgreSQL and does not run")
		return
	}
	lb, nodes := startCluster(t, 2, storagetest.FreshPostgres(t))
	a, b := nodes[0], nodes[1]
	spA := newCrewSP(t, a, spOpts{})
	spB := newCrewSP(t, a, spOpts{noEncryption: true})
	if ca, cb := certsOf(t, idpMetadataAt(t, "http://"+a.addr)), certsOf(t, idpMetadataAt(t, "http://"+b.addr)); ca == "" || ca != cb {
		t.Errorf("the two nodes publish different certificates")
	}
	br := newBrowser(t)

	lb.use(a)
	login := br.get(spA.url + "/hello")
	if login.url.Path != "/login" {
		t.Fatalf("SSO on A: %d at %s", login.status, login.url)
	}
	lb.use(b)
	helloOf(t, br.postSAML(register(t, br, &node{issuer: lb.url}, login, zhangSan, zhangSanSSN, goodPass)))

	lb.use(a)
	if p := br.get(spB.url + "/hello"); func() bool { _, ok := samlForm(t, p); return !ok }() {
		t.Fatalf("SSO at the second SP on node A asked again: %d at %s", p.status, p.url)
	}
	br.postSAML(br.get(spB.url + "/hello"))

	lb.use(b)
	br.get(spA.url + "/logout")
	lb.use(a)
	if p := br.get(spB.url + "/hello"); p.url.Path != "/login" {
		t.Errorf("after single logout on B, SP B on A: %d at %s; want the login page", p.status, p.url)
	}
}

func idpMetadataAt(t *testing.T, base string) []byte {
	t.Helper()
	resp, err := http.Get(base + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return []byte(readAll(resp.Body))
}

// certsOf lists the signing certificates of IdP metadata.
func certsOf(t *testing.T, md []byte) string {
	t.Helper()
	ed, err := samlsp.ParseMetadata(md)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kd := range ed.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use == "signing" {
			out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
		}
	}
	return strings.Join(out, ",")
}
