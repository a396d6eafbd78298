package simulator_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
	"github.com/cardsso/cardsso/connectors/connectorstest"
	"github.com/cardsso/cardsso/connectors/simulator"
)

func newDefault(t *testing.T) *simulator.Simulator {
	t.Helper()
	s, err := simulator.New(simulator.Config{})
	if err != nil {
		t.Fatalf("New(Config{}) error = %v; want nil", err)
	}
	return s
}

func mustParse(t *testing.T, s string) citizenid.Number {
	t.Helper()
	n, err := citizenid.Parse(s)
	if err != nil {
		t.Fatalf("citizenid.Parse(%s) error = %v; want nil", citizenid.Mask(s), err)
	}
	return n
}

func TestSuite(t *testing.T) {
	connectorstest.Run(t, newDefault(t))
}

func TestDefaultFixture(t *testing.T) {
	want := []struct {
		name, number, cardNumber, cardRegion string
		status                               connectors.CardStatus
		generation                           int
	}{
		{"张三", "110105199003070017", "A00000001", "110105", connectors.CardNormal, 3},
		{"李四", "440305198511120028", "A00000002", "440305", connectors.CardReportedLost, 2},
		{"王五", "31011519780520003X", "A00000003", "310115", connectors.CardCancelled, 2},
		{"赵六", "510104200002290046", "A00000004", "510104", connectors.CardNormal, 3},
		{"孙七", "330106199512310055", "A00000005", "330106", connectors.CardSealed, 3},
	}
	got := newDefault(t).Holders()
	if len(got) != len(want) {
		t.Fatalf("len(Holders()) = %d; want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Number.String() != w.number || g.CardNumber != w.cardNumber ||
			g.CardRegion != w.cardRegion || g.Status != w.status || g.Generation != w.generation || g.Photo != w.number+".png" {
			t.Errorf("Holders()[%d] = {%s %s %s %s %s %d %s}; want {%s %s %s %s %s %d %s.png}", i,
				g.Name, g.Number.Masked(), g.CardNumber, g.CardRegion, g.Status, g.Generation, citizenid.Mask(strings.TrimSuffix(g.Photo, ".png")),
				w.name, citizenid.Mask(w.number), w.cardNumber, w.cardRegion, w.status, w.generation, citizenid.Mask(w.number))
		}
		wantCard := connectors.Card{Region: w.cardRegion, Number: w.cardNumber, Status: w.status, Generation: w.generation}
		if c := g.Card(); c != wantCard {
			t.Errorf("Holders()[%d].Card() = %+v; want %+v", i, c, wantCard)
		}
	}
}

func TestHoldersIsCopy(t *testing.T) {
	s := newDefault(t)
	h := s.Holders()
	h[0].Name = "changed"
	if got := s.Holders()[0].Name; got != "张三" {
		t.Errorf("Holders()[0].Name after changing a copy = %q; want %q", got, "张三")
	}
}

func TestCheckRealName(t *testing.T) {
	s := newDefault(t)
	zhang := mustParse(t, "110105199003070017")
	wang := mustParse(t, "31011519780520003X")
	tests := []struct {
		name   string
		holder string
		number citizenid.Number
		want   connectors.RealNameResult
	}{
		{"own name", "张三", zhang, connectors.RealNameResult{Matched: true, CardRegion: "110105"}},
		{"surrounding spaces", " 张三\u3000", zhang, connectors.RealNameResult{Matched: true, CardRegion: "110105"}},
		{"cancelled card still matches", "王五", wang, connectors.RealNameResult{Matched: true, CardRegion: "310115"}},
		{"another holder's name", "王五", zhang, connectors.RealNameResult{}},
		{"inner space", "张 三", zhang, connectors.RealNameResult{}},
		{"unknown number", "张三", mustParse(t, "110101198001010010"), connectors.RealNameResult{}},
		{"zero number", "张三", citizenid.Number{}, connectors.RealNameResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CheckRealName(t.Context(), tt.holder, tt.number)
			if err != nil || got != tt.want {
				t.Errorf("CheckRealName(%q, %s) = %+v, %v; want %+v, nil", tt.holder, tt.number.Masked(), got, err, tt.want)
			}
		})
	}
}

