package storage

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Outages logs a burst of ErrUnavailable once: the first failure of a burst
// at warning level with its cause, then at most one line per Every with the
// count of failures since, so that a database away for a minute under load
// writes a few lines rather than one per request. The zero value logs at
// most every 10 s.
type Outages struct {
	Every time.Duration

	mu     sync.Mutex
	last   time.Time
	missed int
}

// Note records a failure of what (a short description) with err.
func (o *Outages) Note(ctx context.Context, log *slog.Logger, what string, err error) {
	every := o.Every
	if every == 0 {
		every = 10 * time.Second
	}
	o.mu.Lock()
	now := time.Now()
	if now.Sub(o.last) < every {
		o.missed++
		o.mu.Unlock()
		return
	}
	missed := o.missed
	o.last, o.missed = now, 0
	o.mu.Unlock()
	log.WarnContext(ctx, "database temporarily unavailable", "what", what, "error", err, "more_since_last_line", missed)
}
