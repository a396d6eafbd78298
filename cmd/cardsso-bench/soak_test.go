package main

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// countWorker succeeds at once, a little later each time.
type countWorker struct{ n atomic.Int64 }

func (w *countWorker) Do(ctx context.Context) error {
	w.n.Add(1)
	time.Sleep(time.Millisecond)
	return nil
}

// TestSoakSamples: a soak run samples the database files (with the WAL)
// and the iterations so far at every interval, from the start of the
// measured part to its end, in order.
func TestSoakSamples(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cardsso.db")
	if err := os.WriteFile(db, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+"-wal", make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	var reqs atomic.Int64
	res := run(context.Background(), []Worker{&countWorker{}}, 0, 300*time.Millisecond, os.Getpid(), &reqs,
		soak{Every: 50 * time.Millisecond, DBFile: db})
	if len(res.Soak) < 4 {
		t.Fatalf("%d samples in 300 ms at 50 ms; want at least 4 (start, intervals, end)", len(res.Soak))
	}
	for i, s := range res.Soak {
		if s.DBBytes != 5096 {
			t.Errorf("sample %d: db %d bytes; want 5096 (file and WAL)", i, s.DBBytes)
		}
		if s.RSSKiB <= 0 {
			t.Errorf("sample %d: no RSS", i)
		}
		if i > 0 && s.Iterations < res.Soak[i-1].Iterations {
			t.Errorf("iterations went down: %d then %d", res.Soak[i-1].Iterations, s.Iterations)
		}
	}
	if last := res.Soak[len(res.Soak)-1]; last.Iterations == 0 {
		t.Errorf("the last sample counts no iterations")
	}
	if res := run(context.Background(), []Worker{&countWorker{}}, 0, 50*time.Millisecond, 0, &reqs, soak{}); len(res.Soak) != 0 {
		t.Errorf("samples without --soak-every")
	}
}
