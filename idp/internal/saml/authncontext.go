package saml

import (
	crewjam "github.com/crewjam/saml"

	"github.com/cardsso/cardsso/policies/assurance"
)

// Authentication context classes (saml-authn-context-2.0-os) that CardSSO
// understands besides its own level URNs and their aliases: every CardSSO
// login is at least a password over TLS, so these stand for level 1.
var levelOneClasses = []string{
	"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
}

// contexts maps authentication context classes to levels: CardSSO's URNs,
// the configured aliases (an alias several levels share stands for the
// lowest of them) and the SAML level-one classes.
type contexts struct {
	aliases assurance.Aliases
	// assertAliases names the level by its alias when the request does not
	// say which vocabulary it wants.
	assertAliases bool
}

// level of a class, and whether the class is known.
func (c contexts) level(class string) (assurance.Level, bool) {
	if l, ok := c.aliases.Parse(class); ok {
		return l, true
	}
	for _, v := range levelOneClasses {
		if v == class {
			return assurance.LoA1, true
		}
	}
	return 0, false
}

// strengths ranks every known class for crewjam/saml's own check of the
// asserted class (IdentityProvider.AuthnContextClassStrengths).
func (c contexts) strengths() map[string]int {
	m := map[string]int{}
	for _, v := range levelOneClasses {
		m[v] = int(assurance.LoA1)
	}
	for l := assurance.LoA1; l <= assurance.LoA3; l++ {
		m[l.ACR()] = int(l)
		if a, ok := c.aliases[l]; ok && a != "" {
			if cur, seen := m[a]; !seen || int(l) < cur {
				m[a] = int(l)
			}
		}
	}
	return m
}

// requirement is what a RequestedAuthnContext asks of the level.
type requirement struct {
	// Min is the lowest level that can satisfy the request (1 when it
	// asks nothing).
	Min assurance.Level
	// Impossible: no level CardSSO reaches satisfies it (only unknown
	// classes, or "better" than level 3).
	Impossible bool
}

// require reads a RequestedAuthnContext (saml-core-2.0-os §3.3.2.2.1):
//   - exact (or none): one of the classes; the lowest known one is enough.
//   - minimum: at least the lowest known class.
//   - better: a level whose name (in the request's vocabulary, see assert)
//     is stronger than the weakest known class: better than eIDAS "low" is
//     level 3, as levels 1 and 2 are both "low"; above level 3 is
//     impossible.
//   - maximum: at most the strongest known class; level 1 is enough.
//
// Unknown classes are ignored; a request that names only unknown classes
// is impossible. An unknown comparison is left to crewjam/saml, which
// answers Requester.
func (c contexts) require(rac *crewjam.RequestedAuthnContext) requirement {
	if rac == nil || len(rac.ClassRefs()) == 0 {
		return requirement{Min: assurance.LoA1}
	}
	lo, known := assurance.Level(0), false
	for _, class := range rac.ClassRefs() {
		if l, ok := c.level(class); ok && (!known || l < lo) {
			lo, known = l, true
		}
	}
	if !known {
		return requirement{Impossible: true}
	}
	switch rac.Comparison {
	case "better":
		st, name := c.strengths(), c.namer(rac)
		for l := assurance.LoA1; l <= assurance.LoA3; l++ {
			if st[name(l)] > int(lo) {
				return requirement{Min: l}
			}
		}
		return requirement{Impossible: true}
	case "maximum":
		return requirement{Min: assurance.LoA1}
	default: // exact, minimum
		return requirement{Min: lo}
	}
}

// namer returns how to name a level when answering rac: by its alias when
// rac names any of its classes by an alias, by CardSSO's URN otherwise.
func (c contexts) namer(rac *crewjam.RequestedAuthnContext) func(assurance.Level) string {
	for _, cl := range rac.ClassRefs() {
		if _, err := assurance.ParseACR(cl); err == nil {
			continue
		}
		if l, ok := c.aliases.Parse(cl); ok && l > 0 {
			return c.aliases.Name
		}
	}
	return assurance.Level.ACR
}

// assert chooses the class to assert for an authentication at level
// reached, answering rac in its own vocabulary:
//   - exact: the strongest requested class whose level the authentication
//     reached (a level includes the ones below it, docs/architecture.md, "Assurance levels");
//   - minimum, better: the level reached;
//   - maximum: the level reached, capped at the strongest requested class.
//
// The level is named by CardSSO's URN, or by its alias when the request
// names its classes by aliases (or, without a request, when aliases are
// asserted by default). ok is false when nothing satisfies the request;
// crewjam/saml then answers NoAuthnContext.
func (c contexts) assert(rac *crewjam.RequestedAuthnContext, reached assurance.Level) (class string, ok bool) {
	if rac == nil || len(rac.ClassRefs()) == 0 {
		if c.assertAliases {
			return c.aliases.Name(reached), true
		}
		return reached.ACR(), true
	}
	name := c.namer(rac)
	var hi assurance.Level
	for _, cl := range rac.ClassRefs() {
		if l, known := c.level(cl); known {
			hi = max(hi, l)
		}
	}
	switch rac.Comparison {
	case "", "exact":
		best, bestLevel := "", assurance.Level(0)
		for _, cl := range rac.ClassRefs() {
			if l, known := c.level(cl); known && l <= reached && l > bestLevel {
				best, bestLevel = cl, l
			}
		}
		return best, best != ""
	case "maximum":
		return name(min(reached, hi)), hi > 0
	case "minimum", "better":
		return name(reached), true
	}
	return reached.ACR(), true // an unknown comparison: crewjam/saml answers Requester
}