const validFixture = `holders:
  - name: 测试
    number: "110101198001010010"
    card_number: B12345678
    card_region: "110101"
    card_status: reported_lost_temporary
`

func writeFixture(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	path := writeFixture(t, validFixture)
	for name, load := range map[string]func() (*simulator.Simulator, error){
		"Load": func() (*simulator.Simulator, error) { return simulator.Load(path) },
		"New":  func() (*simulator.Simulator, error) { return simulator.New(simulator.Config{Fixture: path}) },
	} {
		t.Run(name, func(t *testing.T) {
			s, err := load()
			if err != nil {
				t.Fatalf("%s(%s) error = %v; want nil", name, path, err)
			}
			h := s.Holders()
			if len(h) != 1 || h[0].Name != "测试" || h[0].Status != connectors.CardReportedLostTemporary || h[0].Generation != simulator.DefaultGeneration || h[0].Photo != "" {
				t.Errorf("%s(%s).Holders() = %v; want the one holder 测试", name, path, h)
			}
			got, err := s.CheckRealName(t.Context(), "张三", mustParse(t, "110105199003070017"))
			if err != nil || got.Matched {
				t.Errorf("CheckRealName(张三) on another fixture = %+v, %v; want no match", got, err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := simulator.Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(%s) error = %v; want %v", path, err, fs.ErrNotExist)
	}
}

func TestLoadBadFixture(t *testing.T) {
	// entry returns a holder entry of a fixture; a field given as "-" is left out.
	entry := func(name, number, cardNumber, cardRegion, status, photo string, generation ...string) string {
		var b strings.Builder
		b.WriteString("  -")
		fields := [][2]string{
			{"name", name}, {"number", number}, {"card_number", cardNumber},
			{"card_region", cardRegion}, {"card_status", status}, {"photo", photo},
		}
		for _, g := range generation {
			fields = append(fields, [2]string{"generation", g})
		}
		for _, f := range fields {
			if f[1] != "-" {
				fmt.Fprintf(&b, " %s: %s\n   ", f[0], f[1])
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	zhang := entry("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "110105199003070017.png")
	one := func(name, number, cardNumber, cardRegion, status, photo string) string {
		return "holders:\n" + entry(name, number, cardNumber, cardRegion, status, photo)
	}
	tests := []struct {
		name    string
		content string
		field   string // FixtureError.Field, "" for an error of another type, "-" for no error
		index   int
		line    int
		wantMsg string // a part of the message
	}{
		{"valid", "holders:\n" + zhang, "-", 0, 0, ""},
		{"empty file", "", "", 0, 0, "fixture is empty"},
		{"no holders", "holders: []\n", "", 0, 0, "no holders"},
		{"not YAML", "holders: [\n", "", 0, 0, "yaml"},
		{"unknown field", "holders:\n" + strings.Replace(zhang, "photo:", "foto:", 1), "", 0, 0, "foto"},
		{"bad check character", one("张三", `"110105199003070018"`, "A00000001", `"110105"`, "normal", "-"), "number", 0, 2, "check character"},
		{"17 characters", one("张三", `"11010519900307001"`, "A00000001", `"110105"`, "normal", "-"), "number", 0, 2, "18 characters"},
		{"number missing", one("张三", "-", "A00000001", `"110105"`, "normal", "-"), "number", 0, 2, "18 characters"},
		{"empty name", one(`" "`, `"110105199003070017"`, "A00000001", `"110105"`, "normal", "-"), "name", 0, 2, "empty"},
		{"card number too short", one("张三", `"110105199003070017"`, "A0000001", `"110105"`, "normal", "-"), "card_number", 0, 2, "9 characters"},
		{"card number lowercase", one("张三", `"110105199003070017"`, "a00000001", `"110105"`, "normal", "-"), "card_number", 0, 2, "9 characters"},
		{"card region 5 digits", one("张三", `"110105199003070017"`, "A00000001", `"11010"`, "normal", "-"), "card_region", 0, 2, "region code"},
		{"card region bad province", one("张三", `"110105199003070017"`, "A00000001", `"990105"`, "normal", "-"), "card_region", 0, 2, "region code"},
		{"unknown status", one("张三", `"110105199003070017"`, "A00000001", `"110105"`, "locked", "-"), "card_status", 0, 2, `"locked"`},
		{"photo is a path", one("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "../secret.png"), "photo", 0, 2, "file name"},
		{"photo missing", one("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "110105199003070018.png"), "photo", 0, 2, "cannot read the file from the embedded photos"},
		{"generation 0", "holders:\n" + entry("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "-", "0"), "generation", 0, 2, "must be 1, 2 or 3, not 0"},
		{"generation 4", "holders:\n" + entry("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "-", "4"), "generation", 0, 2, "must be 1, 2 or 3, not 4"},
		{"generation not a number", "holders:\n" + entry("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "-", "third"), "", 0, 0, "yaml"},
		{"generation 1", "holders:\n" + entry("张三", `"110105199003070017"`, "A00000001", `"110105"`, "normal", "-", "1"), "-", 0, 0, ""},
		{"duplicate number", "holders:\n" + zhang + entry("李四", `"110105199003070017"`, "A00000002", `"440305"`, "normal", "-"),
			"number", 1, 8, "duplicate number, also in holders[0]"},
		{"duplicate card", "holders:\n" + zhang + entry("李四", `"440305198511120028"`, "A00000001", `"110105"`, "normal", "-"),
			"card_number", 1, 8, "duplicate card A00000001 in region 110105, also in holders[0]"},
		{"same card number in another region", "holders:\n" + zhang + entry("李四", `"440305198511120028"`, "A00000001", `"440305"`, "normal", "-"),
			"-", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFixture(t, tt.content)
			_, err := simulator.Load(path)
			if tt.field == "-" {
				if err != nil {
					t.Fatalf("Load(%q) error = %v; want nil", tt.content, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%q) error = nil; want an error", tt.content)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMsg) || !strings.HasPrefix(msg, "simulator: ") {
				t.Errorf("Load(%q) error = %q; want a message starting with \"simulator: \" and containing %q", tt.content, msg, tt.wantMsg)
			}
			if strings.Contains(msg, "110105199003070017") || strings.Contains(msg, "440305198511120028") || strings.Contains(msg, ".png") {
				t.Errorf("Load(%q) error = %q; want no full number and no photo file name in the message", tt.content, msg)
			}
			var fe *simulator.FixtureError
			if tt.field == "" {
				if errors.As(err, &fe) {
					t.Errorf("Load(%q) error = %#v; want an error that is not a *FixtureError", tt.content, fe)
				}
				return
			}
			if !errors.As(err, &fe) {
				t.Fatalf("Load(%q) error = %v (%T); want a *FixtureError", tt.content, err, err)
			}
			if fe.Field != tt.field || fe.Index != tt.index || fe.Line != tt.line || fe.File != path {
				t.Errorf("Load(%q) error = {Field:%q Index:%d Line:%d File:%q}; want {Field:%q Index:%d Line:%d File:%q}",
					tt.content, fe.Field, fe.Index, fe.Line, fe.File, tt.field, tt.index, tt.line, path)
			}
			wantPrefix := "simulator: " + path + ":"
			if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, "holders[") || !strings.Contains(msg, tt.field+": ") {
				t.Errorf("Load(%q) error = %q; want it to start with %q and name the holder and the field %q", tt.content, msg, wantPrefix, tt.field)
			}
		})
	}
}

func TestFixtureErrorWrapsCitizenIDError(t *testing.T) {
	path := writeFixture(t, strings.Replace(validFixture, "110101198001010010", "110101199902290019", 1))
	_, err := simulator.Load(path)
	if !errors.Is(err, citizenid.ErrBirthDate) {
		t.Errorf("Load(fixture with 29 February 1999) error = %v; want it to wrap %v", err, citizenid.ErrBirthDate)
	}
	want := "simulator: " + path + ":2: holders[0] (110***********0019): number: citizenid: birth date is not valid: not a calendar date"
	if got := err.Error(); got != want {
		t.Errorf("Load(fixture with 29 February 1999) error = %q; want %q", got, want)
	}
}

func TestHolderLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	for _, h := range newDefault(t).Holders() {
		log.Info("holder", "holder", h)
		if got := buf.String(); strings.Contains(got, h.Number.String()) || strings.Contains(got, h.Name) ||
			!strings.Contains(got, h.Number.Masked()) {
			t.Errorf("slog output = %q; want the masked number and neither the name nor the full number", got)
		}
		buf.Reset()
	}
}
