// Package connectorstest provides the conformance suite that every
// implementation of the connectors check interfaces must pass, run against
// the demo card holders of DESIGN.md §8.
//
// An implementation's tests build a checker that knows the demo holders (the
// simulator's default fixture, or a card platform serving it) and call the
// suite:
//
//	func TestRealName(t *testing.T) {
//		s, err := simulator.New(simulator.Config{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		connectorstest.TestRealName(t, s)
//	}
package connectorstest
