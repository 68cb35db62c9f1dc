package policy

import (
	"fmt"
	"slices"
	"strings"
)

// merged is the data of every bundle in one tree, with the file each key
// came from.
type merged struct {
	data map[string]any
	// owners maps a dotted key path to the first file that defined it:
	// every provider and identity, and every key above them.
	owners map[string]string
}

// mergeData merges the data files of every bundle, in order, as OPA would
// merge them within one bundle: mappings merge key by key. A provider or an
// identity is one entry: defining the same name twice (in two bundles, or
// two files of one) is a problem naming both files; so is any other key
// given two values that are not both mappings.
func mergeData(sources []*source) (*merged, []Problem) {
	m := &merged{data: make(map[string]any), owners: make(map[string]string)}
	var problems []Problem
	for _, src := range sources {
		for _, df := range src.data {
			root := df.value
			for i := len(df.prefix) - 1; i >= 0; i-- {
				root = map[string]any{df.prefix[i]: root}
			}
			obj, ok := root.(map[string]any)
			if !ok {
				continue // parseDataFile refused it
			}
			problems = m.merge(m.data, obj, nil, df.file, problems)
		}
	}
	return m, problems
}

func (m *merged) merge(dst, src map[string]any, path []string, file string, problems []Problem) []Problem {
	for _, k := range sortedKeys(src) {
		v := src[k]
		p := append(slices.Clip(path), k)
		key := strings.Join(p, ".")
		if isEntry(p) {
			if prev, dup := m.owners[key]; dup {
				problems = append(problems, Problem{File: file, Key: key, Message: fmt.Sprintf("%s is defined in both %s and %s", entryKind(p), prev, file)})
				continue
			}
			dst[k], m.owners[key] = v, file
			continue
		}
		existing, has := dst[k]
		sub, srcIsMap := v.(map[string]any)
		if !has {
			m.owners[key] = file
			if srcIsMap && isSection(p) {
				// Descend so that every provider and identity below gets
				// its owner recorded.
				fresh := make(map[string]any, len(sub))
				dst[k] = fresh
				problems = m.merge(fresh, sub, p, file, problems)
				continue
			}
			dst[k] = v
			continue
		}
		if dstMap, ok := existing.(map[string]any); ok && srcIsMap {
			problems = m.merge(dstMap, sub, p, file, problems)
			continue
		}
		problems = append(problems, Problem{File: file, Key: key, Message: fmt.Sprintf("defined in both %s and %s", m.owners[key], file)})
	}
	return problems
}

// isSection reports whether p is trustgate, trustgate.providers or
// trustgate.identities: the mappings that hold entries.
func isSection(p []string) bool {
	switch len(p) {
	case 1:
		return p[0] == "trustgate"
	case 2:
		return p[0] == "trustgate" && (p[1] == "providers" || p[1] == "identities")
	}
	return false
}

// isEntry reports whether p is one provider or one identity.
func isEntry(p []string) bool {
	return len(p) == 3 && isSection(p[:2])
}

func entryKind(p []string) string {
	if p[1] == "providers" {
		return "provider " + p[2]
	}
	return "identity " + p[2]
}

// owner is the file that defined key, or an enclosing key.
func (m *merged) owner(key string) string {
	for k := key; k != ""; {
		if f, ok := m.owners[k]; ok {
			return f
		}
		i := strings.LastIndex(k, ".")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return ""
}
