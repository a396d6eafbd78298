package login

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/cardsso/cardsso/idp/internal/clientip"
)

// Abuse resistance. Counters that must hold across nodes and restarts live
// in storage (storage.Store IncrementCounter): failed passwords per number
// and per client address, failed real-name checks per number and per client
// address, failed card numbers per account and per client address. Keys
// use the blind index of the number, never the number, and are counted the
// same way for numbers that are registered and numbers that are not, so a
// lock says nothing about whether a number exists. The face-check limit is
// on the account (see face.go). An in-process token bucket per client
// address (golang.org/x/time/rate) absorbs floods before they reach the
// database.
//
// An attempt is counted before the check it guards, and the decision is
// taken on the counted value (attempt): of N parallel attempts at most the
// limit reach the check, however they interleave. An attempt that turns
// out to be no failure (a match, a platform fault) is taken back
// (forgive).
//
// The client address is the one idp/internal/clientip resolved (trusted proxies);
// an IPv6 client is counted by its /64, the smallest block an end site is
// usually given, so that one host cannot walk its own prefix.

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
	// PasswordPerIP failed passwords from one client address within
	// PasswordWindow, whatever the numbers, lock password login from that
	// address (password spraying). Default 30.
	PasswordPerIP int
	// Failed card numbers allowed per account and per client address
	// within CardWindow. Defaults 5, 20 and 1h.
	CardPerAccount int
	CardPerIP      int
	CardWindow     time.Duration
	// FormRate and FormBurst bound the login form posts of one client IP
	// in this process. Defaults 5/s, burst 20.
	FormRate  rate.Limit
	FormBurst int
}

// DefaultLockout is the table of the default limits (idp.Defaults reads
// it; a zero field of a LockoutConfig takes its value here).
func DefaultLockout() LockoutConfig {
	return LockoutConfig{
		PasswordFailures: 5, PasswordWindow: 15 * time.Minute,
		PasswordDelayAfter: 2, PasswordDelay: 500 * time.Millisecond, PasswordMaxDelay: 4 * time.Second,
		RealNamePerNumber: 5, RealNamePerIP: 20, RealNameWindow: time.Hour,
		PasswordPerIP:  30,
		CardPerAccount: 5, CardPerIP: 20, CardWindow: time.Hour,
		FormRate: 5, FormBurst: 20,
	}
}

// The default face check limit: DefaultFaceFailures failed checks per
// account within DefaultFaceWindow.
const (
	DefaultFaceFailures = 5
	DefaultFaceWindow   = time.Hour
)

func (c LockoutConfig) withDefaults() LockoutConfig {
	d := DefaultLockout()
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
	def(&c.PasswordFailures, d.PasswordFailures)
	defd(&c.PasswordWindow, d.PasswordWindow)
	def(&c.PasswordDelayAfter, d.PasswordDelayAfter)
	defd(&c.PasswordDelay, d.PasswordDelay)
	defd(&c.PasswordMaxDelay, d.PasswordMaxDelay)
	def(&c.RealNamePerNumber, d.RealNamePerNumber)
	def(&c.RealNamePerIP, d.RealNamePerIP)
	defd(&c.RealNameWindow, d.RealNameWindow)
	def(&c.PasswordPerIP, d.PasswordPerIP)
	def(&c.CardPerAccount, d.CardPerAccount)
	def(&c.CardPerIP, d.CardPerIP)
	defd(&c.CardWindow, d.CardWindow)
	if c.FormRate == 0 {
		c.FormRate = d.FormRate
	}
	def(&c.FormBurst, d.FormBurst)
	return c
}

func passwordKey(index []byte) string { return "pwd:" + hex.EncodeToString(index) }
func realNameKey(index []byte) string { return "rn:num:" + hex.EncodeToString(index) }
func realNameIPKey(ip string) string  { return "rn:ip:" + ip }
func passwordIPKey(ip string) string  { return "pwd:ip:" + ip }
func cardKey(accountID string) string { return "card:acct:" + accountID }
func cardIPKey(ip string) string      { return "card:ip:" + ip }

// clientIP is the client address per-address limits count: the one
// idp/internal/clientip resolved for the request (the peer, or behind a trusted
// proxy the forwarded client), an IPv6 address as its /64.
func clientIP(r *http.Request) string {
	a := clientip.FromRequest(r)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// clientAddr is the client address for log lines.
func clientAddr(r *http.Request) string {
	a := clientip.FromRequest(r)
	if !a.IsValid() {
		return r.RemoteAddr
	}
	return a.String()
}

// limit is one storage counter guarding a check: at most max attempts per
// window.
type limit struct {
	key    string
	window time.Duration
	max    int
}

// attempt counts one attempt on every limit, each in one atomic storage
// increment, before the check runs, and reports whether one of them is
// over its max. A refused attempt is taken back at once, so that the
// counts stay the number of checks that ran; the lock holds until the
// window ends all the same. On error nothing stays counted.
func (h *Handler) attempt(ctx context.Context, limits ...limit) (counts []int, locked bool, err error) {
	now := h.cfg.Now()
	for i, l := range limits {
		n, _, err := h.cfg.Store.IncrementCounter(ctx, l.key, l.window, now)
		if err != nil {
			h.forgive(ctx, limits[:i]...)
			return nil, false, err
		}
		counts = append(counts, n)
		locked = locked || n > l.max
	}
	if locked {
		h.forgive(ctx, limits...)
	}
	return counts, locked, nil
}

// forgive takes back an attempt counted by attempt that was no failure.
func (h *Handler) forgive(ctx context.Context, limits ...limit) {
	for _, l := range limits {
		if err := h.cfg.Store.DecrementCounter(context.WithoutCancel(ctx), l.key); err != nil {
			h.cfg.Logger.WarnContext(ctx, "take back counted attempt", "key", l.key, "error", err)
		}
	}
}

// realNameLimits are the limits of a real-name check for the number with
// this blind index, from this request's client: count them with attempt
// before the check, forgive them after a match or a platform fault.
func (h *Handler) realNameLimits(r *http.Request, index []byte) []limit {
	lock := h.cfg.Lockout
	return []limit{
		{realNameKey(index), lock.RealNameWindow, lock.RealNamePerNumber},
		{realNameIPKey(clientIP(r)), lock.RealNameWindow, lock.RealNamePerIP},
	}
}

// cardLimits are the limits of a card number entered for the account.
func (h *Handler) cardLimits(r *http.Request, accountID string) []limit {
	lock := h.cfg.Lockout
	return []limit{
		{cardKey(accountID), lock.CardWindow, lock.CardPerAccount},
		{cardIPKey(clientIP(r)), lock.CardWindow, lock.CardPerIP},
	}
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
