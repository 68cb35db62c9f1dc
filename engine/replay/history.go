package replay

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/trustgate/trustgate/engine/state"
)

// HistorySource reads the state store's decision history, last seen at or
// after a time, a page at a time: a row stands for Count decisions.
type HistorySource struct {
	rows   chan state.HistoryRow
	errc   chan error
	cancel context.CancelFunc
	n      int
}

// NewHistorySource streams s's history since since until the rows end or
// Close is called.
func NewHistorySource(ctx context.Context, s *state.Store, since time.Time) *HistorySource {
	ctx, cancel := context.WithCancel(ctx)
	h := &HistorySource{rows: make(chan state.HistoryRow, 64), errc: make(chan error, 1), cancel: cancel}
	go func() {
		defer close(h.rows)
		h.errc <- s.DecisionHistory(ctx, since, func(r state.HistoryRow) error {
			select {
			case h.rows <- r:
				return nil
			case <-ctx.Done():
				return state.ErrStop
			}
		})
	}()
	return h
}

// Next returns the next row's record; see FileSource.Next.
func (h *HistorySource) Next() (Record, bool, error) {
	row, ok := <-h.rows
	if !ok {
		if err := <-h.errc; err != nil {
			return Record{}, false, fmt.Errorf("decision history: %w", err)
		}
		return Record{}, false, io.EOF
	}
	h.n++
	rec, ok, err := parseLine(row.Record)
	if err != nil {
		return Record{}, false, fmt.Errorf("decision history: row %d: %w", h.n, err)
	}
	rec.Count, rec.At = row.Count, row.LastSeen
	return rec, ok, nil
}

// Close stops reading.
func (h *HistorySource) Close() {
	h.cancel()
	// Drain what the reader queued, so it sees the cancellation and ends.
	for range h.rows {
	}
}
