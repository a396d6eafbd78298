//go:build race

package main

// raceEnabled: the race detector slows every workload several times, so
// TestWorkloads measures for longer.
const raceEnabled = true
