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
