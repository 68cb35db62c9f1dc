package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrLoad wraps every refusal to load bundles; the error is a
// *ProblemsError.
var ErrLoad = errors.New("bundles not loaded")

// ErrEvaluation is any evaluation that did not produce exactly one
// well-formed result: an evaluation error (a conflict, a builtin error), the
// deadline, an undefined or malformed decision. It is never an allow.
var ErrEvaluation = errors.New("policy evaluation failed")

// Problem is one thing wrong with a set of bundles: the file it is in (with
// a line for Rego), the data key it is at, and what is wrong.
type Problem struct {
	// File is the bundle file, e.g. bundles/example/data.yaml, or for Rego
	// bundles/example/custom.rego:12. Empty when no one file is at fault.
	File string
	// Key is the data path, e.g. trustgate.identities.deploy.federations[0].provider.
	Key string
	// Message says what is wrong, in words a bundle author acts on.
	Message string
}

// String is "file: key: message", leaving out what is empty.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ProblemsError is a load refused for one or more problems, every one of
// them listed.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].String()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Unwrap makes errors.Is(err, ErrLoad) hold.
func (e *ProblemsError) Unwrap() error { return ErrLoad }
