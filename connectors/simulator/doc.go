// Package simulator provides an in-process card service platform that answers
// the three identity checks (real-name, real-card, real-person) from a fixture
// of card holders; it is CardSSO's embedded default connector, so a fresh
// install works without a real platform.
//
// New(Config{}) loads the embedded fixture.yaml and the embedded card photos;
// Config.Fixture (or Load) names another fixture file in the same format, and
// Config.PhotoDir a directory holding the card photos its photo fields name. A
// fixture is validated as a whole when it is loaded: every number must pass
// citizenid.Parse, card numbers must have the form connectors.ValidCardNumber
// accepts, card regions must be plausible GB/T 2260 codes, statuses must be
// connectors.CardStatus values, generations 1 to 3 (3 when left out), photo
// fields file names whose files decode as card photos, and neither a number
// nor a (card region, card number) pair may appear twice. A bad fixture gives
// a *FixtureError naming the holder and the field.
//
// The embedded fixture carries these demo holders (synthetic numbers with
// valid check characters; the README lists them under "Demo card holders"):
//
//	name  social security number  card number  card region  card status    generation
//	张三  110105199003070017      A00000001    110105       normal         3
//	李四  440305198511120028      A00000002    440305       reported_lost  2
//	王五  31011519780520003X      A00000003    310115       cancelled      2
//	赵六  510104200002290046      A00000004    510104       normal         3
//	孙七  330106199512310055      A00000005    330106       sealed         3
//
// Each has a synthetic card photo, a drawn face, not a photograph of anyone:
// photos/<number>.png, identical to examples/photos/<number>.png; both are
// written by `go run ./examples/photos/gen`. DemoPhoto returns them, for
// tests that play the citizen.
//
// # The checks
//
// Real-name matches when the number is in the fixture and the name equals the
// holder's name exactly, after trimming surrounding white space (no Unicode
// normalisation); the card status does not matter.
//
// Real-card matches when, in addition, the card number equals the holder's
// (ASCII letters in any case, surrounding white space trimmed); the result
// describes the card, region, number, status and generation, whatever its
// status: the caller decides that only normal passes.
//
// For both, an unknown number, a wrong name and a wrong card number all give
// the same zero result: the answer does not say which detail was wrong.
//
// Real-person (CheckFace) compares the live photo with the holder's card
// photo:
//
//	live photo ── ≤ connectors.MaxPhotoBytes? PNG or JPEG signature?
//	           ── header: 32 to 4096 pixels on each side?   (before decoding:
//	           ── decode                                     no decompression bomb)
//	           ── luma (BT.601) ── area average over a 32×32 grid
//	           ── subtract the mean, scale to unit length ──┐
//	card photo ── the same, once, when the fixture loads ───┴─ dot product = r
//	r ≥ threshold → Passed
//
// The similarity r is the Pearson correlation coefficient of the two 32×32
// grey grids, from -1 to 1. It ignores a uniform change of brightness or
// contrast, and, since any photo is reduced to the same grid, re-encoding and
// resizing change it little. The threshold is Config.FaceThreshold,
// DefaultFaceThreshold (0.90) when zero. On the demo photos (TestScores): a
// card photo against itself, a JPEG copy at quality 80, copies resized to 90%
// and 110% and a copy brightened by 20 levels all score at least 0.999;
// another holder's photo scores at most 0.42 (most pairs are below 0.4, some
// negative). This tells the drawn demo faces apart; it is no face recogniser,
// and a real photograph of the holder would not pass against a drawing.
//
// The score never leaves this package: CheckFace returns pass or fail only,
// and nothing is logged (GB/T 38671-2020: return whether it passed, never the
// score, against hill-climbing). Neither the live photo nor anything computed
// from it is kept or logged; errors describe the photo (its size, format,
// dimensions) but never carry its bytes or the full number. The challenge
// must not be empty (an empty one is an error, not a pass); the simulator
// has no liveness check to bind it to and does not otherwise use it.
//
// Errors: a done ctx (every check; wraps ctx.Err()), an empty challenge, and a
// live photo that is too large, not PNG or JPEG, out of the size limits or not
// decodable (wraps connectors.ErrInvalidPhoto). A number without a card photo,
// an unknown number and a uniform photo are Passed false, with no error. The
// simulator never returns connectors.ErrUnavailable.
//
// A Simulator is immutable once built and safe for concurrent use.
package simulator
