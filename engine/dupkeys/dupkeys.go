// Package dupkeys finds a key given twice in one mapping of a JSON or YAML
// document, which the decoders Trustgate reads bundles and its config with
// accept, keeping the later value: a reviewer reading the first block
// would approve access they never saw. Both line numbers are reported.
package dupkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a key given twice in one mapping.
type Error struct {
	Path   string // the mapping's keys from the root, dot-separated; "" at the root
	Key    string
	First  int // line of the first
	Second int // line of the second
}

func (e *Error) Error() string {
	where := "at the top level"
	if e.Path != "" {
		where = "in " + e.Path
	}
	return fmt.Sprintf("key %q is given twice %s, on line %d and on line %d: the later would silently replace the earlier; remove one",
		e.Key, where, e.First, e.Second)
}

// frame is one open object or array of a JSON text.
type frame struct {
	object    bool
	expectKey bool
	key       []byte // the key whose value is being read, as decoded
	// The keys seen so far: the first few compared in a list (no
	// allocation for the small objects of a bundle), all of them in a map
	// once there are more.
	names [][]byte
	lines []int
	many  map[string]int
}

// smallObject is how many keys a frame compares in its list.
const smallObject = 8

// add records key on line; an *Error (without its path) when the frame
// has it.
func (f *frame) add(key []byte, line int) error {
	f.key = key
	if f.many == nil {
		for i, k := range f.names {
			if bytes.Equal(k, key) {
				return &Error{Key: string(key), First: f.lines[i], Second: line}
			}
		}
		if len(f.names) < smallObject {
			f.names, f.lines = append(f.names, key), append(f.lines, line)
			return nil
		}
		f.many = make(map[string]int, 2*smallObject)
		for i, k := range f.names {
			f.many[string(k)] = f.lines[i]
		}
	}
	if first, dup := f.many[string(key)]; dup {
		return &Error{Key: string(key), First: first, Second: line}
	}
	f.many[string(key)] = line
	return nil
}

// JSON returns an *Error for the first key given twice in one object of
// text. Text that is not JSON may yield nil: its decoder refuses it.
func JSON(text []byte) error {
	var stack []frame
	line := 1
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\n':
			line++
		case '{', '[':
			stack = push(stack, c == '{')
		case '}', ']':
			if len(stack) == 0 {
				return nil
			}
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '"':
			end := stringEnd(text, i)
			if end < 0 {
				return nil
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
				stack[n-1].expectKey = false
				if err := stack[n-1].add(keyText(text[i:end+1]), line); err != nil {
					var e *Error
					if errors.As(err, &e) {
						e.Path = pathOf(stack, n-2)
					}
					return err
				}
			}
			i = end
		}
	}
	return nil
}

// push opens a frame, reusing the lists of one closed before at its depth.
func push(stack []frame, object bool) []frame {
	n := len(stack)
	if n < cap(stack) {
		stack = stack[:n+1]
		f := &stack[n]
		*f = frame{names: f.names[:0], lines: f.lines[:0]}
	} else {
		stack = append(stack, frame{})
	}
	stack[n].object, stack[n].expectKey = object, object
	return stack
}

// pathOf is the path of the value the frame at i is reading: the keys of
// the frames up to it, "[]" for a list.
func pathOf(stack []frame, i int) string {
	var parts []string
	for ; i >= 0; i-- {
		if stack[i].object {
			parts = append(parts, string(stack[i].key))
		} else {
			parts = append(parts, "[]")
		}
	}
	var b strings.Builder
	for j := len(parts) - 1; j >= 0; j-- {
		if b.Len() > 0 && parts[j] != "[]" {
			b.WriteByte('.')
		}
		b.WriteString(parts[j])
	}
	return b.String()
}

// stringEnd is the index of the quote closing the string that opens at
// text[start]; -1 when it does not close.
func stringEnd(text []byte, start int) int {
	for i := start + 1; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// keyText decodes a quoted key; escapes spell the same key another way.
func keyText(quoted []byte) []byte {
	if !bytes.ContainsRune(quoted, '\\') {
		return quoted[1 : len(quoted)-1]
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return quoted
	}
	return []byte(s)
}

// YAML returns an *Error for the first key given twice in one mapping of
// the first document of text. Text the YAML parser refuses yields nil: its
// decoder refuses it too. Aliases are not followed (their anchors are
// checked where they are), and merge keys (<<) are left alone: overriding
// a merged key is what they are for.
func YAML(text []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil //nolint:nilerr // the decoder that reads the text reports it
	}
	return walkYAML(&doc, "")
}

func walkYAML(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		child := path
		if n.Kind == yaml.SequenceNode {
			child += "[]"
		}
		for _, c := range n.Content {
			if err := walkYAML(c, child); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		return walkMapping(n, path)
	}
	return nil
}

func walkMapping(n *yaml.Node, path string) error {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if key, ok := keyOf(k); ok {
			if first, dup := seen[key]; dup {
				return &Error{Path: path, Key: key, First: first, Second: k.Line}
			}
			seen[key] = k.Line
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		if err := walkYAML(v, child); err != nil {
			return err
		}
	}
	return nil
}

// keyOf is the key a scalar key node becomes in the JSON OPA converts YAML
// to (its internal/yaml): decoded, then written as text, so that 1 and
// "1" are one key. Merge keys and other nodes have none.
func keyOf(k *yaml.Node) (string, bool) {
	if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
		return "", false
	}
	var v any
	if err := k.Decode(&v); err != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case float64:
		switch s := strconv.FormatFloat(v, 'g', -1, 32); s {
		case "+Inf":
			return ".inf", true
		case "-Inf":
			return "-.inf", true
		case "NaN":
			return ".nan", true
		default:
			return s, true
		}
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
