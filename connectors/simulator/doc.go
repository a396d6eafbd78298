// Package simulator provides an in-process card service platform that answers
// identity checks from a fixture of card holders; it is CardSSO's embedded
// default connector, so a fresh install works without a real platform.
//
// New(Config{}) loads the embedded fixture.yaml; Load (or Config.Fixture)
// loads another file in the same format. A fixture is validated as a whole
// when it is loaded: every number must pass citizenid.Parse, card numbers
// must match ^[0-9A-Z]{9}$, card regions must be plausible GB/T 2260 codes,
// statuses must be known, and neither a number nor a (card region, card
// number) pair may appear twice. A bad fixture gives a *FixtureError naming
// the holder and the field.
//
// The embedded fixture carries these demo holders (synthetic numbers with
// valid check characters; DESIGN.md §8, documented in the README):
//
//	name  social security number  card number  card region  card status
//	张三  110105199003070017      A00000001    110105       normal
//	李四  440305198511120028      A00000002    440305       reported_lost
//	王五  31011519780520003X      A00000003    310115       cancelled
//	赵六  510104200002290046      A00000004    510104       normal
//	孙七  330106199512310055      A00000005    330106       sealed
//
// The real-name check matches when the number is in the fixture and the name
// equals the holder's name exactly, after trimming surrounding white space
// (no Unicode normalisation). The card status does not matter to it. A
// number the fixture does not hold and a wrong name give the same answer.
//
// A Simulator is immutable once built and safe for concurrent use.
package simulator
