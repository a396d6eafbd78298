package server

import (
	"sync"
	"time"
)

// nonceCache remembers the nonces of accepted requests for as long as a
// request carrying them could still pass the timestamp check, so that none
// is accepted twice.
//
// A request is accepted only with a timestamp within ±skew of now, so its
// nonce needs remembering until timestamp+skew, which is at most 2·skew
// after it is first seen. The cache keeps two generations and turns them
// over every 2·skew: a nonce is remembered for at least 2·skew and at most
// 4·skew, in O(1) per request and memory bounded by the request rate. When
// both generations together hold max nonces, add refuses new ones rather
// than forget one early (forgetting would let a replay through).
type nonceCache struct {
	mu      sync.Mutex
	period  time.Duration
	max     int
	rotated time.Time
	cur     map[string]struct{}
	prev    map[string]struct{}
}

func newNonceCache(skew time.Duration, max int, now time.Time) *nonceCache {
	return &nonceCache{
		period:  2 * skew,
		max:     max,
		rotated: now,
		cur:     make(map[string]struct{}),
		prev:    make(map[string]struct{}),
	}
}

// add records key at now. It returns seen when key was recorded before
// (a replay), and full when the cache cannot take another key.
func (c *nonceCache) add(key string, now time.Time) (seen, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A clock that went back does not turn the generations over: nothing
	// is forgotten early.
	if d := now.Sub(c.rotated); d >= c.period {
		if d >= 2*c.period {
			// Idle for two periods: everything held is older than needed.
			clear(c.prev)
		} else {
			c.prev = c.cur
		}
		c.cur = make(map[string]struct{})
		c.rotated = now
	}
	if _, ok := c.cur[key]; ok {
		return true, false
	}
	if _, ok := c.prev[key]; ok {
		return true, false
	}
	if len(c.cur)+len(c.prev) >= c.max {
		return false, true
	}
	c.cur[key] = struct{}{}
	return false, false
}
