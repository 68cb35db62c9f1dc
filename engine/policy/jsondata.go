package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/open-policy-agent/opa/v1/util"
)

// rawEntry is one identity of a data.json as its compact JSON text, kept
// so until it is validated: decoded all at once, 100,000 identities made a
// tree of maps of about 130 MB that a load held to its end. Decoding it
// gives the value the whole file's decoding would have given.
type rawEntry []byte

// identitiesPath is where decodeJSONData keeps identities as rawEntry.
var identitiesPath = []string{"trustgate", identitiesKey}

// decodeJSONData decodes a data.json whose root object lands at prefix as
// util.UnmarshalJSON does (numbers stay json.Number; the last of two equal
// keys wins, though parseDataFile refuses those first; nothing may follow
// the value; nothing may nest deeper than maxJSONDepth), except that each
// identity under trustgate.identities is left a rawEntry. It reads the file as a stream: only the root, trustgate
// and trustgate.identities are walked token by token, every other value is
// decoded whole.
func decodeJSONData(raw []byte, prefix []string) (any, error) {
	if err := checkDepth(raw); err != nil {
		return nil, err
	}
	dec := util.NewJSONDecoder(bytes.NewReader(raw))
	v, err := decodeData(dec, slices.Clip(prefix))
	if err != nil {
		return nil, err
	}
	tok, err := dec.Token()
	if tok != nil {
		return nil, fmt.Errorf("error: invalid character '%s' after top-level value", tok)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return v, nil
}

// maxJSONDepth is how deep encoding/json lets values nest (its scanner's
// maxNestingDepth): a value nested deeper is a syntax error.
const maxJSONDepth = 10000

// checkDepth refuses text nested deeper than maxJSONDepth, as OPA's decoder
// does. decodeJSONData cannot leave it to encoding/json: Token, which walks
// the outer levels, counts no depth, and each value decoded whole is
// counted from its own start. Counting brackets outside strings is exact
// for valid JSON up to the point OPA's decoder stops; any other text is
// refused either way.
func checkDepth(raw []byte) error {
	depth, inString := 0, false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++ // the escaped character, which may be a quote
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return fmt.Errorf("invalid character '%c' exceeded max depth", c)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// decodeData decodes the value at path, the next in dec.
func decodeData(dec *json.Decoder, path []string) (any, error) {
	switch {
	case len(path) <= len(identitiesPath) && slices.Equal(path, identitiesPath[:len(path)]):
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if tok != json.Delim('{') {
			return fromTokens(dec, tok)
		}
		return decodeObject(dec, path)
	case len(path) == len(identitiesPath)+1 && slices.Equal(path[:len(identitiesPath)], identitiesPath):
		var m json.RawMessage // a copy of the entry's text
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		// JSON strings hold no raw line breaks or tabs: text without any
		// is compact but for spaces, and kept as it is.
		if !bytes.ContainsAny(m, "\n\r\t") {
			return rawEntry(m), nil
		}
		var b bytes.Buffer
		if err := json.Compact(&b, m); err != nil {
			return nil, err
		}
		return rawEntry(bytes.Clone(b.Bytes())), nil
	}
	var x any
	err := dec.Decode(&x)
	return x, err
}

// decodeObject decodes the members of the object at path, its opening
// brace read, and its closing brace.
func decodeObject(dec *json.Decoder, path []string) (map[string]any, error) {
	obj := make(map[string]any)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("invalid object key %v", tok)
		}
		if obj[key], err = decodeData(dec, append(slices.Clip(path), key)); err != nil {
			return nil, err
		}
	}
	_, err := dec.Token() // the closing brace
	return obj, err
}

// fromTokens decodes the value that starts with tok, a token other than
// an object's opening brace: what a section such as trustgate.identities
// holds when it is not an object (a problem validation reports).
func fromTokens(dec *json.Decoder, tok json.Token) (any, error) {
	if tok != json.Delim('[') {
		return tok, nil
	}
	list := []any{}
	for dec.More() {
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, err
		}
		list = append(list, x)
	}
	_, err := dec.Token() // the closing bracket
	return list, err
}

// entryValue is an identity's value: a rawEntry decoded, anything else as
// it is.
func entryValue(x any) (any, error) {
	return internedEntryValue(x, nil)
}

// internedEntryValue is entryValue with decodeRawEntry's strs.
func internedEntryValue(x any, strs map[string]any) (any, error) {
	raw, ok := x.(rawEntry)
	if !ok {
		return x, nil
	}
	return decodeRawEntry(raw, strs)
}
