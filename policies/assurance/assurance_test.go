package assurance

import "testing"

func TestParseACR(t *testing.T) {
	tests := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"urn:cardsso:loa:1", LoA1, true},
		{"urn:cardsso:loa:2", LoA2, true},
		{"urn:cardsso:loa:3", LoA3, true},
		{"urn:cardsso:loa:4", 0, false},
		{"", 0, false},
		{"http://eidas.europa.eu/LoA/low", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseACR(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseACR(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.ACR() != tt.in {
			t.Errorf("Level(%d).ACR() = %q; want %q", got, got.ACR(), tt.in)
		}
	}
}
