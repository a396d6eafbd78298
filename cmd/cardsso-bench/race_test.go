//go:build race

package main

// raceEnabled: the race detector slows an argon2id login or a SAML round
// trip to about half a second, so TestWorkloads measures for longer.
const raceEnabled = true
