package password

import (
	"context"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Limiter bounds how many argon2id hashes run at once. Each hash holds
// MemoryKiB of memory (19 MiB at the default cost) while it runs and keeps a
// core busy for its duration: more concurrent hashes than cores finish no
// sooner, but hold more memory at once, and a burst of logins would grow the
// process by 19 MiB per login in flight. Callers beyond the limit wait their
// turn (or until their context ends).
//
// Each hash's memory is garbage as soon as it returns, and after a burst of
// logins the process keeps the heap it grew to until the collector and the
// runtime's background scavenger give it back, minutes later. With
// ReturnIdleMemory set, the limiter returns it at once when no hash has run
// for that long after a burst.
type Limiter struct {
	sem chan struct{}

	mu       sync.Mutex
	idle     time.Duration // ReturnIdleMemory
	timer    *time.Timer
	inFlight int
	lastEnd  time.Time
}

// NewLimiter allows n hashes at once; n < 1 means GOMAXPROCS.
func NewLimiter(n int) *Limiter {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Limiter{sem: make(chan struct{}, n)}
}

// ReturnIdleMemory makes the limiter hand the heap back to the operating
// system (runtime/debug.FreeOSMemory: a collection, then the freed memory
// is released) once no hash has run for d after the last one ended. Call it
// before the limiter is used; d <= 0 turns it off.
func (l *Limiter) ReturnIdleMemory(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = d
}

func (l *Limiter) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	l.mu.Lock()
	l.inFlight++
	l.mu.Unlock()
	return nil
}

func (l *Limiter) release() {
	<-l.sem
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	l.lastEnd = time.Now()
	if l.inFlight > 0 || l.idle <= 0 {
		return
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(l.idle, l.returnIfIdle)
	} else {
		l.timer.Reset(l.idle)
	}
}

// returnIfIdle frees the heap when no hash ran since the timer was set.
func (l *Limiter) returnIfIdle() {
	l.mu.Lock()
	quiet := l.inFlight == 0 && time.Since(l.lastEnd) >= l.idle
	l.mu.Unlock()
	if quiet {
		ReleaseMemory()
		debug.FreeOSMemory()
	}
}

// Hash is Hash, run within the limit.
func (l *Limiter) Hash(ctx context.Context, password string, p Params, rnd io.Reader) (string, error) {
	if err := l.acquire(ctx); err != nil {
		return "", err
	}
	defer l.release()
	return Hash(password, p, rnd)
}

// Verify is Verify, run within the limit. A context that ends while it
// waits gives its error (and ok = false).
func (l *Limiter) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if err := l.acquire(ctx); err != nil {
		return false, err
	}
	defer l.release()
	return Verify(password, encoded)
}
