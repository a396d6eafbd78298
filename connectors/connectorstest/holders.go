package connectorstest

import (
	"testing"

	"github.com/cardsso/cardsso/connectors"
	"github.com/cardsso/cardsso/connectors/citizenid"
)

// demoHolder is a demo card holder of the README ("Demo card holders"), as the simulator's
// default fixture describes them.
type demoHolder struct {
	name, number string
	card         connectors.Card
}

// demoHolders returns the demo card holders every checker under test must
// know.
func demoHolders() []demoHolder {
	return []demoHolder{
		{"张三", "110105199003070017", connectors.Card{Region: "110105", Number: "A00000001", Status: connectors.CardNormal, Generation: 3}},
		{"李四", "440305198511120028", connectors.Card{Region: "440305", Number: "A00000002", Status: connectors.CardReportedLost, Generation: 2}},
		{"王五", "31011519780520003X", connectors.Card{Region: "310115", Number: "A00000003", Status: connectors.CardCancelled, Generation: 2}},
		{"赵六", "510104200002290046", connectors.Card{Region: "510104", Number: "A00000004", Status: connectors.CardNormal, Generation: 3}},
		{"孙七", "330106199512310055", connectors.Card{Region: "330106", Number: "A00000005", Status: connectors.CardSealed, Generation: 3}},
	}
}

// Numbers of demo holders the suites use by name.
const (
	zhangNumber = "110105199003070017" // 张三
	zhaoNumber  = "510104200002290046" // 赵六
)

// unknownNumber is a valid number that no demo holder has.
const unknownNumber = "110101198001010010"

func mustParse(t *testing.T, s string) citizenid.Number {
	t.Helper()
	n, err := citizenid.Parse(s)
	if err != nil {
		t.Fatalf("citizenid.Parse(%s) error = %v; want nil", citizenid.Mask(s), err)
	}
	return n
}
