package assurance

// Aliases maps levels to the acr values of another framework that relying
// parties use (eIDAS, NIST, a provincial scheme). It is configuration
// (docs/architecture.md, "Assurance levels"); a level without an alias is named by its own URN.
type Aliases map[Level]string

// EIDAS is the default alias table to the eIDAS levels of assurance: real
// name and real card are "low", a face match against the card photo
// "substantial" (nothing CardSSO does reaches "high").
func EIDAS() Aliases {
	return Aliases{
		LoA1: "http://eidas.europa.eu/LoA/low",
		LoA2: "http://eidas.europa.eu/LoA/low",
		LoA3: "http://eidas.europa.eu/LoA/substantial",
	}
}

// Name is the value to send for a level: its alias, or its URN.
func (a Aliases) Name(l Level) string {
	if v, ok := a[l]; ok && v != "" {
		return v
	}
	return l.ACR()
}

// Parse reads one of our URNs or an alias. An alias several levels share
// (eIDAS "low") means the lowest of them: whoever asks for it is satisfied
// by that level.
func (a Aliases) Parse(v string) (Level, bool) {
	if l, err := ParseACR(v); err == nil {
		return l, true
	}
	for l := LoA1; l <= LoA3; l++ {
		if a[l] == v && v != "" {
			return l, true
		}
	}
	return 0, false
}

// Lowest returns the lowest level among values it knows (a relying party
// that lists several accepts any of them), and false when it knows none.
func (a Aliases) Lowest(values []string) (Level, bool) {
	best, found := Level(0), false
	for _, v := range values {
		if l, ok := a.Parse(v); ok && (!found || l < best) {
			best, found = l, true
		}
	}
	return best, found
}
