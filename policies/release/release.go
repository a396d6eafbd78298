package release

import "slices"

// Scopes CardSSO defines beyond the standard ones.
const (
	ScopeProfile = "profile"
	ScopeCard    = "cardsso.card"
	ScopeSSN     = "cardsso.ssn"
	// ScopeLicense is the citizen's electronic card licence, a signed
	// document (GET /ecard/license), not claims.
	ScopeLicense = "cardsso.license"
	// ScopeCounter lets a staff app (client credentials) verify the
	// counter codes citizens show (POST /ecard/verify).
	ScopeCounter = "cardsso.counter"
)

// restricted are the scopes a client must be registered for.
var restricted = []string{ScopeSSN, ScopeLicense, ScopeCounter}

// Restricted reports whether a scope needs an explicit allow-list entry.
func Restricted(scope string) bool { return slices.Contains(restricted, scope) }

// RestrictedScopes lists the restricted scopes (for messages).
func RestrictedScopes() []string { return slices.Clone(restricted) }

// Allowed reports whether a client with this allow-list may be given one of
// CardSSO's own scopes. Unknown scopes are not allowed.
func Allowed(scope string, allowList []string) bool {
	switch scope {
	case ScopeCard:
		return true
	case ScopeSSN, ScopeLicense, ScopeCounter:
		return slices.Contains(allowList, scope)
	}
	return false
}

// Granted returns the scopes a client may be given, in order: restricted
// scopes only when its allow-list names them.
func Granted(scopes, allowList []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if Restricted(s) && !slices.Contains(allowList, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

var claims = map[string][]string{
	"openid":     {"sub"},
	ScopeProfile: {"name"},
	ScopeCard:    {"ssn_masked", "card_region", "card_status"},
	ScopeSSN:     {"ssn"},
}

// Claims returns the claims a scope stands for (none for scopes that
// release no personal data, such as offline_access).
func Claims(scope string) []string { return claims[scope] }

// ClaimAllowed reports whether a claim may be released to a client with
// this allow-list (used for claims asked for one by one: the claims
// parameter, verified_claims, SAML attributes).
func ClaimAllowed(claim string, allowList []string) bool {
	for scope, cs := range claims {
		if slices.Contains(cs, claim) {
			return !Restricted(scope) || slices.Contains(allowList, scope)
		}
	}
	return false
}
