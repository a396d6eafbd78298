// Package connectorstest provides the conformance suite that every
// implementation of the connectors check interfaces must pass, run against
// the demo card holders of the README ("Demo card holders"): TestRealName, TestCard and TestFace,
// one per check, and Run for an implementation of all three; and TestECard,
// the e-card suite, which plays the phone app through an AppDriver (HTTPApp
// speaks the app API of connectors/ecardapp at a base URL).
//
// An implementation's tests build a checker that knows the demo holders (the
// simulator's default fixture, or a card platform serving it) and call the
// suite:
//
//	func TestSuite(t *testing.T) {
//		s, err := simulator.New(simulator.Config{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		connectorstest.Run(t, s)
//	}
//
// The suite expects the holders, cards and card photos of the simulator's
// embedded fixture: TestFace plays the citizen with the photos
// simulator.DemoPhoto returns (the files in examples/photos), and with copies
// of them altered by AlterPhoto (re-encoded, resized, brightened), which a
// face check must still pass. A networked implementation serves the same
// fixture; its test needs no files of its own.
//
// Each check's expected answers are listed on its function. What the suite
// holds every implementation to: a mismatch is a zero result with no error,
// and does not say which detail was wrong; a cancelled context is an error
// wrapping context.Canceled; a live photo that is not a usable PNG or JPEG is
// an error wrapping connectors.ErrInvalidPhoto; a face check answers pass or
// fail only.
package connectorstest
