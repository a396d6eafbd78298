package login

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cardsso/cardsso/storage"
)

// Consenter is implemented by front ends whose requests release claims the
// citizen must agree to (found by type assertion on the Provider).
type Consenter interface {
	// ConsentScopes returns the scopes the request would release (after the
	// release policy) and whether the client is exempt from consent (a
	// first-party client).
	ConsentScopes(ctx context.Context, req storage.AuthRequest) (scopes []string, exempt bool, err error)
}

// consentPath is the consent step's page.
const consentPath = "/login/consent"

// consentStep asks the citizen's consent to what the portal receives,
// when consentNeeded says so.
var consentStep = &Step{
	Name: "consent", Path: consentPath, PromptNone: "consent_required",
	Done: func(ctx context.Context, h *Handler, f *flow) (bool, error) {
		needed, err := h.consentNeeded(ctx, f)
		if err != nil {
			return false, fmt.Errorf("consent: %w", err)
		}
		return !needed, nil
	},
	Mount: func(h *Handler, mux Router) {
		mux.HandleFunc("GET "+consentPath, h.getConsent)
		mux.HandleFunc("POST "+consentPath, h.postConsent)
	},
}

// consentNeeded reports whether the citizen must be asked: the client is
// not exempt, and the request asks for a scope not granted before, or
// prompt=consent and this login has not asked yet.
func (h *Handler) consentNeeded(ctx context.Context, f *flow) (bool, error) {
	req, accountID := f.req, f.acct.ID
	c, ok := h.provider(req).(Consenter)
	if !ok || isSelf(req) {
		return false, nil
	}
	scopes, exempt, err := c.ConsentScopes(ctx, req)
	if err != nil || exempt {
		return false, err
	}
	scopes = append(scopes, requestedClaims(req.Claims)...)
	if slices.Contains(req.Prompt, "consent") {
		return f.st.Auth == nil || !f.st.Auth.Consented, nil
	}
	granted, err := h.cfg.Store.GetConsent(ctx, accountID, req.ClientID)
	if errors.Is(err, storage.ErrNotFound) {
		return len(scopes) > 0, nil
	}
	if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(granted.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// getConsent lists, in plain words, what the portal will receive.
func (h *Handler) getConsent(w http.ResponseWriter, r *http.Request) {
	req, st, acct, ok := h.authOf(w, r)
	if !ok {
		return
	}
	if h.refuseStale(w, r, req, st, acct) {
		return
	}
	c, isConsenter := h.provider(req).(Consenter)
	if !isConsenter {
		h.next(w, r, req.ID)
		return
	}
	scopes, _, err := c.ConsentScopes(r.Context(), req)
	if err != nil {
		h.internal(w, r, "consent scopes", err)
		return
	}
	p := h.newPage(w, r, req.UILocales)
	p.AuthRequestID = req.ID
	p.CSRF = h.csrfToken(w, r, req.ID)
	p.ClientName = h.provider(req).DisplayName(r.Context(), req.ClientID)
	// Who is signing in, so that a citizen sent someone else's consent page
	// sees it is not theirs.
	p.Who = maskName(acct.Name) + " (" + acct.SSNMasked + ")"
	p.Items = consentLabels(p, scopes)
	p.Claims = consentLabels(p, requestedClaims(req.Claims))
	h.render(w, http.StatusOK, "consent", p)
}

// postConsent records the citizen's answer: allow remembers the grant per
// client and scope set; deny returns access_denied to the portal.
func (h *Handler) postConsent(w http.ResponseWriter, r *http.Request) {
	req, st, acct, ok := h.authOf(w, r)
	if !ok || !h.checkCSRF(w, r, req.ID) {
		return
	}
	if h.refuseStale(w, r, req, st, acct) {
		return
	}
	c, isConsenter := h.provider(req).(Consenter)
	if !isConsenter {
		h.next(w, r, req.ID)
		return
	}
	// The page's two submit buttons send decision=allow or decision=deny;
	// consent= is the field of the page before the buttons (a form still
	// open in a browser when the node was upgraded).
	decision := r.PostFormValue("decision")
	if decision == "" {
		decision = r.PostFormValue("consent")
	}
	switch decision {
	case "allow":
	case "deny":
		h.cfg.Observer.Login("consent", "denied")
		h.provider(req).ReturnError(w, r, req.ID, "access_denied", "the citizen did not consent")
		return
	default:
		h.message(w, r, http.StatusBadRequest, "err.title", "err.consent.choose", stepURL(consentPath, req.ID))
		return
	}
	ctx := r.Context()
	scopes, _, err := c.ConsentScopes(ctx, req)
	if err != nil {
		h.internal(w, r, "consent scopes", err)
		return
	}
	scopes = append(scopes, requestedClaims(req.Claims)...)
	if prev, err := h.cfg.Store.GetConsent(ctx, acct.ID, req.ClientID); err == nil {
		for _, s := range prev.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if err := h.cfg.Store.PutConsent(ctx, storage.Consent{AccountID: acct.ID, ClientID: req.ClientID, Scopes: scopes, GrantedAt: h.cfg.Now().UTC()}); err != nil {
		h.internal(w, r, "save consent", err)
		return
	}
	h.cfg.Observer.Login("consent", "granted")
	st.Auth.Consented = true
	if err := h.saveState(ctx, req.ID, st); err != nil {
		h.internal(w, r, "save login state", err)
		return
	}
	h.next(w, r, req.ID)
}

// Consent entries for claims are stored with the scopes of a consent
// (storage.Consent.Scopes) under this prefix: "claim:name",
// "claim:verified_claims", "claim:verified_claims.name".
const claimPrefix = "claim:"

// protocolClaims are claims a claims request may name that say nothing
// about the citizen beyond the login itself; they are not asked about.
var protocolClaims = map[string]bool{
	"sub": true, "acr": true, "amr": true, "auth_time": true, "nonce": true, "sid": true,
	"iss": true, "aud": true, "exp": true, "iat": true, "azp": true, "at_hash": true, "c_hash": true,
}

// requestedClaims lists, as consent entries, the claims an OIDC claims
// request parameter (OIDC Core §5.5; verified_claims of OpenID Connect for
// Identity Assurance §5) asks for in the ID token or at userinfo, sorted.
// The protocol front end validated the parameter; what does not parse here
// adds nothing. The list is what the portal asks for: the release policy
// may give it less, never more.
func requestedClaims(raw []byte) []string {
	if len(raw) == 0 {
		return nil
	}
	var cr map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &cr) != nil {
		return nil
	}
	var out []string
	add := func(e string) {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	for _, target := range []string{"id_token", "userinfo"} {
		for name, spec := range cr[target] {
			switch {
			case protocolClaims[name]:
			case name == "verified_claims":
				add(claimPrefix + name)
				for _, inner := range verifiedClaimNames(spec) {
					if !protocolClaims[inner] {
						add(claimPrefix + name + "." + inner)
					}
				}
			default:
				add(claimPrefix + name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// verifiedClaimNames are the claims inside a verified_claims request: an
// object with a "claims" member, or an array of them.
func verifiedClaimNames(spec json.RawMessage) []string {
	type vc struct {
		Claims map[string]json.RawMessage `json:"claims"`
	}
	var many []vc
	if json.Unmarshal(spec, &many) != nil {
		var one vc
		if json.Unmarshal(spec, &one) != nil {
			return nil
		}
		many = []vc{one}
	}
	var out []string
	for _, v := range many {
		for name := range v.Claims {
			out = append(out, name)
		}
	}
	return out
}

// consentLabels turns scopes and claim entries into the words the citizen
// reads; a scope without words (a protocol scope) is left out, a claim
// without words is shown by its name.
func consentLabels(p *page, entries []string) []string {
	var out []string
	for _, e := range entries {
		if l := consentLabel(p, e); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func consentLabel(p *page, entry string) string {
	claim, isClaim := strings.CutPrefix(entry, claimPrefix)
	if !isClaim {
		if key := "consent.scope." + entry; p.T(key) != key {
			return p.T(key)
		}
		return ""
	}
	label := func(name string) string {
		if key := "consent.claim." + name; p.T(key) != key {
			return p.T(key)
		}
		return name
	}
	if inner, ok := strings.CutPrefix(claim, "verified_claims."); ok {
		return strings.ReplaceAll(p.T("consent.claim.verified"), "{claim}", label(inner))
	}
	return label(claim)
}

// maskName shows a name as its first character and one "*" (张三, 张三丰
// → 张*): enough for the citizen to recognise their own login, and not the
// length of the name.
func maskName(name string) string {
	for _, r := range name {
		return string(r) + "*"
	}
	return ""
}
