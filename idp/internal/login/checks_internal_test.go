package login

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardsso/cardsso/policies/assurance"
)

// TestCardStep: a level-2 request of a citizen whose card was never
// checked goes to the card page; a malformed number is refused locally,
// another holder's card does not match, the citizen's card completes the
// request at level 2 and is recorded on the account.
func TestCardStep(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("first-party", assurance.LoA2.ACR(), nil)
	b.login(id, zhangNumber, testPass).want(t, "password", http.StatusSeeOther, cardPath+"?")
	page := b.get(stepURL(cardPath, id))
	page.want(t, "card page", http.StatusOK, "")
	e.browser().get(stepURL(cardPath, id)).want(t, "card page in another browser", http.StatusForbidden, "")
	res := b.post(cardPath, url.Values{"authRequestID": {id}, "card_number": {zhangCard}})
	res.want(t, "no csrf", http.StatusForbidden, "")
	res.shows(t, e, "no csrf", "err.csrf")
	res = b.post(cardPath, form(t, id, page, "card_number", "A1"))
	res.want(t, "malformed card number", http.StatusBadRequest, "")
	res.shows(t, e, "malformed card number", "err.card.form")
	res = b.post(cardPath, form(t, id, page, "card_number", zhaoCard))
	res.want(t, "another holder's card", http.StatusUnauthorized, "")
	res.shows(t, e, "another holder's card", "err.card.mismatch")
	b.post(cardPath, form(t, id, page, "card_number", strings.ToLower(zhangCard))).want(t, "the citizen's card", http.StatusSeeOther, "/callback?")
	if got := e.authRequest(id); !got.Done || got.ACR != assurance.LoA2.ACR() {
		t.Errorf("request: done %v at %q; want done at level 2", got.Done, got.ACR)
	}
	got, _ := e.store.GetAccount(t.Context(), a.ID)
	if got.CardNumber != zhangCard || got.CardCheckedAt == nil || !got.CardCheckedAt.Equal(e.now) {
		t.Errorf("account after the check: card %q checked at %v; want %s at %v", got.CardNumber, got.CardCheckedAt, zhangCard, e.now)
	}
}

// TestCardStepRefusals: a lost card is named, the per-account limit
// locks after its failures, a stale check of a known card is asked again
// without a form, and without a card connector the level is unavailable.
func TestCardStepRefusals(t *testing.T) {
	t.Run("lost card", func(t *testing.T) {
		e := newEnv(t, nil)
		e.account(liName, liNumber, nil)
		b := e.browser()
		id := b.request("first-party", assurance.LoA2.ACR(), nil)
		b.login(id, liNumber, testPass)
		page := b.get(stepURL(cardPath, id))
		res := b.post(cardPath, form(t, id, page, "card_number", liCard))
		res.want(t, "lost card", http.StatusForbidden, "")
		res.shows(t, e, "lost card", "card.status.reported_lost")
		if e.authRequest(id).Done {
			t.Errorf("a lost card completed a level-2 request")
		}
	})
	t.Run("limit", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Lockout.CardPerAccount = 1 })
		e.account(zhangName, zhangNumber, nil)
		b := e.browser()
		id := b.request("first-party", assurance.LoA2.ACR(), nil)
		b.login(id, zhangNumber, testPass)
		page := b.get(stepURL(cardPath, id))
		b.post(cardPath, form(t, id, page, "card_number", zhaoCard)).want(t, "first wrong card", http.StatusUnauthorized, "")
		res := b.post(cardPath, form(t, id, page, "card_number", zhangCard))
		res.want(t, "over the limit", http.StatusTooManyRequests, "")
		res.shows(t, e, "over the limit", "err.card.locked")
	})
	t.Run("stale check of a known card", func(t *testing.T) {
		e := newEnv(t, nil)
		e.account(zhangName, zhangNumber, cardChecked(time.Now().Add(-25*time.Hour)))
		b := e.browser()
		id := b.request("first-party", assurance.LoA2.ACR(), nil)
		b.login(id, zhangNumber, testPass).want(t, "password", http.StatusSeeOther, cardPath+"?")
		b.get(stepURL(cardPath, id)).want(t, "card page re-checks", http.StatusSeeOther, "/callback?")
	})
	t.Run("no card connector", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Card = nil })
		e.account(zhangName, zhangNumber, nil)
		b := e.browser()
		id := b.request("first-party", assurance.LoA2.ACR(), nil)
		b.login(id, zhangNumber, testPass)
		res := b.get(stepURL(cardPath, id))
		res.want(t, "no connector", http.StatusServiceUnavailable, "")
		res.shows(t, e, "no connector", "err.level_unavailable")
	})
}

