// Package simulator provides an in-process card service platform that answers
// the three identity checks (real-name, real-card, real-person) from a fixture
// of card holders, and simulates the electronic social security card (login
// tickets, counter codes, licences, app bindings); it is CardSSO's embedded
// default connector, so a fresh install works without a real platform.
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
// checks never return connectors.ErrUnavailable.
//
// # The e-card
//
// A Simulator implements connectors.LoginTickets, connectors.CounterVerifier,
// connectors.LicenceFetcher and connectors.BindingAdmin, and AppHandler serves
// the app API of connectors/ecardapp that a phone app (examples/ecard-app)
// speaks; CardSSO mounts it at Config.AppBaseURL (DefaultAppBaseURL, the
// default issuer + /ecard-sim, when empty) only when the simulator is the
// connector:
//
//	app ── POST /v1/bindings {name, number, card, device, P-256 JWK}
//	       real-name + real-card match, card normal ──→ binding id (= kid)
//	CardSSO ── CreateLoginTicket ──→ id, payload <AppBaseURL>/v1/tickets/<id>
//	app ── GET payload (portal) ── POST payload/confirm, JWS {ticket, jti, iat, exp}
//	CardSSO ── LoginTicketStatus ──→ confirmed: number, binding, time
//	staff ── scanned counter code (JWS {use: counter, ...}) ── VerifyCounterCode
//
// Tickets live connectors.TicketLifetime and are confirmed or refused once,
// by a live binding; each JWS is single-use by its jti, remembered until its
// exp + ecardapp.Skew. Expired tickets (kept one more TicketLifetime, so
// that a late confirmation can still be collected) and jtis are pruned as
// new ones arrive, and the state is capped (MaxLiveTickets, MaxBindings,
// MaxSeenJTIs): beyond a cap the call fails with an error wrapping
// connectors.ErrUnavailable and the app API answers 503. Licence data is
// derived from the fixture holder (see Simulator.Licence): the fixture has
// no licence fields.
//
// The e-card state is in memory, in one process: bindings and tickets are
// lost on restart, and several CardSSO nodes do not share them (a ticket
// created on one node cannot be confirmed on another). A deployment with
// several nodes uses the cardplatform connector and a real platform (or
// examples/cardplatform).
//
// The fixture of a Simulator is immutable once built; its e-card state sits
// behind a mutex. A Simulator is safe for concurrent use.
package simulator
