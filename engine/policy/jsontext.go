package policy

import (
	"encoding/json"
	"fmt"
)

// appendJSON appends x, a value as bundle data decodes (mappings, lists,
// strings, json.Number, booleans, null), as JSON text. It is what
// json.Marshal writes without sorting keys or escaping HTML, several times
// faster: a load writes one identity at a time, 100,000 of them in a large
// bundle.
func appendJSON(b []byte, x any) ([]byte, error) {
	switch x := x.(type) {
	case map[string]any:
		b = append(b, '{')
		first := true
		for k, v := range x {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(AppendJSONString(b, k), ':')
			var err error
			if b, err = appendJSON(b, v); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, v := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, v); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case string:
		return AppendJSONString(b, x), nil
	case json.Number:
		return append(b, x...), nil
	case bool:
		if x {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case nil:
		return append(b, "null"...), nil
	}
	return nil, fmt.Errorf("%T is not a value of bundle data", x)
}

// AppendJSONString appends s, which must be valid UTF-8 (decoded data
// is), as a JSON string: only quotes, backslashes and control characters
// are escaped. Decision records use it too.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := range len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
