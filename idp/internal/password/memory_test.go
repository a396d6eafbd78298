package password

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"
)

// TestHashMemoryKeptAndReleased: hashes keep at most one working memory per
// core for the next one, and the limiter lets them go once logins have been
// idle, so an idle node does not hold 19 MiB per core.
func TestHashMemoryKeptAndReleased(t *testing.T) {
	ReleaseMemory()
	p := Params{MemoryKiB: 19456, Time: 2, Threads: 1}
	l := NewLimiter(0)
	l.ReturnIdleMemory(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 2 * cap(memories) {
		wg.Go(func() {
			if _, err := l.Hash(context.Background(), "Correct-horse-9", p, rand.Reader); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(memories); n < 1 || n > cap(memories) {
		t.Fatalf("%d kept memories after a burst; want 1..%d", n, cap(memories))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(memories) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(memories); n != 0 {
		t.Errorf("%d memories still kept after the limiter's idle period", n)
	}
}
