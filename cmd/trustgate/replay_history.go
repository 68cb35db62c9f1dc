package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/replay"
	"github.com/trustgate/trustgate/engine/state"
)

// openHistory opens the decision history of the state store at url, read
// only: no migration, no sweep, nothing written.
func openHistory(ctx context.Context, url, since string) (replay.Source, func(), error) {
	d, err := parseSince(since)
	if err != nil {
		return nil, nil, fmt.Errorf("--since: %w", err)
	}
	st, err := state.Open(ctx, url, state.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("--state: %w", err)
	}
	src := replay.NewHistorySource(ctx, st, time.Now().Add(-d))
	return src, func() { src.Close(); _ = st.Close() }, nil
}

// parseSince reads a Go duration or a number of days ("7d").
func parseSince(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("want a positive number of days such as 7d or a duration such as 36h, not %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive number of days such as 7d or a duration such as 36h, not %q", s)
	}
	return d, nil
}
