package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrLoad wraps every refusal to load bundles.
var ErrLoad = errors.New("bundles not loaded")

// ErrEvaluation is any evaluation that did not produce a well-formed
// result: an error, a deadline, an undefined or malformed decision. It is
// never an allow.
var ErrEvaluation = errors.New("policy evaluation failed")

// Problem is one thing wrong with a bundle, with the file and key it is at.
type Problem struct {
	File    string
	Key     string
	Message string
}

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

// ProblemsError is a load refused for one or more problems.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

func (e *ProblemsError) Unwrap() error { return ErrLoad }
