package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/util"
)

// errEntrySyntax stops decodeEntry at anything it does not decode itself;
// decodeRawEntry then leaves the entry to encoding/json.
var errEntrySyntax = errors.New("not decoded here")

// decodeRawEntry decodes an identity's rawEntry exactly as
// util.UnmarshalJSON does (mappings, lists, strings, json.Number, booleans,
// null; the last of two equal keys wins), several times faster and with a
// fraction of its allocations: a load decodes every identity, 100,000 of
// them in a large bundle, and encoding/json's decoding was a third of a
// reload's time and half of what it allocated. The entry is text
// encoding/json has already read whole (decodeData); decodeEntry decodes
// the common forms itself and anything else (escapes, bytes that are not
// UTF-8, text it does not expect) is decoded by util.UnmarshalJSON, so
// the value and any error are that function's.
//
// strs, when not nil, holds the strings decoded so far, each boxed once:
// the names, providers, patterns and lists that repeat from one identity
// to the next are then allocated once per load, not once per identity.
func decodeRawEntry(raw []byte, strs map[string]any) (any, error) {
	d := entryDecoder{b: raw, strs: strs}
	v, err := d.value(0)
	if err == nil {
		d.space()
		if d.i == len(d.b) {
			return v, nil
		}
	}
	var x any
	if err := util.UnmarshalJSON(raw, &x); err != nil {
		return nil, err
	}
	return x, nil
}

// entryDecoder reads b from i.
type entryDecoder struct {
	b    []byte
	i    int
	strs map[string]any // see decodeRawEntry
}

// Bounds of entryDecoder.strs: only short strings are kept, and no more
// than maxInterned of them (a bundle of identities with distinct names
// and patterns would otherwise keep them all twice).
const (
	maxInternedLen = 64
	maxInterned    = 1 << 14
)

// maxEntryDepth bounds decodeEntry's recursion; deeper entries go to
// encoding/json, which has its own limit.
const maxEntryDepth = 64

func (d *entryDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *entryDecoder) value(depth int) (any, error) {
	d.space()
	if d.i >= len(d.b) || depth > maxEntryDepth {
		return nil, errEntrySyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.stringValue()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	default:
		return d.literal()
	}
}

func (d *entryDecoder) object(depth int) (any, error) {
	d.i++ // {
	m := make(map[string]any)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errEntrySyntax
		}
		kv, err := d.stringValue()
		if err != nil {
			return nil, err
		}
		k := kv.(string)
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errEntrySyntax
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if done, err := d.next('}'); done || err != nil {
			return m, err
		}
	}
}

func (d *entryDecoder) array(depth int) (any, error) {
	d.i++ // [
	list := []any{}
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return list, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		if done, err := d.next(']'); done || err != nil {
			return list, err
		}
	}
}

// next reads the comma before another member or element (false) or the
// closing bracket (true).
func (d *entryDecoder) next(closing byte) (bool, error) {
	d.space()
	if d.i >= len(d.b) {
		return false, errEntrySyntax
	}
	switch d.b[d.i] {
	case ',':
		d.i++
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, errEntrySyntax
}

// stringValue reads a string without escapes, of UTF-8 and no control
// characters (what encoding/json gives as the same bytes), as an any
// holding a string: from strs when it is there.
func (d *entryDecoder) stringValue() (any, error) {
	start := d.i + 1
	end := bytes.IndexByte(d.b[start:], '"')
	if end < 0 {
		return nil, errEntrySyntax
	}
	s := d.b[start : start+end]
	for _, c := range s {
		if c < 0x20 || c == '\\' {
			return nil, errEntrySyntax
		}
	}
	if !utf8.Valid(s) {
		return nil, errEntrySyntax
	}
	d.i = start + end + 1
	if d.strs == nil || len(s) > maxInternedLen {
		return string(s), nil
	}
	if v, ok := d.strs[string(s)]; ok {
		return v, nil
	}
	var v any = string(s)
	if len(d.strs) < maxInterned {
		d.strs[v.(string)] = v
	}
	return v, nil
}

// number reads a number's text as JSON has it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *entryDecoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return nil, errEntrySyntax
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, errEntrySyntax
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, errEntrySyntax
		}
	}
	return json.Number(d.b[start:d.i]), nil
}

func (d *entryDecoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

func (d *entryDecoder) literal() (any, error) {
	for _, l := range []struct {
		text  string
		value any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if bytes.HasPrefix(d.b[d.i:], []byte(l.text)) {
			d.i += len(l.text)
			return l.value, nil
		}
	}
	return nil, errEntrySyntax
}
