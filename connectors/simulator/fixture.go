package simulator

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// defaultFixture is the embedded fixture used when Config.Fixture is empty.
//
//go:embed fixture.yaml
var defaultFixture string

// defaultFixtureName names the embedded fixture in errors.
const defaultFixtureName = "fixture.yaml (embedded)"

// DefaultGeneration is the card generation of a holder whose fixture entry
// does not give one: the third generation, issued since 2021.
const DefaultGeneration = 3

// Holder is a card holder in a fixture.
type Holder struct {
	Name       string                // the holder's name, e.g. 张三
	Number     citizenid.Number      // the social security number
	CardNumber string                // the card number (社会保障卡卡号), 9 characters [0-9A-Z]
	CardRegion string                // the 6-digit GB/T 2260 code of the issuing region (发卡地)
	Status     connectors.CardStatus // the card's application status
	Generation int                   // the card generation, 1 to 3
	Photo      string                // the card photo's file name (not a path), or ""
}

// Card returns the holder's card as the real-card check reports it.
func (h Holder) Card() connectors.Card {
	return connectors.Card{Region: h.CardRegion, Number: h.CardNumber, Status: h.Status, Generation: h.Generation}
}

// FixtureError reports a holder in a fixture that is not valid.
type FixtureError struct {
	File   string // the fixture file's path, or "fixture.yaml (embedded)"
	Index  int    // the holder's index in the holders list, from 0
	Line   int    // the holder's line in the file, or 0 when unknown
	Number string // the holder's number masked (citizenid.Mask), or ""
	Field  string // the YAML field at fault, e.g. "card_number"
	Err    error  // what is wrong with it
}

// Error returns a message like
// "simulator: fixture.yaml:14: holders[1] (440***********0028): card_number: must be 9 characters 0-9 or A-Z".
func (e *FixtureError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "simulator: %s", e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	fmt.Fprintf(&b, ": holders[%d]", e.Index)
	if e.Number != "" {
		fmt.Fprintf(&b, " (%s)", e.Number)
	}
	fmt.Fprintf(&b, ": %s: %v", e.Field, e.Err)
	return b.String()
}

// Unwrap returns e.Err.
func (e *FixtureError) Unwrap() error { return e.Err }

// fixtureFile is the YAML layout of a fixture file.
type fixtureFile struct {
	Holders []fixtureHolder `yaml:"holders"`
}

type fixtureHolder struct {
	Name       string `yaml:"name"`
	Number     string `yaml:"number"`
	CardNumber string `yaml:"card_number"`
	CardRegion string `yaml:"card_region"`
	CardStatus string `yaml:"card_status"`
	Generation *int   `yaml:"generation"`
	Photo      string `yaml:"photo"`
}

// parseFixture decodes and validates a fixture; file names it in errors.
// Unknown fields are an error, so a misspelt field is not silently empty.
// Each holder's card photo is read from photos (where names it in errors) and
// returned as a faceprint, nil for a holder without a photo.
func parseFixture(file string, data []byte, photos fs.FS, where string) ([]Holder, []*faceprint, error) {
	var f fixtureFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("simulator: %s: fixture is empty", file)
		}
		return nil, nil, fmt.Errorf("simulator: %s: %w", file, err)
	}
	if len(f.Holders) == 0 {
		return nil, nil, fmt.Errorf("simulator: %s: fixture has no holders", file)
	}
	lines := holderLines(data)

	holders := make([]Holder, 0, len(f.Holders))
	prints := make([]*faceprint, 0, len(f.Holders))
	byNumber := make(map[citizenid.Number]int, len(f.Holders))
	byCard := make(map[[2]string]int, len(f.Holders))
	for i, fh := range f.Holders {
		fail := func(field string, err error) error {
			fe := &FixtureError{File: file, Index: i, Number: citizenid.Mask(strings.TrimSpace(fh.Number)), Field: field, Err: err}
			if i < len(lines) {
				fe.Line = lines[i]
			}
			return fe
		}
		h := Holder{
			Name:       strings.TrimSpace(fh.Name),
			CardNumber: fh.CardNumber,
			CardRegion: fh.CardRegion,
			Status:     connectors.CardStatus(fh.CardStatus),
			Generation: DefaultGeneration,
			Photo:      fh.Photo,
		}
		if fh.Generation != nil {
			h.Generation = *fh.Generation
		}
		n, err := citizenid.Parse(fh.Number)
		if err != nil {
			return nil, nil, fail("number", err)
		}
		h.Number = n
		if h.Name == "" {
			return nil, nil, fail("name", errors.New("is empty"))
		}
		if !connectors.ValidCardNumber(h.CardNumber) {
			return nil, nil, fail("card_number", errors.New("must be 9 characters 0-9 or A-Z"))
		}
		if !citizenid.ValidRegion(h.CardRegion) {
			return nil, nil, fail("card_region", errors.New("must be a 6-digit GB/T 2260 region code"))
		}
		if !h.Status.Valid() {
			return nil, nil, fail("card_status", fmt.Errorf("unknown status %q; want one of normal, sealed, reported_lost_temporary, reported_lost, cancelled", h.Status))
		}
		if h.Generation < 1 || h.Generation > 3 {
			return nil, nil, fail("generation", fmt.Errorf("must be 1, 2 or 3, not %d", h.Generation))
		}
		if h.Photo != "" && (strings.ContainsAny(h.Photo, `/\`) || h.Photo == "." || h.Photo == "..") {
			return nil, nil, fail("photo", errors.New("must be a file name, not a path"))
		}
		if j, dup := byNumber[h.Number]; dup {
			return nil, nil, fail("number", fmt.Errorf("duplicate number, also in holders[%d]", j))
		}
		card := [2]string{h.CardRegion, h.CardNumber}
		if j, dup := byCard[card]; dup {
			return nil, nil, fail("card_number", fmt.Errorf("duplicate card %s in region %s, also in holders[%d]", h.CardNumber, h.CardRegion, j))
		}
		var fp *faceprint
		if h.Photo != "" {
			if fp, err = loadCardPhoto(photos, where, h.Photo); err != nil {
				return nil, nil, fail("photo", err)
			}
		}
		byNumber[h.Number] = i
		byCard[card] = i
		holders = append(holders, h)
		prints = append(prints, fp)
	}
	return holders, prints, nil
}

// holderLines returns the line of each entry of the holders list, for error
// messages; nil when the layout is not as expected (the strict decode has
// reported that already).
func holderLines(data []byte) []int {
	var doc struct {
		Holders []yaml.Node `yaml:"holders"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	lines := make([]int, len(doc.Holders))
	for i, n := range doc.Holders {
		lines[i] = n.Line
	}
	return lines
}

// LogValue implements slog.LogValuer. It leaves out the name and the card
// number and masks the social security number.
func (h Holder) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("number", h.Number.Masked()),
		slog.String("card_region", h.CardRegion),
		slog.String("status", string(h.Status)),
		slog.Int("generation", h.Generation),
	)
}
