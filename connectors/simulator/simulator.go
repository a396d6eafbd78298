package simulator

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// Config configures a Simulator. The zero Config is the demo: the embedded
// fixture, the embedded card photos and DefaultFaceThreshold.
type Config struct {
	// Fixture is the path of a YAML fixture file (see fixture.yaml for the
	// format). Empty means the embedded default fixture.
	Fixture string `yaml:"fixture"`
	// PhotoDir is the directory holding the card photos the fixture's photo
	// fields name. Empty means the embedded photos of the demo holders, so a
	// custom fixture may reuse them by name.
	PhotoDir string `yaml:"photo_dir"`
	// FaceThreshold is the similarity, above 0 and at most 1, a live photo
	// must reach against the card photo to pass the face check. Zero means
	// DefaultFaceThreshold. Lowering it lets more photos of other people
	// pass; see the package documentation for the scores of the demo photos.
	FaceThreshold float64 `yaml:"face_threshold"`
	// AppBaseURL is the absolute URL under which the e-card app API
	// (AppHandler) is mounted; login ticket payloads are URLs below it.
	// Empty means DefaultAppBaseURL.
	AppBaseURL string `yaml:"app_base_url"`
	// Now is the clock of the e-card (ticket and JWS lifetimes); nil means
	// time.Now. For tests.
	Now func() time.Time `yaml:"-"`
}

// Simulator is an in-process card service platform answering from a
// fixture of card holders. Its fixture is immutable; its e-card state (app
// bindings, login tickets, seen jtis) lives in memory behind a mutex. It is
// safe for concurrent use.
type Simulator struct {
	holders       []Holder
	prints        []*faceprint             // the card photos' faceprints, nil without a photo; parallel to holders
	byNumber      map[citizenid.Number]int // index into holders
	faceThreshold float64
	appBase       string           // Config.AppBaseURL without a trailing slash
	now           func() time.Time // Config.Now or time.Now
	ecard         *ecardState
}

var (
	_ connectors.RealNameChecker = (*Simulator)(nil)
	_ connectors.CardChecker     = (*Simulator)(nil)
	_ connectors.FaceChecker     = (*Simulator)(nil)
)

// New returns a Simulator over the fixture cfg names, or over the embedded
// default fixture when cfg.Fixture is empty. The fixture is validated first,
// and its card photos are read and decoded; a holder that is not valid, or
// whose photo cannot be read or decoded, gives a *FixtureError.
func New(cfg Config) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	threshold := cfg.FaceThreshold
	if threshold == 0 {
		threshold = DefaultFaceThreshold
	}
	photos, where := embeddedPhotos(), embeddedPhotosName
	if cfg.PhotoDir != "" {
		photos, where = os.DirFS(cfg.PhotoDir), cfg.PhotoDir
	}
	file, data := defaultFixtureName, []byte(defaultFixture)
	if cfg.Fixture != "" {
		var err error
		if data, err = os.ReadFile(cfg.Fixture); err != nil {
			return nil, fmt.Errorf("simulator: read fixture: %w", err)
		}
		file = cfg.Fixture
	}
	holders, prints, err := parseFixture(file, data, photos, where)
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		holders:       holders,
		prints:        prints,
		byNumber:      make(map[citizenid.Number]int, len(holders)),
		faceThreshold: threshold,
		appBase:       strings.TrimRight(cfg.AppBaseURL, "/"),
		now:           cfg.Now,
		ecard:         newECardState(),
	}
	if s.appBase == "" {
		s.appBase = DefaultAppBaseURL
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, h := range holders {
		s.byNumber[h.Number] = i
	}
	return s, nil
}

// Load returns a Simulator over the fixture file at path, with the embedded
// photos and the default threshold: New(Config{Fixture: path}).
func Load(path string) (*Simulator, error) {
	return New(Config{Fixture: path})
}

// Holders returns a copy of the fixture's card holders, in fixture order.
func (s *Simulator) Holders() []Holder {
	return slices.Clone(s.holders)
}

// CheckRealName implements connectors.RealNameChecker. It matches when number
// is in the fixture and name, with surrounding white space trimmed, equals
// the holder's name exactly; the result then carries the card's issuing
// region. The card status does not matter. An unknown number and a wrong name
// both give RealNameResult{}. The only error is a done ctx: it wraps
// ctx.Err().
func (s *Simulator) CheckRealName(ctx context.Context, name string, number citizenid.Number) (connectors.RealNameResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.RealNameResult{}, fmt.Errorf("simulator: real-name check: %w", err)
	}
	h, ok := s.holder(number)
	if !ok || h.Name != strings.TrimSpace(name) {
		return connectors.RealNameResult{}, nil
	}
	return connectors.RealNameResult{Matched: true, CardRegion: h.CardRegion}, nil
}

// CheckCard implements connectors.CardChecker. It matches when number is in
// the fixture, name (surrounding white space trimmed) equals the holder's
// name exactly, and cardNumber (surrounding white space trimmed, compared
// without regard to case) equals the holder's card number; the result then
// describes the card whatever its status. An unknown number, a wrong name and
// a wrong card number all give CardResult{}. The only error is a done ctx: it
// wraps ctx.Err().
func (s *Simulator) CheckCard(ctx context.Context, name string, number citizenid.Number, cardNumber string) (connectors.CardResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.CardResult{}, fmt.Errorf("simulator: real-card check: %w", err)
	}
	h, ok := s.holder(number)
	if !ok || h.Name != strings.TrimSpace(name) || !sameCardNumber(h.CardNumber, strings.TrimSpace(cardNumber)) {
		return connectors.CardResult{}, nil
	}
	return connectors.CardResult{Matched: true, Card: h.Card()}, nil
}

// sameCardNumber reports whether got is the card number want, ignoring the
// case of ASCII letters only (strings.EqualFold would also take, say, the
// Kelvin sign for K).
func sameCardNumber(want, got string) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range len(want) {
		w, g := want[i], got[i]
		if 'a' <= g && g <= 'z' {
			g -= 'a' - 'A'
		}
		if w != g {
			return false
		}
	}
	return true
}

// holder returns the holder with number.
func (s *Simulator) holder(number citizenid.Number) (*Holder, bool) {
	i, ok := s.byNumber[number]
	if !ok {
		return nil, false
	}
	return &s.holders[i], true
}
