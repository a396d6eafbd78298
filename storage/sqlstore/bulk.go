package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/cardsso/cardsso/storage"
)

// Bulk inserts for seeding a database with realistic table sizes (`cardsso
// seed`): a million rows in minutes rather than hours (storage.BulkCreator).
// They are not part of storage.Store and not for service: a batch is all
// or nothing, and a duplicate key fails the whole batch (with
// storage.ErrAlreadyExists on SQLite; PostgreSQL's COPY reports the
// violation as it is).
//
// PostgreSQL takes the rows with COPY (pgx, binary format) in one
// transaction per batch; SQLite with one prepared INSERT in one transaction
// per batch. Values go through the same encoding as CreateAccount and
// CreateSession.

// BulkCreateAccounts inserts accounts in one transaction.
func (s *Store) BulkCreateAccounts(ctx context.Context, as []storage.Account) error {
	return bulkCreate(ctx, s, accounts, "bulk create accounts", as)
}

// BulkCreateSessions inserts sessions in one transaction.
func (s *Store) BulkCreateSessions(ctx context.Context, ss []storage.Session) error {
	return bulkCreate(ctx, s, sessions, "bulk create sessions", ss)
}

func bulkCreate[T, R any](ctx context.Context, s *Store, e *entity[T, R], op string, vs []T) error {
	if len(vs) == 0 {
		return nil
	}
	if s.flavour == &postgresFlavour {
		return bulkCopy(ctx, s, e, op, vs)
	}
	return s.inTx(ctx, op, func(ctx context.Context, tx *sqlx.Tx) error {
		stmt, err := tx.PrepareContext(ctx, e.insert)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: %w", op, err)
		}
		defer stmt.Close()
		for _, v := range vs {
			if _, err := stmt.ExecContext(ctx, e.args(v)...); err != nil {
				return s.writeErr(op, err)
			}
		}
		return nil
	})
}

// bulkCopy sends the rows with COPY on one connection of the pool.
func bulkCopy[T, R any](ctx context.Context, s *Store, e *entity[T, R], op string, vs []T) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("not a pgx connection")
		}
		pc := c.Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{e.table}, e.columns,
			pgx.CopyFromSlice(len(vs), func(i int) ([]any, error) { return e.args(vs[i]), nil })); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil && !errors.Is(err, sql.ErrConnDone) {
		return s.writeErr(op, err)
	}
	return err
}
