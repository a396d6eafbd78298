package idp_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/cardsso/cardsso/idp/admin"
)

func photo(t *testing.T, number string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "photos", number+".png"))
	if err != nil {
		t.Fatalf("demo photo: %v", err)
	}
	return b
}

// level3 is a node with a client that needs urn:cardsso:loa:3.
func level3(t *testing.T) (*node, *rp) {
	t.Helper()
	n := startNode(t)
	const redirect = "http://127.0.0.1:9301/cb"
	secret := registerClient(t, n, admin.ClientSpec{ID: "tax", Name: "Tax office", RedirectURIs: []string{redirect}, MinACR: "urn:cardsso:loa:3"})
	return n, newRP(t, n, "tax", secret, redirect)
}

// throughCard registers a holder and enters a card number; it returns the
// page after the card step.
func throughCard(t *testing.T, n *node, r *rp, br *browser, name, ssn, card string) page {
	t.Helper()
	p := r.authorize(br, "st", "nonce", oauth2.GenerateVerifier())
	cardPage := register(t, br, n, p, name, ssn, goodPass)
	if cardPage.status != http.StatusOK || cardPage.url.Path != "/login/card" {
		t.Fatalf("after registration for a level-3 client: %d at %s; want the card step:\n%s", cardPage.status, cardPage.url, cardPage.body)
	}
	return br.submit(n.issuer, formFor(t, cardPage, "/login/card"), map[string]string{"card_number": card})
}

func TestThreeChecksEndToEnd(t *testing.T) {
	n, r := level3(t)
	br := newBrowser(t, r.conf.RedirectURL)
	verifier := oauth2.GenerateVerifier()
	p := r.authorize(br, "st", "nonce", verifier)
	cardPage := register(t, br, n, p, zhangSan, zhangSanSSN, goodPass)
	if cardPage.url.Path != "/login/card" {
		t.Fatalf("want the card step, got %d %s", cardPage.status, cardPage.url)
	}
	// A lowercase card number with spaces is normalised.
	consent := br.submit(n.issuer, formFor(t, cardPage, "/login/card"), map[string]string{"card_number": " a0000 0001 "})
	if consent.status != http.StatusOK || consent.url.Path != "/login/face" {
		t.Fatalf("after the card step: %d at %s; want the face consent:\n%s", consent.status, consent.url, consent.body)
	}
	photoPage := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "allow"})
	if photoPage.url.Path != "/login/face/photo" {
		t.Fatalf("after consent: %d at %s", photoPage.status, photoPage.url)
	}
	// 赵六's photo: no match, the page is offered again.
	again := br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, "510104200002290046"))
	if again.status != http.StatusUnauthorized || !strings.Contains(again.body, "does not match the photo on your card") {
		t.Fatalf("someone else's photo: %d:\n%s", again.status, again.body)
	}
	// A challenge is single use: replaying the old form fails.
	replay := br.submitFile(n.issuer, formFor(t, photoPage, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
	if replay.status != http.StatusBadRequest {
		t.Errorf("replayed challenge: status %d; want 400", replay.status)
	}
	// His own photo passes.
	done := br.submitFile(n.issuer, formFor(t, replay, "/login/face/photo"), nil, "photo", "me.png", photo(t, zhangSanSSN))
	code := codeFrom(t, done, r.conf.RedirectURL, "st")
	tok, err := r.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, c := r.verify(tok)
	if c.ACR != "urn:cardsso:loa:3" || !slices.Contains(c.AMR, "face") || !slices.Contains(c.AMR, "pwd") {
		t.Errorf("acr %q amr %v; want urn:cardsso:loa:3 with pwd and face", c.ACR, c.AMR)
	}
	if c.CardRegion != "110105" {
		t.Errorf("card_region %q; want 110105", c.CardRegion)
	}
	assertNoPersonalData(t, n)
}

func TestCardStatusRefused(t *testing.T) {
	for _, tc := range []struct{ name, ssn, card, want string }{
		{"李四", "440305198511120028", "A00000002", "reported lost"},
		{"孙七", "330106199512310055", "A00000005", "sealed"},
		{"王五", "31011519780520003X", "A00000003", "cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, r := level3(t)
			br := newBrowser(t, r.conf.RedirectURL)
			got := throughCard(t, n, r, br, tc.name, tc.ssn, tc.card)
			if got.status != http.StatusForbidden || !strings.Contains(got.body, tc.want) {
				t.Errorf("status %d, body without %q:\n%s", got.status, tc.want, got.body)
			}
		})
	}
}

func TestCardNumberMismatch(t *testing.T) {
	n, r := level3(t)
	br := newBrowser(t, r.conf.RedirectURL)
	got := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000004")
	if got.status != http.StatusUnauthorized || !strings.Contains(got.body, "does not match your card records") {
		t.Errorf("status %d:\n%s", got.status, got.body)
	}
}

func TestFaceConsentDeclined(t *testing.T) {
	n, r := level3(t)
	br := newBrowser(t, r.conf.RedirectURL)
	consent := throughCard(t, n, r, br, zhangSan, zhangSanSSN, "A00000001")
	back := br.submit(n.issuer, formFor(t, consent, "/login/face/consent"), map[string]string{"consent": "deny"})
	if !strings.HasPrefix(back.location, r.conf.RedirectURL) || !strings.Contains(back.location, "error=access_denied") {
		t.Errorf("declining the face check: %d %q; want the portal with access_denied", back.status, back.location)
	}
}
