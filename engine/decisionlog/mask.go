package decisionlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Mask removes fields from the input of decision records before they are
// written anywhere, as OPA's decision-log masking does: each rule is a JSON
// pointer (RFC 6901) under /input, such as /input/token/user_email. What it
// removed is named in the record's "erased" list, so a reader (and
// `trustgate replay`) knows the field was there.
type Mask struct {
	paths [][]string // each rule's reference tokens after "input"
	rules []string
}

// ParseMask checks rules and returns their Mask; nil when there are none,
// which masks nothing at no cost.
func ParseMask(rules []string) (*Mask, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	m := &Mask{rules: rules}
	var errs []error
	for _, r := range rules {
		p, err := parsePointer(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", r, err))
			continue
		}
		m.paths = append(m.paths, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// parsePointer splits a JSON pointer under /input into its reference
// tokens, unescaped, without the leading "input".
func parsePointer(rule string) ([]string, error) {
	const root = "/input/"
	if !strings.HasPrefix(rule, root) || len(rule) == len(root) {
		return nil, errors.New("want a JSON pointer to a field of the input, such as /input/token/user_email")
	}
	parts := strings.Split(rule[len(root):], "/")
	for i, p := range parts {
		if p == "" {
			return nil, errors.New("has an empty reference token")
		}
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(p, "~0", ""), "~1", ""), "~") {
			return nil, errors.New("has a ~ that is neither ~0 nor ~1")
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// Apply removes the masked fields from input, a JSON object, and returns
// the object left and the rules that removed something. A nil Mask returns
// input as it is.
func (m *Mask) Apply(input []byte) ([]byte, []string, error) {
	if m == nil {
		return input, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("decisionlog: mask: %w", err)
	}
	var erased []string
	for i, p := range m.paths {
		if erase(doc, p) {
			erased = append(erased, m.rules[i])
		}
	}
	if erased == nil {
		return input, nil, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("decisionlog: mask: %w", err)
	}
	return out, erased, nil
}

// erase deletes the field path names from doc; false when it is absent.
// Only object members are removed: a path through an array erases nothing.
func erase(doc map[string]any, path []string) bool {
	for _, name := range path[:len(path)-1] {
		next, ok := doc[name].(map[string]any)
		if !ok {
			return false
		}
		doc = next
	}
	last := path[len(path)-1]
	if _, ok := doc[last]; !ok {
		return false
	}
	delete(doc, last)
	return true
}