// faceLogin brings a level-3 login of 张三 (card checked) to the face
// step and returns its request.
func faceLogin(t *testing.T, e *env, b *browser) string {
	t.Helper()
	id := b.request("first-party", assurance.LoA3.ACR(), nil)
	b.login(id, zhangNumber, testPass).want(t, "password", http.StatusSeeOther, facePath+"?")
	return id
}

// TestFaceStep: the face check asks a separate consent first; with it, a
// photo against the single-use challenge: a used challenge is refused,
// another face does not match, the citizen's completes the request at
// level 3 with face and mfa.
func TestFaceStep(t *testing.T) {
	e := newEnv(t, nil)
	e.account(zhangName, zhangNumber, cardChecked(time.Now().Add(-time.Hour)))
	b := e.browser()
	id := faceLogin(t, e, b)
	b.get(stepURL(photoPath, id)).want(t, "photo before consent", http.StatusSeeOther, facePath+"?")
	consent := b.get(stepURL(facePath, id))
	consent.want(t, "face consent page", http.StatusOK, "")
	res := b.post(facePath+"/consent", form(t, id, consent))
	res.want(t, "no choice", http.StatusBadRequest, "")
	res.shows(t, e, "no choice", "err.consent")
	b.post(facePath+"/consent", form(t, id, consent, "consent", "allow")).want(t, "allow", http.StatusSeeOther, photoPath+"?")
	page := b.get(stepURL(photoPath, id))
	page.want(t, "photo page", http.StatusOK, "")
	challenge := field(t, challengeField, page)
	res = b.postPhoto(form(t, id, page, "challenge", challenge+"x"), "me")
	res.want(t, "wrong challenge", http.StatusBadRequest, "")
	res.shows(t, e, "wrong challenge", "err.face.challenge")
	if n := e.face.count(); n != 0 {
		t.Errorf("the face check ran %d times for a wrong challenge", n)
	}
	// The refusal's page carries a fresh challenge; the first is used up.
	res = b.postPhoto(form(t, id, res, "challenge", field(t, challengeField, res)), "someone else")
	res.want(t, "another face", http.StatusUnauthorized, "")
	res.shows(t, e, "another face", "err.face.mismatch")
	b.postPhoto(form(t, id, res, "challenge", challenge), "me").want(t, "a used challenge", http.StatusBadRequest, "")
	page = b.get(stepURL(photoPath, id))
	b.postPhoto(form(t, id, page, "challenge", field(t, challengeField, page)), "me").want(t, "the citizen's face", http.StatusSeeOther, "/callback?")
	got := e.authRequest(id)
	if !got.Done || got.ACR != assurance.LoA3.ACR() || !slices.Contains(got.AMR, assurance.AMRFace) || !slices.Contains(got.AMR, assurance.AMRMulti) {
		t.Errorf("request: done %v at %q with %v; want done at level 3 with face and mfa", got.Done, got.ACR, got.AMR)
	}
}

