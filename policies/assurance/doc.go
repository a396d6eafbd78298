// Package assurance provides CardSSO's levels of assurance and their acr
// values (docs/architecture.md, "Assurance levels"): loa:1 real-name verified, loa:2 plus real-card,
// loa:3 plus real-person.
//
// This first version names the levels and parses acr values; the level
// computation from checks and the step-up decisions come with the policies
// issue.
package assurance
