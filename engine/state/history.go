package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"
)

// Defaults of the decision history (DESIGN §14).
const (
	DefaultHistoryKeep    = 14 * 24 * time.Hour
	DefaultHistoryMaxRows = 1_000_000
)

// HistoryEntry is one decision for the history: Key is what it depends
// on, hashed (equal keys are one row with a count), Record the decision
// record's JSON, At when it was decided.
type HistoryEntry struct {
	Key    [sha256.Size]byte
	Record []byte
	At     time.Time
	// Count is how many decisions the entry stands for (at least 1).
	Count int64
	// first is the earliest of the decisions a batch folded into the
	// entry (zero: At).
	first time.Time
}

// HistoryRow is a row of the history as replay reads it.
type HistoryRow struct {
	Record    []byte
	Count     int64
	FirstSeen time.Time
	LastSeen  time.Time
}

// keepDecision adds one entry: a new key is a new row; a known one adds
// its count and, when newer, takes its record and time.
const keepDecision = `INSERT INTO decision_history (key, record, count, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key) DO UPDATE SET
    count = decision_history.count + excluded.count,
    record = CASE WHEN excluded.last_seen >= decision_history.last_seen THEN excluded.record ELSE decision_history.record END,
    last_seen = CASE WHEN excluded.last_seen >= decision_history.last_seen THEN excluded.last_seen ELSE decision_history.last_seen END,
    first_seen = CASE WHEN excluded.first_seen < decision_history.first_seen THEN excluded.first_seen ELSE decision_history.first_seen END`

// KeepDecisions writes entries in one transaction.
func (s *Store) KeepDecisions(ctx context.Context, entries []HistoryEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.tx(ctx, "history_keep", func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, keepDecision)
		if err != nil {
			return err
		}
		defer func() { _ = stmt.Close() }()
		for _, e := range entries {
			if _, err := stmt.ExecContext(ctx, e.Key[:], string(e.Record), max(e.Count, 1), nanos(e.firstSeen()), nanos(e.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// firstSeen is when the earliest decision e stands for was made.
func (e HistoryEntry) firstSeen() time.Time {
	if e.first.IsZero() || e.first.After(e.At) {
		return e.At
	}
	return e.first
}

// historyPage is how many rows one read of DecisionHistory fetches.
const historyPage = 500

const readHistory = `SELECT key, record, count, first_seen, last_seen FROM decision_history
WHERE last_seen >= $1 AND key > $2 ORDER BY key LIMIT $3`

// ErrStop ends DecisionHistory early without an error.
var ErrStop = errors.New("stop")

// DecisionHistory calls f with every row last seen at or after since, a
// page at a time (each page one operation under the timeout), so a history
// larger than memory streams. An error of f ends it and is returned
// (ErrStop: nil).
func (s *Store) DecisionHistory(ctx context.Context, since time.Time, f func(HistoryRow) error) error {
	after := []byte{}
	for {
		var rows []HistoryRow
		var last []byte
		err := s.op(ctx, "history_read", func(ctx context.Context) error {
			rs, err := s.db.QueryContext(ctx, readHistory, nanos(since), after, historyPage)
			if err != nil {
				return err
			}
			defer func() { _ = rs.Close() }()
			for rs.Next() {
				var r HistoryRow
				var record string
				var first, lastSeen int64
				if err := rs.Scan(&last, &record, &r.Count, &first, &lastSeen); err != nil {
					return err
				}
				r.Record, r.FirstSeen, r.LastSeen = []byte(record), fromNanos(first), fromNanos(lastSeen)
				rows = append(rows, r)
			}
			return rs.Err()
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := f(r); err != nil {
				if errors.Is(err, ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(rows) < historyPage {
			return nil
		}
		after = last
	}
}

// HistoryStats is the history's size: rows, decisions they stand for,
// and bytes of records.
type HistoryStats struct {
	Rows, Decisions, Bytes int64
}

// DecisionHistoryStats counts the history.
func (s *Store) DecisionHistoryStats(ctx context.Context) (HistoryStats, error) {
	var st HistoryStats
	err := s.op(ctx, "history_stats", func(ctx context.Context) error {
		return s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(record)), 0) FROM decision_history`).
			Scan(&st.Rows, &st.Decisions, &st.Bytes)
	})
	return st, err
}

const sweepHistory = `DELETE FROM decision_history WHERE key IN
(SELECT key FROM decision_history WHERE last_seen < $1 LIMIT $2)`

// trimHistory deletes at most $2 rows beyond the $1 most recently seen.
const trimHistory = `DELETE FROM decision_history WHERE key IN
(SELECT key FROM decision_history ORDER BY last_seen DESC, key LIMIT $2 OFFSET $1)`

// historyCutoff is the oldest last_seen kept; with no keep, every row goes.
func historyCutoff(now time.Time, keep retention) int64 {
	if keep.history <= 0 {
		return nanos(now) + 1
	}
	return nanos(now.Add(-keep.history))
}