// TestFaceStepRefusals: declining the face check returns access_denied
// to the portal; the per-account limit locks; without a face connector
// the level is unavailable; the photo form refuses CSRF-less posts.
func TestFaceStepRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FaceMaxFailures = 1 })
	e.account(zhangName, zhangNumber, cardChecked(time.Now().Add(-time.Hour)))
	b := e.browser()
	id := faceLogin(t, e, b)
	consent := b.get(stepURL(facePath, id))
	res := b.post(facePath+"/consent", form(t, id, consent, "consent", "deny"))
	res.want(t, "deny", http.StatusFound, "/rp-error?")
	if !strings.Contains(res.location, "error=access_denied") {
		t.Errorf("declined face check: location %q; want error=access_denied", res.location)
	}

	id = faceLogin(t, e, b)
	consent = b.get(stepURL(facePath, id))
	b.post(facePath+"/consent", form(t, id, consent, "consent", "allow"))
	page := b.get(stepURL(photoPath, id))
	res = b.postPhoto(url.Values{"authRequestID": {id}, "challenge": {field(t, challengeField, page)}}, "me")
	res.want(t, "no csrf", http.StatusForbidden, "")
	b.postPhoto(form(t, id, page, "challenge", field(t, challengeField, page)), "not me").want(t, "first failure", http.StatusUnauthorized, "")
	page = b.get(stepURL(photoPath, id))
	res = b.postPhoto(form(t, id, page, "challenge", field(t, challengeField, page)), "me")
	res.want(t, "over the limit", http.StatusTooManyRequests, "")
	res.shows(t, e, "over the limit", "err.face.locked")

	e2 := newEnv(t, func(c *Config) { c.Face = nil })
	e2.account(zhangName, zhangNumber, cardChecked(time.Now().Add(-time.Hour)))
	b2 := e2.browser()
	id = faceLogin(t, e2, b2)
	b2.get(stepURL(facePath, id)).want(t, "no face connector", http.StatusServiceUnavailable, "")
}

// TestConsentStep: a portal that is not exempt asks consent once: the
// page names the portal and the citizen (masked); no choice is refused,
// deny returns access_denied, allow stores the grant and completes; the
// next login to the portal does not ask again.
func TestConsentStep(t *testing.T) {
	e := newEnv(t, nil)
	a := e.account(zhangName, zhangNumber, nil)
	b := e.browser()
	id := b.request("portal", "", nil)
	b.login(id, zhangNumber, testPass).want(t, "password", http.StatusSeeOther, consentPath+"?")
	page := b.get(stepURL(consentPath, id))
	page.want(t, "consent page", http.StatusOK, "")
	if !strings.Contains(page.body, "Portal portal") || !strings.Contains(page.body, "张*") || strings.Contains(page.body, zhangName) {
		t.Errorf("consent page does not name the portal and the masked citizen:\n%s", page.body)
	}
	res := b.post(consentPath, form(t, id, page))
	res.want(t, "no decision", http.StatusBadRequest, "")
	res.shows(t, e, "no decision", "err.consent.choose")
	res = b.post(consentPath, form(t, id, page, "decision", "deny"))
	if res.status != http.StatusFound || !strings.Contains(res.location, "error=access_denied") {
		t.Fatalf("deny: %d to %q; want 302 with access_denied", res.status, res.location)
	}
	if _, err := e.store.GetConsent(t.Context(), a.ID, "portal"); err == nil {
		t.Errorf("a denied consent was stored")
	}

	id = b.request("portal", "", nil)
	b.login(id, zhangNumber, testPass)
	page = b.get(stepURL(consentPath, id))
	b.post(consentPath, form(t, id, page, "decision", "allow")).want(t, "allow", http.StatusSeeOther, "/callback?")
	c, err := e.store.GetConsent(t.Context(), a.ID, "portal")
	if err != nil || !slices.Contains(c.Scopes, "profile") {
		t.Errorf("stored consent %v, %v; want one with profile", c.Scopes, err)
	}
	id = b.request("portal", "", nil)
	b.get(LoginURL(id)).want(t, "next login to the portal (SSO)", http.StatusSeeOther, "/callback?")
}
