package simulator

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// Config configures a Simulator.
type Config struct {
	// Fixture is the path of a YAML fixture file (see fixture.yaml for the
	// format). Empty means the embedded default fixture.
	Fixture string `yaml:"fixture"`
}

// Simulator is an in-process card service platform answering from a
// fixture of card holders. It is immutable and safe for concurrent use.
type Simulator struct {
	holders  []Holder
	byNumber map[citizenid.Number]int // index into holders
}

var _ connectors.RealNameChecker = (*Simulator)(nil)

// New returns a Simulator over the fixture cfg names, or over the embedded
// default fixture when cfg.Fixture is empty. The fixture is validated first;
// a holder that is not valid gives a *FixtureError.
func New(cfg Config) (*Simulator, error) {
	if cfg.Fixture == "" {
		return fromFixture(defaultFixtureName, []byte(defaultFixture))
	}
	return Load(cfg.Fixture)
}

// Load returns a Simulator over the fixture file at path, validated as New
// does.
func Load(path string) (*Simulator, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("simulator: read fixture: %w", err)
	}
	return fromFixture(path, data)
}

func fromFixture(file string, data []byte) (*Simulator, error) {
	holders, err := parseFixture(file, data)
	if err != nil {
		return nil, err
	}
	s := &Simulator{holders: holders, byNumber: make(map[citizenid.Number]int, len(holders))}
	for i, h := range holders {
		s.byNumber[h.Number] = i
	}
	return s, nil
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
	i, ok := s.byNumber[number]
	if !ok || s.holders[i].Name != strings.TrimSpace(name) {
		return connectors.RealNameResult{}, nil
	}
	return connectors.RealNameResult{Matched: true, CardRegion: s.holders[i].CardRegion}, nil
}
