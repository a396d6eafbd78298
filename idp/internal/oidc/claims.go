package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/policies/assurance"
	"github.com/cardsso/cardsso/policies/release"
	"github.com/cardsso/cardsso/storage"
)

// The claims request parameter (OIDC Core §5.5). zitadel/oidc does not parse
// it, so a small middleware on the authorization endpoint reads it into the
// context, where CreateAuthRequest finds it.

type claimsKey struct{}

// maxClaimsParam bounds the claims parameter.
const maxClaimsParam = 4096

// captureClaims puts the raw claims parameter of an authorization request
// into its context.
func captureClaims(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			if c := r.Form.Get("claims"); c != "" {
				r = r.WithContext(context.WithValue(r.Context(), claimsKey{}, c))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func claimsParam(ctx context.Context) string {
	s, _ := ctx.Value(claimsKey{}).(string)
	return s
}

// claimRequest is one requested claim: null, or {essential, value, values}.
type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

// claimsRequest is the parsed claims parameter. Entries other than acr and
// verified_claims are kept raw: only those two change what CardSSO does.
type claimsRequest struct {
	IDToken  map[string]json.RawMessage `json:"id_token"`
	Userinfo map[string]json.RawMessage `json:"userinfo"`
}

func parseClaims(raw string) (claimsRequest, error) {
	var c claimsRequest
	if raw == "" {
		return c, nil
	}
	if len(raw) > maxClaimsParam {
		return c, oidc.ErrInvalidRequest().WithDescription("claims parameter too long")
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return c, oidc.ErrInvalidRequest().WithDescription("claims parameter is not valid JSON")
	}
	return c, nil
}

// requestedACR returns the lowest level an acr claim request accepts
// (OIDC Core §5.5.1.1), if there is one. A voluntary acr request with
// values is what acr_values is (§3.1.2.1: acr_values is "requested as a
// Voluntary Claim"), so it steps the citizen up the same way, and values
// this provider does not know are ignored as in acr_values; an essential
// one that names no level offered is refused.
func (c claimsRequest) requestedACR(aliases assurance.Aliases) (assurance.Level, bool, error) {
	for _, m := range []map[string]json.RawMessage{c.IDToken, c.Userinfo} {
		raw, ok := m["acr"]
		if !ok || string(raw) == "null" {
			continue
		}
		var r claimRequest
		if err := json.Unmarshal(raw, &r); err != nil {
			return 0, false, oidc.ErrInvalidRequest().WithDescription("claims parameter: acr is not a claim request")
		}
		values := r.Values
		if r.Value != nil {
			values = append(values, *r.Value)
		}
		if len(values) == 0 {
			continue
		}
		l, ok := aliases.Lowest(values)
		if !ok {
			if !r.Essential {
				continue
			}
			return 0, false, oidc.ErrInvalidRequest().WithDescription("claims parameter: no acr value this provider offers")
		}
		return l, true, nil
	}
	return 0, false, nil
}

// requiredLevel is the level a request needs: the higher of the client's
// minimum, the lowest acr_values entry this provider knows (a voluntary
// request the citizen is stepped up to), and an acr claim request
// (essential or voluntary, requestedACR).
func requiredLevel(c storage.Client, acrValues []string, claims claimsRequest, aliases assurance.Aliases) (assurance.Level, error) {
	level := assurance.LoA1
	if c.MinACR != "" {
		if l, err := assurance.ParseACR(c.MinACR); err == nil {
			level = l
		}
	}
	if l, ok := aliases.Lowest(acrValues); ok && l > level {
		level = l
	}
	l, ok, err := claims.requestedACR(aliases)
	if err != nil {
		return 0, err
	}
	if ok && l > level {
		level = l
	}
	return level, nil
}

// TrustFramework names CardSSO's identity verification scheme in
// verified_claims: the checks of the social security card service platform.
const TrustFramework = "cn_sscard"

// Where a claims request asks for a claim (OIDC Core §5.5): the ID token
// or the userinfo response.
const (
	inIDToken  = "id_token"
	inUserinfo = "userinfo"
)

// verifiedClaimsAsked returns the claims asked for inside verified_claims
// of the claims request raw for target (inIDToken or inUserinfo), and
// whether verified_claims was asked for there at all.
func verifiedClaimsAsked(raw []byte, target string) (map[string]json.RawMessage, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	cr, err := parseClaims(string(raw))
	if err != nil {
		return nil, false // refused when the request was made
	}
	m := cr.IDToken
	if target == inUserinfo {
		m = cr.Userinfo
	}
	v, ok := m["verified_claims"]
	if !ok || string(v) == "null" {
		return nil, false
	}
	var want struct {
		Claims map[string]json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal(v, &want); err != nil {
		return nil, false
	}
	return want.Claims, true
}

// grantView is what addVerifiedClaims needs of an authentication: its
// claims request, level and methods, and the granted scopes.
type grantView struct {
	claims []byte
	acr    string
	amr    []string
	scopes []string
}

// addVerifiedClaims adds OpenID Connect for Identity Assurance 1.0
// verified_claims to an ID token or a userinfo response (target) when the
// grant's claims request asks for them there: the trust framework, the
// level of this authentication, and as evidence the card platform checks
// with their times; inside, exactly the requested claims that the granted
// scopes release and the client may receive. Nothing is added when the
// request did not ask for verified_claims at target, or when none of the
// claims it asked for inside is released (OIDC4IA §5: verified_claims
// without claims would say nothing; a claim is never added for want of
// another).
func (s *Storage) addVerifiedClaims(ui *oidc.UserInfo, c storage.Client, a storage.Account, g grantView, target string) {
	asked, ok := verifiedClaimsAsked(g.claims, target)
	if !ok {
		return
	}
	verifiedClaims := map[string]any{}
	for name := range asked {
		if !release.ClaimAllowed(name, c.AllowedClaims) || !scopeReleases(g.scopes, c.AllowedClaims, name) {
			continue
		}
		switch name {
		case "name":
			verifiedClaims["name"] = a.Name
		case "ssn_masked":
			verifiedClaims["ssn_masked"] = a.SSNMasked
		}
	}
	if len(verifiedClaims) == 0 {
		return
	}

	rfc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	realname := map[string]any{
		"type": "electronic_record",
		"check_details": []any{map[string]any{
			"check_method": "data", "organization": "card_service_platform", "time": rfc(a.RealNameVerifiedAt),
		}},
		"time": rfc(a.RealNameVerifiedAt),
		"record": map[string]any{
			"type":   "social_security_record",
			"source": map[string]any{"name": "Card service platform (社保卡服务平台)", "country_code": "CHN"},
		},
	}
	evidence := []any{realname}
	latest := a.RealNameVerifiedAt
	cardOK := a.CardVerifiedAt != nil && a.CardCheckedAt != nil &&
		(assurance.CardCheck{Status: connectors.CardStatus(a.CardStatus), CheckedAt: *a.CardCheckedAt}).Verified(s.cfg.Now(), s.cfg.CardTTL)
	if cardOK {
		details := []any{map[string]any{"check_method": "data", "organization": "card_service_platform", "time": rfc(*a.CardVerifiedAt)}}
		if slices.Contains(g.amr, assurance.AMRFace) && a.FaceVerifiedAt != nil {
			details = append(details, map[string]any{"check_method": "bvr", "organization": "card_service_platform", "time": rfc(*a.FaceVerifiedAt)})
			if a.FaceVerifiedAt.After(latest) {
				latest = *a.FaceVerifiedAt
			}
		}
		record := map[string]any{
			"type":   "social_security_card",
			"source": map[string]any{"name": "Card service platform (社保卡服务平台)", "country_code": "CHN"},
		}
		evidence = append(evidence, map[string]any{
			"type": "electronic_record", "check_details": details, "time": rfc(*a.CardVerifiedAt), "record": record,
		})
		if a.CardVerifiedAt.After(latest) {
			latest = *a.CardVerifiedAt
		}
	}
	acr := g.acr
	if acr == "" {
		acr = assurance.LoA1.ACR()
	}
	ui.AppendClaims("verified_claims", map[string]any{
		"verification": map[string]any{
			"trust_framework": TrustFramework,
			"assurance_level": acr,
			"time":            rfc(latest),
			"evidence":        evidence,
		},
		"claims": verifiedClaims,
	})
}

// scopeReleases reports whether one of the granted scopes releases claim.
func scopeReleases(scopes, allowList []string, claim string) bool {
	for _, sc := range release.Granted(scopes, allowList) {
		if slices.Contains(release.Claims(sc), claim) {
			return true
		}
	}
	return false
}
