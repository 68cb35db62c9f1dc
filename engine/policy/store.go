package policy

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/util"
)

// identitiesKey is where the identities sit in the data the library reads:
// data.trustgate.identities.
const identitiesKey = "identities"

// errNotFound is what Read answers for a path that holds no document;
// evaluation treats it as undefined.
var errNotFound = &storage.Error{Code: storage.NotFoundErr, Message: "document missing"}

// dataStore is the store the library's queries read. OPA's in-memory store
// holds the bundles' data as AST values shared by every evaluation, except
// data.trustgate.identities and data.trustgate.index: as AST those take
// about 3 KB per identity (300 MB for 100,000). The store serves them from
// the engine's own index instead, building only the identity or index
// entry an evaluation reads (data.trustgate.identities[name] with name
// bound is one identity). A read of a whole (data, data.trustgate,
// data.trustgate.identities: explain naming no identity, a bundle rule that
// iterates them) builds every identity, costly but the same document.
type dataStore struct {
	storage.Store // the rest of the data, as AST; read-only once prepared
	identities    map[string]*identity
	candidates    map[string]any // data.trustgate.index, as candidateIndex built it
	cache         *valueCache    // identities recently read, as AST
}

// Read reads the document at path: from the engine's index under
// data.trustgate.identities and data.trustgate.index, from the AST store
// elsewhere, with both added to a read of data or data.trustgate.
func (s *dataStore) Read(ctx context.Context, txn storage.Transaction, path storage.Path) (any, error) {
	if len(path) >= 2 && path[0] == "trustgate" {
		switch path[1] {
		case identitiesKey:
			return s.readIdentities(path[2:])
		case indexKey:
			return readGo(s.candidates, path[2:])
		}
	}
	v, err := s.Store.Read(ctx, txn, path)
	if err != nil || len(path) > 1 || (len(path) == 1 && path[0] != "trustgate") {
		return v, err
	}
	return s.withLazy(v, len(path) == 0)
}

// readIdentities reads below data.trustgate.identities: one identity when
// path names one, else all of them.
func (s *dataStore) readIdentities(path storage.Path) (any, error) {
	if len(path) == 0 {
		return s.allIdentities()
	}
	id, ok := s.identities[path[0]]
	if !ok {
		return nil, errNotFound
	}
	v, err := s.cache.get(id.name, func() (ast.Value, error) { return identityValue(id) })
	if err != nil {
		return nil, err
	}
	return find(v, path[1:])
}

// allIdentities builds data.trustgate.identities whole, bypassing the cache
// (which it would only flush).
func (s *dataStore) allIdentities() (ast.Value, error) {
	obj := ast.NewObjectWithCapacity(len(s.identities))
	for name, id := range s.identities {
		v, err := identityValue(id)
		if err != nil {
			return nil, err
		}
		obj.Insert(ast.StringTerm(name), ast.NewTerm(v))
	}
	return obj, nil
}

// withLazy is a read of data (root) or data.trustgate with the identities
// and the index put back in their place.
func (s *dataStore) withLazy(v any, root bool) (any, error) {
	top, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("%w: the stored data is %T, not an object", ErrEvaluation, v)
	}
	tg := top
	if root {
		t := top.Get(ast.InternedTerm("trustgate"))
		if t != nil {
			tg, ok = t.Value.(ast.Object)
		}
		if !ok || t == nil {
			return nil, fmt.Errorf("%w: the stored data.trustgate is not an object", ErrEvaluation)
		}
	}
	ids, err := s.allIdentities()
	if err != nil {
		return nil, err
	}
	index, err := ast.InterfaceToValue(s.candidates)
	if err != nil {
		return nil, err
	}
	tg = tg.Copy()
	tg.Insert(ast.InternedTerm(identitiesKey), ast.NewTerm(ids))
	tg.Insert(ast.InternedTerm(indexKey), ast.NewTerm(index))
	if !root {
		return tg, nil
	}
	top = top.Copy()
	top.Insert(ast.InternedTerm("trustgate"), ast.NewTerm(tg))
	return top, nil
}

// identityValue is an identity's data as AST, from the JSON kept of it.
func identityValue(id *identity) (ast.Value, error) {
	var x any
	if err := util.NewJSONDecoder(bytes.NewReader(id.data)).Decode(&x); err != nil {
		return nil, fmt.Errorf("identity %s: %w", id.name, err)
	}
	return ast.InterfaceToValue(x)
}

// readGo reads path in x, a value as candidateIndex builds them (mappings,
// lists of strings, strings, booleans), as AST: only what path leads to is
// converted.
func readGo(x any, path storage.Path) (ast.Value, error) {
	for _, k := range path {
		switch v := x.(type) {
		case map[string]any:
			var ok bool
			if x, ok = v[k]; !ok {
				return nil, errNotFound
			}
		case []string:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(v) {
				return nil, errNotFound
			}
			x = v[i]
		default:
			return nil, errNotFound
		}
	}
	return ast.InterfaceToValue(x)
}

// find walks path down v: object keys, array indexes.
func find(v ast.Value, path storage.Path) (ast.Value, error) {
	for _, k := range path {
		switch x := v.(type) {
		case ast.Object:
			t := x.Get(ast.StringTerm(k))
			if t == nil {
				return nil, errNotFound
			}
			v = t.Value
		case *ast.Array:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= x.Len() {
				return nil, errNotFound
			}
			v = x.Elem(i).Value
		default:
			return nil, errNotFound
		}
	}
	return v, nil
}
