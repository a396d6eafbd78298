package connectorstest

import (
	"context"
	"errors"
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// TestCard runs the real-card check suite against c, which must know the demo
// card holders of the README ("Demo card holders") with their cards as the simulator's default
// fixture describes them, and no holder with unknownNumber. It checks that:
//   - each demo holder matches with their own name and card number, and the
//     result describes the card whatever its status: 张三 A00000001 110105
//     normal, generation 3; 李四 A00000002 reported_lost, generation 2; 王五
//     A00000003 cancelled, generation 2; 赵六 A00000004 normal; 孙七
//     A00000005 sealed;
//   - another holder's card number, another holder's name, an empty name and
//     a valid number no holder has all give CardResult{} with no error: a
//     mismatch reveals neither the card nor which detail was wrong;
//   - a cancelled context gives an error that wraps context.Canceled.
func TestCard(t *testing.T, c connectors.CardChecker) {
	t.Helper()

	for _, h := range demoHolders() {
		t.Run("matches "+h.name, func(t *testing.T) {
			n := mustParse(t, h.number)
			got, err := c.CheckCard(t.Context(), h.name, n, h.card.Number)
			want := connectors.CardResult{Matched: true, Card: h.card}
			if err != nil || got != want {
				t.Errorf("CheckCard(%q, %s, %s) = %+v, %v; want %+v, nil", h.name, n.Masked(), h.card.Number, got, err, want)
			}
		})
	}

	zhang := mustParse(t, zhangNumber)
	noMatch := []struct {
		name       string
		holder     string
		number     citizenid.Number
		cardNumber string
	}{
		{"another holder's card number", "张三", zhang, "A00000004"},
		{"an unknown card number", "张三", zhang, "A99999999"},
		{"another holder's name", "赵六", zhang, "A00000001"},
		{"empty name", "", zhang, "A00000001"},
		{"unknown number", "张三", mustParse(t, unknownNumber), "A00000001"},
	}
	for _, tt := range noMatch {
		t.Run("does not match: "+tt.name, func(t *testing.T) {
			got, err := c.CheckCard(t.Context(), tt.holder, tt.number, tt.cardNumber)
			if want := (connectors.CardResult{}); err != nil || got != want {
				t.Errorf("CheckCard(%q, %s, %s) = %+v, %v; want %+v, nil", tt.holder, tt.number.Masked(), tt.cardNumber, got, err, want)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		got, err := c.CheckCard(ctx, "张三", zhang, "A00000001")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("CheckCard(cancelled ctx, %q, %s, A00000001) = %+v, %v; want an error wrapping %v", "张三", zhang.Masked(), got, err, context.Canceled)
		}
	})
}
