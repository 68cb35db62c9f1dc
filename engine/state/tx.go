package state

import (
	"context"
	"database/sql"
	"errors"

	"github.com/trustgate/trustgate/engine/access"
)

// tx runs f in one read-write transaction under s.op. f's answers
// (access.ErrNotFound, access.ErrConflict, access.ErrInvalid) roll back and
// come back as they are; any other failure rolls back and matches
// ErrUnavailable. f must take its lock with its first statement, a write
// (SQLite then holds the write lock; PostgreSQL the row lock), so what it
// reads next no other transaction changes before it commits.
func (s *Store) tx(ctx context.Context, name string, f func(ctx context.Context, tx *sql.Tx) error) error {
	return s.inTx(ctx, name, nil, f)
}

// read runs f in one read-only transaction that sees one snapshot.
func (s *Store) read(ctx context.Context, name string, f func(ctx context.Context, tx *sql.Tx) error) error {
	return s.inTx(ctx, name, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, f)
}

func (s *Store) inTx(ctx context.Context, name string, opts *sql.TxOptions, f func(ctx context.Context, tx *sql.Tx) error) error {
	var answer error
	err := s.op(ctx, name, func(ctx context.Context) error {
		tx, err := s.db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		if err := f(ctx, tx); err != nil {
			_ = tx.Rollback()
			if isAnswer(err) {
				answer = err
				return nil
			}
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	return answer
}

// isAnswer: err is the store's answer about a request, not a failure.
func isAnswer(err error) bool {
	return errors.Is(err, access.ErrNotFound) || errors.Is(err, access.ErrConflict) || errors.Is(err, access.ErrInvalid)
}
