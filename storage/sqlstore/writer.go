package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// The SQLite writer: group commit.
//
// SQLite lets one connection write at a time, and most of a write's cost is
// its transaction rather than its statements: taking and releasing the
// locks (fcntl calls on the database and its -shm file) and appending every
// page the transaction changed to the WAL at commit. So every write of a
// Store goes to one goroutine, which runs the writes that are waiting
// together in one transaction, each inside a savepoint of its own:
//
//	write 1 ─┐                   BEGIN IMMEDIATE
//	write 2 ─┼─▶ queue ─▶ writer   SAVEPOINT w; write 1; RELEASE w
//	write 3 ─┘                     SAVEPOINT w; write 2 (fails): ROLLBACK TO w; RELEASE w
//	                               SAVEPOINT w; write 3; RELEASE w
//	                             COMMIT ─▶ each caller gets its own result
//
// A write that fails is rolled back to its savepoint and fails alone; the
// others commit. A caller is answered only after the commit, so a write
// that returned nil is as durable as before (synchronous=NORMAL in WAL: it
// survives a crash of the process). Under light load a batch is one write,
// as before; under load the batch grows to what queued while the last one
// committed (at most writeBatchMax), and the cost of a commit is shared.
// An error that makes SQLite abandon the whole transaction (I/O, disk full,
// out of memory, interrupt, busy) fails every write of the batch. Writes
// run with their callers' contexts detached from cancellation: a caller
// that goes away after its write started cannot interrupt the batch (an
// interrupt rolls the whole transaction back); a caller whose context ended
// while it queued is answered with that error and its write is not run.
//
// Other processes (the CLI) write through their own Store; between
// processes SQLite's write lock and busy timeout still apply.

// writeBatchMax bounds the writes of one transaction.
const writeBatchMax = 64

type writeJob struct {
	ctx context.Context
	op  string
	fn  func(ctx context.Context, tx *sqlx.Tx) error
	res chan error
}

type writer struct {
	s     *Store
	jobs  chan *writeJob
	stop  chan struct{}
	ended chan struct{}
	// own: the writer keeps a connection of its own, conn (nil until the
	// first batch, and after one that failed to begin), set up by
	// writerPragmas. With a pool of one connection (":memory:", or
	// MaxOpenConns 1) it borrows the pool's connection per batch instead,
	// with SQLite's defaults. The pool's lifetime limits (ConnMaxLifetime,
	// ConnMaxIdleTime) do not apply to a connection the writer keeps; it is
	// replaced when a batch fails to begin on it.
	own  bool
	conn *sqlx.Conn
}

// writerPragmas set up the writer's own connection:
//   - temp_store=MEMORY keeps the statement journal in memory. Every
//     write runs in a savepoint of the batch's transaction, and an INSERT
//     into a table with unique indexes needs a statement journal too:
//     SQLite records there the original of every page the savepoint (or
//     statement) changes. With the default temp_store it spills to a temp
//     file past 64 KiB, after which every changed page is a write(2) of
//     its own (measured: 5 pages per rotation, more than a third of the
//     writer's syscalls). In memory it holds at most the pages of one
//     batch, for the length of the batch. Readers keep the default, so a
//     large sort never lands in memory.
//
// The WAL is checkpointed as SQLite does by default: by the commit that
// takes it past 1,000 pages, in the writer. Measured on a node (refresh
// rotations, 8 clients): checkpoints every 4,000 pages saved at most a few
// per cent of CPU and doubled the p99 (15 → 28 ms), as each one holds the
// writer four times as long. A checkpoint in another goroutine would not
// hold the writer, but under steady writes it never catches up with the
// last commit, so the WAL would never start over and grow without bound.
var writerPragmas = []string{
	"PRAGMA temp_store = MEMORY",
}

var errStoreClosed = errors.New("sqlstore: store closed")

func newWriter(s *Store) *writer {
	w := &writer{s: s, jobs: make(chan *writeJob, writeBatchMax), stop: make(chan struct{}), ended: make(chan struct{})}
	n := s.db.Stats().MaxOpenConnections // 0: unlimited
	w.own = !s.oneConn && n != 1
	go w.run()
	return w
}

// do runs fn in the writer's transaction and returns its result once the
// transaction has committed (or fn's own error).
func (w *writer) do(ctx context.Context, op string, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	j := &writeJob{ctx: ctx, op: op, fn: fn, res: make(chan error, 1)}
	select {
	case w.jobs <- j:
	case <-w.stop:
		return errStoreClosed
	case <-ctx.Done():
		return fmt.Errorf("sqlstore: %s: %w", op, context.Cause(ctx))
	}
	return <-j.res // answered even when the store closes meanwhile
}

