package policy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
)

// entry checks a provider's or identity's name and that its value is a
// mapping with known keys only.
func (v *validator) entry(file, key, name string, raw any, known []string) map[string]any {
	if name == "" || strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		v.add(file, key, "a name must not be empty or contain spaces")
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		v.add(file, key, "want a mapping, not %s", describe(raw))
		return nil
	}
	v.unknownKeys(file, key, obj, known)
	return obj
}

func (v *validator) unknownKeys(file, key string, obj map[string]any, known []string) {
	if !hasUnknownKey(obj, known) {
		return
	}
	for _, k := range sortedKeys(obj) {
		if !slices.Contains(known, k) {
			v.add(file, key+"."+k, "unknown key (known: %s)", strings.Join(known, ", "))
		}
	}
}

func hasUnknownKey(obj map[string]any, known []string) bool {
	for k := range obj {
		if !slices.Contains(known, k) {
			return true
		}
	}
	return false
}

// str reads an optional (or required) string field.
func (v *validator) str(file, key string, obj map[string]any, name string, required bool) string {
	raw, present := obj[name]
	if !present {
		if required {
			v.add(file, key+"."+name, "is required")
		}
		return ""
	}
	s, ok := raw.(string)
	switch {
	case !ok:
		v.add(file, key+"."+name, "want a string, not %s", describe(raw))
	case s == "" && required:
		v.add(file, key+"."+name, "must not be empty")
	}
	return s
}

// strs reads an optional list of non-empty strings; nil when absent.
func (v *validator) strs(file, key string, obj map[string]any, name string) []string {
	raw, present := obj[name]
	if !present {
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		v.add(file, key+"."+name, "want a list of strings, not %s", describe(raw))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok || s == "" {
			v.add(file, fmt.Sprintf("%s.%s[%d]", key, name, i), "want a non-empty string, not %s", describe(x))
			continue
		}
		out = append(out, s)
	}
	return out
}

// duration reads an optional positive Go duration string such as "15m".
func (v *validator) duration(file, key string, obj map[string]any, name string) (time.Duration, bool) {
	raw, present := obj[name]
	if !present {
		return 0, false
	}
	s, ok := raw.(string)
	if !ok {
		v.add(file, key+"."+name, "want a duration such as \"15m\" or \"2h\", not %s", describe(raw))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.add(file, key+"."+name, "want a positive duration such as \"15m\" or \"2h\", not %q", s)
		return 0, false
	}
	return d, true
}

// describe names the JSON type of a decoded value for messages.
func describe(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("%T", x)
	}
}

func jsonText(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
