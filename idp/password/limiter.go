package password

import (
	"context"
	"io"
	"runtime"
)

// Limiter bounds how many argon2id hashes run at once. Each hash holds
// MemoryKiB of memory (19 MiB at the default cost) while it runs and keeps a
// core busy for its duration: more concurrent hashes than cores finish no
// sooner, but hold more memory at once, and a burst of logins would grow the
// process by 19 MiB per login in flight. Callers beyond the limit wait their
// turn (or until their context ends).
type Limiter struct {
	sem chan struct{}
}

// NewLimiter allows n hashes at once; n < 1 means GOMAXPROCS.
func NewLimiter(n int) *Limiter {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Limiter{sem: make(chan struct{}, n)}
}

func (l *Limiter) acquire(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (l *Limiter) release() { <-l.sem }

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