// close stops the writer after the batch in progress; writes still queued
// fail with errStoreClosed.
func (w *writer) close() {
	close(w.stop)
	<-w.ended
}

// begin starts a batch's transaction, on the writer's own connection unless
// the pool is one connection.
func (w *writer) begin(ctx context.Context) (*sqlx.Tx, error) {
	s := w.s
	if !w.own {
		return s.db.BeginTxx(ctx, nil)
	}
	if w.conn == nil {
		c, err := s.db.Connx(ctx)
		if err != nil {
			return nil, err
		}
		for _, q := range writerPragmas {
			if _, err := c.ExecContext(ctx, q); err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("%s: %w", q, err)
			}
		}
		w.conn = c
	}
	tx, err := w.conn.BeginTxx(ctx, nil)
	if err != nil {
		// The next batch starts over on a new connection.
		_ = w.conn.Close()
		w.conn = nil
	}
	return tx, err
}

func (w *writer) run() {
	defer close(w.ended)
	defer func() {
		if w.conn != nil {
			_ = w.conn.Close()
		}
	}()
	batch := make([]*writeJob, 0, writeBatchMax)
	results := make([]error, 0, writeBatchMax)
	for {
		var first *writeJob
		select {
		case first = <-w.jobs:
		case <-w.stop:
			w.drain()
			return
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < writeBatchMax {
			select {
			case j := <-w.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		results = w.commit(batch, results[:0])
		for i, j := range batch {
			j.res <- results[i]
			batch[i] = nil
		}
		if w.s.prepared() {
			w.s.prepareWanted(context.Background())
		}
	}
}

// drain fails the writes still queued at close.
func (w *writer) drain() {
	for {
		select {
		case j := <-w.jobs:
			j.res <- errStoreClosed
		default:
			return
		}
	}
}

// commit runs a batch in one transaction and returns each write's result.
func (w *writer) commit(batch []*writeJob, results []error) []error {
	s := w.s
	ctx := context.Background()
	tx, err := w.begin(ctx)
	if err != nil {
		for _, j := range batch {
			results = append(results, fmt.Errorf("sqlstore: %s: begin: %w", j.op, err))
		}
		return results
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	var aborted error
	ran := 0
	for _, j := range batch {
		if aborted != nil {
			results = append(results, aborted)
			continue
		}
		if err := j.ctx.Err(); err != nil {
			results = append(results, fmt.Errorf("sqlstore: %s: %w", j.op, context.Cause(j.ctx)))
			continue
		}
		err := w.runOne(tx, j, len(batch) > 1)
		if abandonsTx(err) {
			aborted = err
		}
		if err == nil {
			ran++
		}
		results = append(results, err)
	}
	if aborted != nil {
		// SQLite rolled the transaction back: nothing of the batch stays,
		// and later statements would have run outside it.
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("sqlstore: %s: transaction abandoned by an earlier write's failure: %w", batch[i].op, aborted)
			}
		}
		return results
	}
	if ran == 0 {
		return results // nothing to commit; the deferred rollback ends it
	}
	if err := tx.Commit(); err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = s.writeErr(batch[i].op+": commit", err)
			}
		}
	}
	return results
}

// errSavepoint marks a failed savepoint statement: the transaction's state
// is unknown, so the batch is abandoned.
var errSavepoint = errors.New("savepoint statement failed")

// runOne runs a write in tx, inside a savepoint when it shares the
// transaction, rolled back to it when the write fails.
func (w *writer) runOne(tx *sqlx.Tx, j *writeJob, shared bool) error {
	ctx := context.WithoutCancel(j.ctx)
	if !shared {
		return j.fn(ctx, tx)
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return fmt.Errorf("sqlstore: %s: %w: %w", j.op, errSavepoint, err)
	}
	err := j.fn(ctx, tx)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO w"); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlstore: %s: rollback to %w: %w", j.op, errSavepoint, rerr))
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE w"); rerr != nil {
		return errors.Join(err, fmt.Errorf("sqlstore: %s: release %w: %w", j.op, errSavepoint, rerr))
	}
	return err
}

// abandonsTx reports whether err is one after which SQLite may have rolled
// the whole transaction back (https://sqlite.org/lang_transaction.html,
// "Response To Errors Within A Transaction"), or a savepoint statement
// failed.
func abandonsTx(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errSavepoint) {
		return true
	}
	var e sqlite3.Error
	if errors.As(err, &e) {
		switch e.Code {
		case sqlite3.ErrIoErr, sqlite3.ErrFull, sqlite3.ErrNomem, sqlite3.ErrInterrupt, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrCorrupt:
			return true
		}
	}
	return false
}
