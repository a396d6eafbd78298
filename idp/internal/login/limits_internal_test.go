package login

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/idp/internal/clientip"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

func limitsHandler(t *testing.T) *Handler {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: filepath.Join(t.TempDir(), "limits.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &Handler{cfg: Config{Store: s, Now: time.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// TestAttemptCountsBeforeTheCheck: of parallel attempts on one limit, at
// most max are let through, however they interleave; refused ones are not
// left counted, and forgiven ones free their place.
func TestAttemptCountsBeforeTheCheck(t *testing.T) {
	h := limitsHandler(t)
	l := limit{key: "test:parallel", window: time.Hour, max: 5}
	const parallel = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, locked, err := h.attempt(t.Context(), l)
			if err != nil {
				t.Error(err)
				return
			}
			if !locked {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != l.max {
		t.Errorf("%d parallel attempts: %d let through; want %d", parallel, allowed, l.max)
	}
	if n, _, _ := h.cfg.Store.GetCounter(t.Context(), l.key, l.window, time.Now()); n != l.max {
		t.Errorf("count after the refused attempts = %d; want %d (refusals not left counted)", n, l.max)
	}
	h.forgive(t.Context(), l)
	if _, locked, _ := h.attempt(t.Context(), l); locked {
		t.Errorf("attempt after one was forgiven: locked; want let through")
	}
	if _, locked, _ := h.attempt(t.Context(), l); !locked {
		t.Errorf("attempt over the limit again: let through; want locked")
	}
}

// TestAttemptAnyLimitLocks: one limit over its max refuses the attempt and
// takes it back from every limit.
func TestAttemptAnyLimitLocks(t *testing.T) {
	h := limitsHandler(t)
	num := limit{key: "test:num", window: time.Hour, max: 5}
	ip := limit{key: "test:ip", window: time.Hour, max: 1}
	if _, locked, _ := h.attempt(t.Context(), num, ip); locked {
		t.Fatal("first attempt locked")
	}
	counts, locked, _ := h.attempt(t.Context(), num, ip)
	if !locked || counts[0] != 2 || counts[1] != 2 {
		t.Errorf("second attempt: counts %v, locked %v; want [2 2], locked", counts, locked)
	}
	if n, _, _ := h.cfg.Store.GetCounter(t.Context(), num.key, num.window, time.Now()); n != 1 {
		t.Errorf("number count after the refusal = %d; want 1", n)
	}
}

// TestClientIPKey: limits key on the resolved client, an IPv6 client by
// its /64.
func TestClientIPKey(t *testing.T) {
	for _, tc := range []struct{ remote, resolved, want string }{
		{"192.0.2.1:4711", "", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:4711", "", "2001:db8:1:2::/64"},
		{"10.0.0.1:80", "198.51.100.4", "198.51.100.4"},
		{"10.0.0.1:80", "2001:db8:aa:bb::9", "2001:db8:aa:bb::/64"},
	} {
		r, _ := http.NewRequest(http.MethodPost, "http://sso.example/login/password", nil)
		r.RemoteAddr = tc.remote
		if tc.resolved != "" {
			r = clientip.WithAddr(r, netip.MustParseAddr(tc.resolved))
		}
		if got := clientIP(r); got != tc.want {
			t.Errorf("clientIP(%s, resolved %q) = %q; want %q", tc.remote, tc.resolved, got, tc.want)
		}
	}
}

// TestRealNameLimits: the real-name check's limits key on the blind index
// and the client address (for postRegister to count before the check).
func TestRealNameLimits(t *testing.T) {
	h := &Handler{cfg: Config{Lockout: LockoutConfig{}.withDefaults()}}
	r, _ := http.NewRequest(http.MethodPost, "http://sso.example/login/register", nil)
	r.RemoteAddr = "[2001:db8::1]:4711"
	got := h.realNameLimits(r, []byte{0xab, 0xcd})
	want := []limit{{"rn:num:abcd", time.Hour, 5}, {"rn:ip:2001:db8::/64", time.Hour, 20}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("realNameLimits = %v; want %v", got, want)
	}
}
