package simulator_test

import (
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

func TestCheckCard(t *testing.T) {
	s := newDefault(t)
	zhang := mustParse(t, "110105199003070017")
	wang := mustParse(t, "31011519780520003X")
	zhangCard := connectors.Card{Region: "110105", Number: "A00000001", Status: connectors.CardNormal, Generation: 3}
	tests := []struct {
		name       string
		holder     string
		number     citizenid.Number
		cardNumber string
		want       connectors.CardResult
	}{
		{"own card", "张三", zhang, "A00000001", connectors.CardResult{Matched: true, Card: zhangCard}},
		{"lower-case card number", "张三", zhang, "a00000001", connectors.CardResult{Matched: true, Card: zhangCard}},
		{"surrounding spaces", " 张三\u3000", zhang, " A00000001 ", connectors.CardResult{Matched: true, Card: zhangCard}},
		{"cancelled card still matches", "王五", wang, "A00000003",
			connectors.CardResult{Matched: true, Card: connectors.Card{Region: "310115", Number: "A00000003", Status: connectors.CardCancelled, Generation: 2}}},
		{"another holder's card", "张三", zhang, "A00000003", connectors.CardResult{}},
		{"card number one character short", "张三", zhang, "A0000001", connectors.CardResult{}},
		{"card number with a Kelvin sign", "张三", zhang, "\u212a00000001", connectors.CardResult{}},
		{"empty card number", "张三", zhang, "", connectors.CardResult{}},
		{"another holder's name", "王五", zhang, "A00000001", connectors.CardResult{}},
		{"unknown number", "张三", mustParse(t, "110101198001010010"), "A00000001", connectors.CardResult{}},
		{"zero number", "张三", citizenid.Number{}, "A00000001", connectors.CardResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CheckCard(t.Context(), tt.holder, tt.number, tt.cardNumber)
			if err != nil || got != tt.want {
				t.Errorf("CheckCard(%q, %s, %q) = %+v, %v; want %+v, nil", tt.holder, tt.number.Masked(), tt.cardNumber, got, err, tt.want)
			}
		})
	}
}
