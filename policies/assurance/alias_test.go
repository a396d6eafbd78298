package assurance

import "testing"

func TestAliases(t *testing.T) {
	e := EIDAS()
	names := []struct {
		l    Level
		want string
	}{
		{LoA1, "http://eidas.europa.eu/LoA/low"},
		{LoA2, "http://eidas.europa.eu/LoA/low"},
		{LoA3, "http://eidas.europa.eu/LoA/substantial"},
	}
	for _, tt := range names {
		if got := e.Name(tt.l); got != tt.want {
			t.Errorf("EIDAS().Name(%v) = %q; want %q", tt.l, got, tt.want)
		}
		if got := (Aliases{}).Name(tt.l); got != tt.l.ACR() {
			t.Errorf("no aliases: Name(%v) = %q; want the URN", tt.l, got)
		}
	}
	parses := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"urn:cardsso:loa:2", LoA2, true},
		{"http://eidas.europa.eu/LoA/low", LoA1, true},
		{"http://eidas.europa.eu/LoA/substantial", LoA3, true},
		{"http://eidas.europa.eu/LoA/high", 0, false},
		{"", 0, false},
	}
	for _, tt := range parses {
		got, ok := e.Parse(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("EIDAS().Parse(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if l, ok := e.Lowest([]string{"urn:cardsso:loa:3", "bogus", "urn:cardsso:loa:2"}); !ok || l != LoA2 {
		t.Errorf("Lowest = %v, %v; want loa:2", l, ok)
	}
	if _, ok := e.Lowest([]string{"bogus"}); ok {
		t.Errorf("Lowest of unknown values found a level")
	}
}
