package connectorstest

import (
	"context"
	"errors"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// TestRealName runs the real-name check suite against c, which must know the
// demo card holders of the README ("Demo card holders") and no holder with unknownNumber. It
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
			want := connectors.RealNameResult{Matched: true, CardRegion: h.card.Region}
			if err != nil || got != want {
				t.Errorf("CheckRealName(%q, %s) = %+v, %v; want %+v, nil", h.name, n.Masked(), got, err, want)
			}
		})
	}

	zhang := mustParse(t, zhangNumber)
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
