package policy

import (
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// maxCachedIdentities bounds the identities a policy keeps as AST between
// evaluations: about 3 KB each, 12 MB at most.
const maxCachedIdentities = 4096

// valueCache keeps the AST values of recently read entries, so that an
// entry read by every exchange is converted once. It holds at most max
// entries (give or take concurrent inserts): when full, it is emptied and
// refills with what is read next. Values are shared and must not be
// modified, as OPA's store values are not.
type valueCache struct {
	m   sync.Map // string → ast.Value
	n   atomic.Int64
	max int64
}

func newValueCache(size int64) *valueCache { return &valueCache{max: size} }

// get returns key's value, building it (and keeping it) when absent.
func (c *valueCache) get(key string, build func() (ast.Value, error)) (ast.Value, error) {
	if v, ok := c.m.Load(key); ok {
		return v.(ast.Value), nil
	}
	v, err := build()
	if err != nil {
		return nil, err
	}
	if c.n.Add(1) > c.max {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(key, v)
	return v, nil
}
