package release

import (
	"slices"
	"testing"
)

func TestGranted(t *testing.T) {
	tests := []struct {
		scopes, allow, want []string
	}{
		{[]string{"openid", "profile", ScopeCard}, nil, []string{"openid", "profile", ScopeCard}},
		{[]string{"openid", ScopeSSN}, nil, []string{"openid"}},
		{[]string{"openid", ScopeSSN}, []string{ScopeSSN}, []string{"openid", ScopeSSN}},
		{[]string{"openid", ScopeSSN}, []string{ScopeCard}, []string{"openid"}},
	}
	for _, tt := range tests {
		if got := Granted(tt.scopes, tt.allow); !slices.Equal(got, tt.want) {
			t.Errorf("Granted(%v, %v) = %v; want %v", tt.scopes, tt.allow, got, tt.want)
		}
	}
}

func TestAllowedAndClaims(t *testing.T) {
	if Allowed(ScopeSSN, nil) || !Allowed(ScopeSSN, []string{ScopeSSN}) || !Allowed(ScopeCard, nil) || Allowed("other", nil) {
		t.Errorf("Allowed does not follow the allow-list")
	}
	if ClaimAllowed("ssn", nil) || !ClaimAllowed("ssn", []string{ScopeSSN}) || !ClaimAllowed("name", nil) || ClaimAllowed("unknown", nil) {
		t.Errorf("ClaimAllowed does not follow the allow-list")
	}
	if got := Claims(ScopeCard); !slices.Equal(got, []string{"ssn_masked", "card_region", "card_status"}) {
		t.Errorf("Claims(cardsso.card) = %v", got)
	}
}

func TestECardScopesRestricted(t *testing.T) {
	for _, sc := range []string{ScopeLicense, ScopeCounter} {
		if !Restricted(sc) || Allowed(sc, nil) || Allowed(sc, []string{ScopeSSN}) || !Allowed(sc, []string{sc}) {
			t.Errorf("%s is not restricted to the clients whose allow-list names it", sc)
		}
		if got := Granted([]string{"openid", sc}, nil); !slices.Equal(got, []string{"openid"}) {
			t.Errorf("Granted([openid %s], nil) = %v; want [openid]", sc, got)
		}
	}
}
