package server

import (
	"testing"
	"time"
)

func TestNonceCache(t *testing.T) {
	skew := 5 * time.Minute
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	c := newNonceCache(skew, 3, t0)
	add := func(key string, at time.Duration) (seen, full bool) { return c.add(key, t0.Add(at)) }

	if seen, full := add("a", 0); seen || full {
		t.Fatalf("add(a) = %v, %v; want new", seen, full)
	}
	// Remembered for at least 2·skew, across one turnover.
	for _, at := range []time.Duration{time.Second, 9 * time.Minute, 10 * time.Minute, 19*time.Minute + 59*time.Second} {
		if seen, _ := add("a", at); !seen {
			t.Errorf("add(a) %v later: not seen; want seen", at)
		}
	}
	// Two turnovers later it is gone.
	if seen, _ := add("a", 20*time.Minute); seen {
		t.Errorf("add(a) 20m later: seen; want forgotten")
	}
	// Full: refuses rather than forgets.
	c = newNonceCache(skew, 3, t0)
	for _, k := range []string{"x", "y", "z"} {
		if seen, full := add(k, 0); seen || full {
			t.Fatalf("add(%s) = %v, %v; want new", k, seen, full)
		}
	}
	if _, full := add("w", time.Second); !full {
		t.Errorf("add(w) to a full cache: not full")
	}
	if seen, _ := add("x", time.Second); !seen {
		t.Errorf("add(x) to a full cache: not seen; want seen")
	}
	// A clock that goes back forgets nothing.
	if seen, _ := add("y", -time.Hour); !seen {
		t.Errorf("add(y) with the clock an hour back: not seen; want seen")
	}
	// After 2 turnovers there is room again.
	if seen, full := add("w", 21*time.Minute); seen || full {
		t.Errorf("add(w) 21m later = %v, %v; want new", seen, full)
	}
}
