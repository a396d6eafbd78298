package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

// TestLogBuffer: info lines are batched into one write and arrive within
// the flush interval; a warning is written at once with what waited before
// it; Close writes the rest; concurrent lines stay whole.
func TestLogBuffer(t *testing.T) {
	out := &lockedBuffer{}
	b := newLogBuffer(out)
	log := slog.New(flushingHandler{slog.NewJSONHandler(b, nil), b})

	for i := range 50 {
		log.Info("http", "n", i)
	}
	if out.count() != 0 {
		t.Fatalf("info lines were written one by one (%d writes)", out.count())
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := out.count(); n != 1 || strings.Count(out.String(), "\n") != 50 {
		t.Fatalf("after the flush interval: %d writes, %d lines; want 1 write of 50 lines", n, strings.Count(out.String(), "\n"))
	}

	log.Info("before")
	log.Warn("problem")
	if s := out.String(); !strings.Contains(s, `"msg":"before"`) || !strings.Contains(s, `"msg":"problem"`) {
		t.Fatalf("a warning did not flush at once:\n%s", s)
	}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("line", "g", g, "i", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	log.Info("last")
	b.Close()
	s := out.String()
	if !strings.HasSuffix(s, "\"msg\":\"last\"}\n") {
		t.Errorf("Close did not write the last line: ...%s", s[max(0, len(s)-80):])
	}
	for g := range 8 {
		if c := strings.Count(s, fmt.Sprintf(`"g":%d,`, g)); c != 500 {
			t.Errorf("goroutine %d: %d whole lines; want 500", g, c)
		}
	}
	// After Close, writes go straight through.
	n := out.count()
	log.Info("after close")
	if out.count() != n+1 {
		t.Errorf("a line after Close was not written at once")
	}
}
