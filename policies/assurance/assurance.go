package assurance

import "fmt"

// Level is a level of assurance, 1 to 3. The zero value means "none".
type Level int

// The levels.
const (
	LoA1 Level = 1 // real-name verified
	LoA2 Level = 2 // + real-card verified, card status normal
	LoA3 Level = 3 // + real-person (face match) in this authentication
)

const urnPrefix = "urn:cardsso:loa:"

// ACR returns the acr value, e.g. urn:cardsso:loa:1.
func (l Level) ACR() string {
	if l < LoA1 || l > LoA3 {
		return ""
	}
	return fmt.Sprintf("%s%d", urnPrefix, int(l))
}

func (l Level) String() string { return l.ACR() }

// ParseACR parses one of our acr values.
func ParseACR(acr string) (Level, error) {
	for l := LoA1; l <= LoA3; l++ {
		if acr == l.ACR() {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown acr %q (want %s, %s or %s)", acr, LoA1.ACR(), LoA2.ACR(), LoA3.ACR())
}

// Method values for amr (RFC 8176).
const (
	AMRPassword = "pwd"
	AMRFace     = "face"
	AMRSoftKey  = "swk"
	AMRMulti    = "mfa"
)
