package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

// Errors and transactions.

// notFound is the error for a key with no (live) row.
func notFound(op string) error {
	return fmt.Errorf("sqlstore: %s: %w", op, storage.ErrNotFound)
}

// writeErr wraps an error from a write; a unique constraint violation is
// storage.ErrAlreadyExists as well as the driver's error.
func (s *Store) writeErr(op string, err error) error {
	if s.flavour.isUniqueViolation(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, storage.ErrAlreadyExists, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// txAttempts bounds how often inTx runs a transaction that the database
// aborted as retryable (a deadlock, a serialization failure).
const txAttempts = 5

// inTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise; fn gets the context its statements run with. fn must use
// only tx: with ":memory:" the pool has one connection.
//
// With SQLite, fn runs in the writer's transaction (writer.go), inside a
// savepoint when other writes share it, and the transaction holds the write
// lock from its start (BEGIN IMMEDIATE): keep fn short and free of I/O other
// than tx, and never write through the Store from inside it (deadlock).
//
// With PostgreSQL, when the database aborts the transaction as retryable
// (deadlock detected, serialization failure), nothing was written and inTx
// runs fn again from the start, up to txAttempts times in all, after a
// short random pause. So fn, and the updater an Update method calls in it,
// may run more than once and must not have effects outside tx.
func (s *Store) inTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sqlx.Tx) error) (err error) {
	defer func() { err = s.fail(err) }()
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if s.writer != nil {
		return s.writer.do(ctx, op, fn)
	}
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, op, fn)
		if err == nil || attempt == txAttempts || !s.flavour.isRetryable(err) {
			return err
		}
		// 5-25 ms, growing: the other transaction needs a moment to finish.
		pause := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return errors.Join(err, context.Cause(ctx))
		case <-time.After(pause):
		}
	}
}

// tryTx is one attempt of inTx.
func (s *Store) tryTx(ctx context.Context, op string, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.writeErr(op+": commit", err)
	}
	return nil
}
