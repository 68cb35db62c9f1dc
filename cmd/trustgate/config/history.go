package config

import (
	"time"

	"github.com/trustgate/trustgate/engine/state"
)

// DecisionHistory is `decision_history` in trustgate.yaml (DESIGN §14): the
// state store keeps each distinct decision (a thousand jobs of one pipeline
// are one row with a count) for `trustgate replay --state`.
type DecisionHistory struct {
	// Keep is how long a decision is kept after it was last seen (default
	// 14d); 0 turns the history off (and the sweep empties it).
	Keep *Duration `json:"keep"`
	// MaxRows bounds the rows; the least recently seen go first (default
	// 1000000).
	MaxRows int64 `json:"max_rows"`
}

// maxHistoryRows is the most max_rows may be.
const maxHistoryRows = 100_000_000

func (h *DecisionHistory) fillDefaults() {
	if h.Keep == nil {
		keep := Duration(state.DefaultHistoryKeep)
		h.Keep = &keep
	}
	if h.MaxRows == 0 {
		h.MaxRows = state.DefaultHistoryMaxRows
	}
}

// On reports whether decisions are kept.
func (h DecisionHistory) On() bool { return h.Keep != nil && *h.Keep > 0 }

// KeepFor is Keep as a time.Duration (0: off).
func (h DecisionHistory) KeepFor() time.Duration {
	if h.Keep == nil {
		return 0
	}
	return time.Duration(*h.Keep)
}

func (h DecisionHistory) problems() problemList {
	var p problemList
	if h.Keep != nil && (*h.Keep < 0 || (*h.Keep > 0 && *h.Keep < Duration(time.Hour))) {
		p.add("decision_history.keep", "must be 0 (off) or at least 1h, not %s", time.Duration(*h.Keep))
	}
	if h.MaxRows < 0 || h.MaxRows > maxHistoryRows {
		p.add("decision_history.max_rows", "must be between 1 and %d", maxHistoryRows)
	}
	return p
}
