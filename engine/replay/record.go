package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/policy"
)

// decisionPath is the path of every trustgate decision record.
const decisionPath = "trustgate/decision"

// ErrFormat is input that is not a trustgate decision record.
var ErrFormat = errors.New("not a trustgate decision record")

// Record is one recorded decision to replay.
type Record struct {
	// ID is the decision id (for a history row: the latest decision's).
	ID string
	// At is when the decision was made (a history row: last seen).
	At time.Time
	// Input is the record's input as written, masked fields absent; Eval
	// is it read back.
	Input json.RawMessage
	Eval  *engine.Evaluation
	// Decision is the recorded decision; nil when evaluation failed.
	Decision *policy.Decision
	// Count is how many decisions the record stands for (a history row
	// deduplicates; a log line is 1).
	Count int64
	// Erased names the masked fields.
	Erased []string
}

// Source yields records one at a time; io.EOF ends it. A record that is
// not one (bad JSON, another format) is an error naming where it is.
type Source interface {
	Next() (Record, bool, error)
}

// line is a decision record as the decision log (engine/record.go) or the
// HTTP sink (OPA's format, the decision under result.decision) writes it.
type line struct {
	DecisionID string           `json:"decision_id"`
	Timestamp  time.Time        `json:"timestamp"`
	Path       string           `json:"path"`
	Input      json.RawMessage  `json:"input"`
	Decision   *policy.Decision `json:"decision"`
	Result     json.RawMessage  `json:"result"`
	Erased     []string         `json:"erased"`
	Shadow     bool             `json:"shadow"`
	Count      int64            `json:"count"`
}

// FileSource reads JSON lines of decision records.
type FileSource struct {
	name string
	sc   *bufio.Scanner
	n    int
}

// maxLine bounds one record: a record's input is the claims of a token
// that verification capped at 16 KiB, and some request fields.
const maxLine = 1 << 20

// NewFileSource reads records from r; name is how errors call it.
func NewFileSource(name string, r io.Reader) *FileSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	return &FileSource{name: name, sc: sc}
}

// Next returns the next replayable record; ok is false with a nil error
// for a record that was not evaluated (an invalid token, a refusal before
// the policy) or a shadow record, which are not replayed.
func (s *FileSource) Next() (Record, bool, error) {
	var b []byte
	for len(b) == 0 { // blank lines are no records
		if !s.sc.Scan() {
			if err := s.sc.Err(); err != nil {
				return Record{}, false, fmt.Errorf("%s: line %d: %w", s.name, s.n+1, err)
			}
			return Record{}, false, io.EOF
		}
		s.n++
		b = bytes.TrimSpace(s.sc.Bytes())
	}
	rec, ok, err := parseLine(b)
	if err != nil {
		return Record{}, false, fmt.Errorf("%s: line %d: %w", s.name, s.n, err)
	}
	return rec, ok, nil
}

// parseLine reads one record; see FileSource.Next for ok.
func parseLine(b []byte) (Record, bool, error) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return Record{}, false, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	switch {
	case l.DecisionID == "" || l.Timestamp.IsZero():
		return Record{}, false, fmt.Errorf("%w: it has no decision_id and timestamp", ErrFormat)
	case l.Path != "" && l.Path != decisionPath:
		return Record{}, false, fmt.Errorf("%w: it is a decision of %q", ErrFormat, l.Path)
	case l.Shadow || !evaluated(l.Input):
		return Record{}, false, nil
	}
	if l.Decision == nil && len(l.Result) > 0 && l.Result[0] == '{' {
		var r struct {
			Decision *policy.Decision `json:"decision"`
		}
		if err := json.Unmarshal(l.Result, &r); err != nil {
			return Record{}, false, fmt.Errorf("%w: result: %w", ErrFormat, err)
		}
		l.Decision = r.Decision
	}
	ev, err := engine.ParseEvaluation(l.Input)
	if err != nil {
		return Record{}, false, err
	}
	if l.Count <= 0 {
		l.Count = 1
	}
	return Record{ID: l.DecisionID, At: l.Timestamp, Input: l.Input, Eval: ev, Decision: l.Decision, Count: l.Count, Erased: l.Erased}, true, nil
}

// evaluated reports whether a record's input is one the policy was asked
// (it has "now"), not the summary a refusal before evaluation records.
func evaluated(input json.RawMessage) bool {
	var probe struct {
		Now *string `json:"now"`
	}
	return len(input) > 0 && input[0] == '{' && json.Unmarshal(input, &probe) == nil && probe.Now != nil
}
