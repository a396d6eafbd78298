package simulator

import "errors"

// Similarity returns the similarity CheckFace computes between two photos.
// It exists only in tests: outside them, the score never leaves the package.
func Similarity(a, b []byte) (float64, error) {
	pa, okA, err := faceprintOf(a)
	if err != nil {
		return 0, err
	}
	pb, okB, err := faceprintOf(b)
	if err != nil {
		return 0, err
	}
	if !okA || !okB {
		return 0, errors.New("simulator: uniform photo")
	}
	return similarity(pa, pb), nil
}

// ECardSizes returns how many login tickets and jtis the e-card state
// holds, for the tests of its pruning.
func (s *Simulator) ECardSizes() (tickets, jtis int) {
	s.ecard.mu.Lock()
	defer s.ecard.mu.Unlock()
	return len(s.ecard.tickets), len(s.ecard.jtis)
}
