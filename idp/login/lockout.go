package login

import (
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Abuse resistance. Counters that must hold across nodes and restarts live
// in storage (storage.Store IncrementCounter): failed passwords per number,
// failed real-name checks per number and per client IP. Keys use the blind
// index of the number, never the number, and are counted the same way for
// numbers that are registered and numbers that are not, so a lock says
// nothing about whether a number exists. The face-check limit is on the
// account (see face.go). An in-process token bucket per client IP
// (golang.org/x/time/rate) absorbs floods before they reach the database.

// LockoutConfig sets the limits. Zero fields take the defaults.
type LockoutConfig struct {
	// PasswordFailures failed passwords for a number within PasswordWindow
	// lock password login for that number until the window ends. Defaults
	// 5 and 15m.
	PasswordFailures int
	PasswordWindow   time.Duration
	// From the PasswordDelayAfter-th failure on, each failed attempt is
	// answered only after a delay that doubles, starting at PasswordDelay,
	// at most PasswordMaxDelay. Defaults 2, 500ms, 4s.
	PasswordDelayAfter int
	PasswordDelay      time.Duration
	PasswordMaxDelay   time.Duration
	// Failed real-name checks allowed per number and per client IP within
	// RealNameWindow. Defaults 5, 20 and 1h.
	RealNamePerNumber int
	RealNamePerIP     int
	RealNameWindow    time.Duration
	// FormRate and FormBurst bound the login form posts of one client IP
	// in this process. Defaults 5/s, burst 20.
	FormRate  rate.Limit
	FormBurst int
}

func (c LockoutConfig) withDefaults() LockoutConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.PasswordFailures, 5)
	defd(&c.PasswordWindow, 15*time.Minute)
	def(&c.PasswordDelayAfter, 2)
	defd(&c.PasswordDelay, 500*time.Millisecond)
	defd(&c.PasswordMaxDelay, 4*time.Second)
	def(&c.RealNamePerNumber, 5)
	def(&c.RealNamePerIP, 20)
	defd(&c.RealNameWindow, time.Hour)
	if c.FormRate == 0 {
		c.FormRate = 5
	}
	def(&c.FormBurst, 20)
	return c
}

func passwordKey(index []byte) string { return "pwd:" + hex.EncodeToString(index) }
func realNameKey(index []byte) string { return "rn:num:" + hex.EncodeToString(index) }
func realNameIPKey(ip string) string  { return "rn:ip:" + ip }

// clientIP is the peer address of the request. Behind a load balancer this
// is the balancer; per-IP limits then apply to it as a whole (documented).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failureDelay is the progressive delay after the n-th failure.
func (c LockoutConfig) failureDelay(n int) time.Duration {
	if n < c.PasswordDelayAfter {
		return 0
	}
	d := c.PasswordDelay
	for i := c.PasswordDelayAfter; i < n && d < c.PasswordMaxDelay; i++ {
		d *= 2
	}
	return min(d, c.PasswordMaxDelay)
}

// sleep waits d or until the request is gone.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ipLimiter is the in-process token bucket per client IP.
type ipLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*rate.Limiter
}

func newIPLimiter(l rate.Limit, burst int) *ipLimiter {
	return &ipLimiter{limit: l, burst: burst, buckets: map[string]*rate.Limiter{}}
}

func (l *ipLimiter) allow(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[ip]
	if !ok {
		if len(l.buckets) >= 100_000 { // bounded memory: start over
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[ip] = b
	}
	return b.Allow()
}

// limitForms refuses login form posts beyond the per-IP rate with 429.
func (h *Handler) limitForms(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.forms.allow(clientIP(r)) {
			h.cfg.Observer.Login("form", "rate_limited")
			w.Header().Set("Retry-After", "1")
			h.message(w, r, http.StatusTooManyRequests, "err.title", "err.rate", "")
			return
		}
		next(w, r)
	}
}
