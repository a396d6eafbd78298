package idp

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// fakeHealth is a database whose answers the test sets.
type fakeHealth struct {
	ping, probe error
	fault       time.Time
	probes      int
}

func (f *fakeHealth) Ping(context.Context) error { return f.ping }
func (f *fakeHealth) ProbeWrite(context.Context) error {
	f.probes++
	return f.probe
}
func (f *fakeHealth) LastWriteFault() time.Time { return f.fault }

// TestReadiness: ready means the database answers and takes writes; a
// write that failed for want of space keeps the node unready for
// writeFaultHold even while the small probe passes, and it comes back by
// itself; the probe runs at most every probeEvery (issue #18 §5).
func TestReadiness(t *testing.T) {
	now := time.Now()
	rd := &readiness{log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	db := &fakeHealth{}
	ctx := context.Background()
	if got := rd.check(ctx, db); got != "" {
		t.Fatalf("healthy database: %q", got)
	}
	if rd.check(ctx, db); db.probes != 1 {
		t.Errorf("%d probes within %s; want 1", db.probes, probeEvery)
	}
	db.ping = errors.New("refused")
	if got := rd.check(ctx, db); got != "database unreachable" {
		t.Errorf("ping failing: %q", got)
	}
	db.ping = nil
	// A login's write failed on a full disk: unready, although the probe
	// row still fits.
	db.fault = now
	now = now.Add(time.Second)
	if got := rd.check(ctx, db); got == "" {
		t.Errorf("a write failed for want of space a second ago, and the node says ready")
	}
	now = now.Add(writeFaultHold)
	if got := rd.check(ctx, db); got != "" {
		t.Errorf("%s after the last failed write, writes working: %q; want ready again", writeFaultHold, got)
	}
	// The probe itself failing (a read-only file system, a standby).
	db.probe = errors.New("read-only")
	now = now.Add(probeEvery)
	if got := rd.check(ctx, db); got != "database cannot take writes" {
		t.Errorf("probe failing: %q", got)
	}
	db.probe = nil
	now = now.Add(probeEvery)
	if got := rd.check(ctx, db); got != "" {
		t.Errorf("probe passing again: %q", got)
	}
}
