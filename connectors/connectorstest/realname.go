package connectorstest

import (
	"context"
	"errors"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// demoHolder is a demo card holder of DESIGN.md §8.
type demoHolder struct {
	name, number, cardRegion string
}

// demoHolders returns the demo card holders every checker under test must
// know.
func demoHolders() []demoHolder {
	return []demoHolder{
		{"张三", "110105199003070017", "110105"},
		{"李四", "440305198511120028", "440305"},
		{"王五", "31011519780520003X", "310115"},
		{"赵六", "510104200002290046", "510104"},
		{"孙七", "330106199512310055", "330106"},
	}
}

// unknownNumber is a valid number that no demo holder has.
const unknownNumber = "110101198001010010"

// TestRealName runs the real-name check suite against c, which must know the
// demo card holders of DESIGN.md §8 and no holder with unknownNumber. It
// checks that:
//   - each demo holder matches with their own name, whatever the card status,
//     and the result carries the card's issuing region (张三: 110105);
//   - 张三's number with 李四's name, an empty name, and a valid number no
//     holder has all give RealNameResult{} with no error: a mismatch does not
//     reveal the region, and an unknown number looks like a wrong name;
//   - a cancelled context gives an error that wraps context.Canceled.
func TestRealName(t *testing.T, c connectors.RealNameChecker) {
	t.Helper()

	for _, h := range demoHolders() {
		t.Run("matches "+h.name, func(t *testing.T) {
			n := mustParse(t, h.number)
			got, err := c.CheckRealName(t.Context(), h.name, n)
			want := connectors.RealNameResult{Matched: true, CardRegion: h.cardRegion}
			if err != nil || got != want {
				t.Errorf("CheckRealName(%q, %s) = %+v, %v; want %+v, nil", h.name, n.Masked(), got, err, want)
			}
		})
	}

	zhang := mustParse(t, "110105199003070017")
	noMatch := []struct {
		name   string
		holder string
		number citizenid.Number
	}{
		{"another holder's name", "李四", zhang},
		{"empty name", "", zhang},
		{"name with a character dropped", "张", zhang},
		{"unknown number", "张三", mustParse(t, unknownNumber)},
	}
	for _, tt := range noMatch {
		t.Run("does not match: "+tt.name, func(t *testing.T) {
			got, err := c.CheckRealName(t.Context(), tt.holder, tt.number)
			if want := (connectors.RealNameResult{}); err != nil || got != want {
				t.Errorf("CheckRealName(%q, %s) = %+v, %v; want %+v, nil", tt.holder, tt.number.Masked(), got, err, want)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := c.CheckRealName(ctx, "张三", zhang)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CheckRealName(cancelled ctx, %q, %s) = %+v, %v; want an error wrapping %v", "张三", zhang.Masked(), got, err, context.Canceled)
		}
	})
}

func mustParse(t *testing.T, s string) citizenid.Number {
	t.Helper()
	n, err := citizenid.Parse(s)
	if err != nil {
		t.Fatalf("citizenid.Parse(%s) error = %v; want nil", citizenid.Mask(s), err)
	}
	return n
}
