package connectorstest

import (
	"testing"

	"github.com/cardsso/cardsso/connectors"
)

// Checker is an implementation of all three checks, such as the simulator
// or a card platform client.
type Checker interface {
	connectors.RealNameChecker
	connectors.CardChecker
	connectors.FaceChecker
}

// Run runs TestRealName, TestCard and TestFace against c, as the subtests
// RealName, Card and Face.
func Run(t *testing.T, c Checker) {
	t.Helper()
	t.Run("RealName", func(t *testing.T) { TestRealName(t, c) })
	t.Run("Card", func(t *testing.T) { TestCard(t, c) })
	t.Run("Face", func(t *testing.T) { TestFace(t, c) })
}
