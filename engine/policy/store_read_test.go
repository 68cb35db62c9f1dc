package policy

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// testStore is a dataStore of two identities and their index beside
// providers data.
func testStore(t *testing.T, cached int64) *dataStore {
	t.Helper()
	rest := ast.MustParseTerm(`{"trustgate": {"providers": {"gitlab": {"issuer": "https://gitlab.com"}}}, "other": 1}`)
	return &dataStore{
		Store: inmem.NewFromASTObject(rest.Value.(ast.Object)),
		identities: map[string]*identity{
			"a": {name: "a", data: []byte(`{"email": "a@x", "federations": [{"provider": "gitlab", "refs": ["branch:main"]}]}`)},
			"b": {name: "b", data: []byte(`{"scopes": ["read"]}`)},
		},
		candidates: map[string]any{"built": true, "emails": map[string]any{"a@x": []string{"a"}}},
		cache:      newValueCache(cached),
	}
}

func TestTheStoreReadsEachPathAsTheWholeDataWouldHoldIt(t *testing.T) {
	s := testStore(t, 10)
	identities := `{"a": {"email": "a@x", "federations": [{"provider": "gitlab", "refs": ["branch:main"]}]}, "b": {"scopes": ["read"]}}`
	trustgate := `{"providers": {"gitlab": {"issuer": "https://gitlab.com"}}, "index": {"built": true, "emails": {"a@x": ["a"]}}, "identities": ` + identities + `}`
	tests := []struct {
		name string
		path storage.Path
		want string // "": not found
	}{
		{"An identity is read by its name.", storage.Path{"trustgate", "identities", "b"}, `{"scopes": ["read"]}`},
		{"A value inside an identity is read by its path.", storage.Path{"trustgate", "identities", "a", "federations", "0", "refs", "0"}, `"branch:main"`},
		{"An identity no one defined is not found.", storage.Path{"trustgate", "identities", "nobody"}, ""},
		{"A key an identity does not have is not found.", storage.Path{"trustgate", "identities", "b", "email"}, ""},
		{"An index past a list's end is not found.", storage.Path{"trustgate", "identities", "a", "federations", "1"}, ""},
		{"An index that is not a number is not found.", storage.Path{"trustgate", "identities", "a", "federations", "x"}, ""},
		{"A path through a string is not found.", storage.Path{"trustgate", "identities", "a", "email", "x"}, ""},
		{"Every identity is read as one object.", storage.Path{"trustgate", "identities"}, identities},
		{"data.trustgate holds the identities beside the stored data.", storage.Path{"trustgate"}, trustgate},
		{"data holds them too.", storage.Path{}, `{"other": 1, "trustgate": ` + trustgate + `}`},
		{"An entry of the index is read alone.", storage.Path{"trustgate", "index", "emails", "a@x"}, `["a"]`},
		{"A name in an entry of the index is read by its place.", storage.Path{"trustgate", "index", "emails", "a@x", "0"}, `"a"`},
		{"A scalar of the index is read.", storage.Path{"trustgate", "index", "built"}, `true`},
		{"An entry the index does not have is not found.", storage.Path{"trustgate", "index", "emails", "b@x"}, ""},
		{"A place past an entry's end is not found.", storage.Path{"trustgate", "index", "emails", "a@x", "1"}, ""},
		{"A path through a scalar of the index is not found.", storage.Path{"trustgate", "index", "built", "x"}, ""},
		{"The index is read whole.", storage.Path{"trustgate", "index"}, `{"built": true, "emails": {"a@x": ["a"]}}`},
		{"Other data is read from the AST store.", storage.Path{"trustgate", "providers", "gitlab", "issuer"}, `"https://gitlab.com"`},
		{"A top-level key other than trustgate is left as stored.", storage.Path{"other"}, `1`},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			txn := storage.NewTransactionOrDie(ctx, s)
			defer s.Abort(ctx, txn)
			got, err := s.Read(ctx, txn, tt.path)
			if tt.want == "" {
				if !storage.IsNotFound(err) {
					t.Fatalf("Read = %v, %v; want not found", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := ast.MustParseTerm(tt.want).Value; ast.Compare(got, want) != 0 {
				t.Fatalf("Read = %v\nwant %v", got, want)
			}
		})
	}
}

func TestTheStoreKeepsAtMostItsBoundOfIdentitiesAsAST(t *testing.T) {
	s := testStore(t, 1)
	ctx := context.Background()
	txn := storage.NewTransactionOrDie(ctx, s)
	defer s.Abort(ctx, txn)
	for _, name := range []string{"a", "b", "a", "b"} {
		if _, err := s.Read(ctx, txn, storage.Path{"trustgate", "identities", name}); err != nil {
			t.Fatal(err)
		}
		kept := 0
		s.cache.m.Range(func(any, any) bool { kept++; return true })
		if _, ok := s.cache.m.Load(name); kept != 1 || !ok {
			t.Fatalf("after reading %s the cache holds %d values (want 1: %s's)", name, kept, name)
		}
	}
}

func TestAnIdentityReadTwiceIsTheSameValue(t *testing.T) {
	s := testStore(t, 10)
	ctx := context.Background()
	txn := storage.NewTransactionOrDie(ctx, s)
	defer s.Abort(ctx, txn)
	path := storage.Path{"trustgate", "identities", "a"}
	first, err := s.Read(ctx, txn, path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Read(ctx, txn, path)
	if err != nil {
		t.Fatal(err)
	}
	if first.(ast.Object) != second.(ast.Object) {
		t.Fatal("the second read built the identity again")
	}
}

// Run with -race: a full cache is emptied while other reads fill it.
func TestConcurrentReadsThroughAFullCacheReadEveryIdentityRight(t *testing.T) {
	s := testStore(t, 1)
	ctx := context.Background()
	want := map[string]ast.Value{
		"a": ast.MustParseTerm(`{"email": "a@x", "federations": [{"provider": "gitlab", "refs": ["branch:main"]}]}`).Value,
		"b": ast.MustParseTerm(`{"scopes": ["read"]}`).Value,
	}
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for i := range 200 {
		name := []string{"a", "b"}[i%2]
		wg.Go(func() {
			txn := storage.NewTransactionOrDie(ctx, s)
			defer s.Abort(ctx, txn)
			got, err := s.Read(ctx, txn, storage.Path{"trustgate", "identities", name})
			if err != nil || ast.Compare(got, want[name]) != 0 {
				errs <- fmt.Sprintf("Read %s = %v, %v", name, got, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
