package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cardsso/cardsso/storage"
	"github.com/cardsso/cardsso/storage/sqlstore"
)

// TestWriterBatches: concurrent SQLite writes share transactions (writer.go)
// and still succeed or fail one by one: of many concurrent creates, the
// duplicates fail with ErrAlreadyExists and leave the others in place; a
// write whose context ended before it ran is not written; a claim in the
// same batches stays single use.
func TestWriterBatches(t *testing.T) {
	s := open(t, sqlstore.Config{DSN: tempFile(t)})
	ctx := t.Context()
	now := time.Now().UTC()
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			// Every id twice: one of each pair must fail.
			errs[i] = s.CreateClient(ctx, storage.Client{ID: fmt.Sprintf("c%d", i/2), CreatedAt: now, UpdatedAt: now})
		})
	}
	code := []byte("code-hash-code-hash-code-hash-32")
	if err := s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "ar", Done: true, CodeHash: code, ExpiresAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	claims := make([]error, 20)
	for i := range claims {
		wg.Go(func() { _, claims[i] = s.ClaimAuthCode(ctx, code, now) })
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, storage.ErrAlreadyExists):
			failed++
		default:
			t.Errorf("create %d: %v", i, err)
		}
	}
	if failed != n/2 {
		t.Errorf("%d creates failed as duplicates; want %d", failed, n/2)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != n/2 {
		t.Errorf("ListClients = %d clients, %v; want %d", len(list), err, n/2)
	}
	won := 0
	for _, err := range claims {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("claim: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent claims of one code succeeded; want 1", won)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.CreateClient(cctx, storage.Client{ID: "cancelled"}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateClient(cancelled context) = %v; want context.Canceled", err)
	}
	if _, err := s.GetClient(ctx, "cancelled"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient(cancelled) = %v; want ErrNotFound", err)
	}
}
