package assurance

import (
	"testing"
	"time"

	"github.com/cardsso/cardsso/connectors"
)

func TestCompute(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ttl := 24 * time.Hour
	fresh := now.Add(-time.Hour)
	stale := now.Add(-25 * time.Hour)
	tests := []struct {
		name string
		card CardCheck
		face bool
		want Level
	}{
		{"no card check", CardCheck{}, false, LoA1},
		{"no card check, face passed", CardCheck{}, true, LoA1},
		{"normal card, fresh", CardCheck{connectors.CardNormal, fresh}, false, LoA2},
		{"normal card, fresh, face", CardCheck{connectors.CardNormal, fresh}, true, LoA3},
		{"normal card, stale", CardCheck{connectors.CardNormal, stale}, true, LoA1},
		{"reported lost", CardCheck{connectors.CardReportedLost, fresh}, true, LoA1},
		{"sealed", CardCheck{connectors.CardSealed, fresh}, false, LoA1},
		{"cancelled", CardCheck{connectors.CardCancelled, fresh}, false, LoA1},
	}
	for _, tt := range tests {
		if got := Compute(tt.card, ttl, tt.face, now); got != tt.want {
			t.Errorf("%s: Compute(%+v, face=%v) = %v; want %v", tt.name, tt.card, tt.face, got, tt.want)
		}
	}
}
