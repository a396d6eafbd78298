// Package connectors defines the identity checks CardSSO asks of a card service
// platform — real-name (实名), real-card (实卡), real-person (实人) — as small
// interfaces with their value types, and the errors implementations return.
//
// A check returns (result, error): "the details do not match" is a result,
// an error means "could not check", and ErrUnavailable marks platform faults, so
// the login page can say "details do not match" apart from "try again later".
//
// Implementations: simulator (in-process fixtures, the embedded default) and
// cardplatform (an HTTP client for a remote card service platform). The suite
// in connectorstest is what every implementation must pass.
package connectors
