package server_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// routerResponses are the golden responses that come from the router
// itself, for a path or method no route has: the document describes them
// once, under components/responses.
var routerResponses = map[string]string{
	"GET /no/such/path": "/components/responses/NotServed",
	"GET /oauth2/token": "/components/responses/MethodNotAllowed",
}

// tokenSchemas are the schemas of the issued token's golden parts.
var tokenSchemas = map[string]string{
	"-header.json": "/components/schemas/IssuedTokenHeader",
	"-claims.json": "/components/schemas/IssuedTokenClaims",
}

// headersOutsideSchemas are the response headers every JSON response
// carries; the document names them where they matter, not on every
// response.
var headersOutsideSchemas = map[string]bool{"Cache-Control": true, "Content-Type": true, "Pragma": true}

// contract is docs/openapi.yaml, ready to check golden files against.
type contract struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
}

func newContract(t testing.TB, doc map[string]any) *contract {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020) // OpenAPI 3.1's schema dialect
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return &contract{doc: doc, compiler: c}
}

// at is the value at a JSON pointer of the document.
func (c *contract) at(pointer string) (any, error) {
	var v any = c.doc
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := v.(map[string]any)
		if !ok || m[tok] == nil {
			return nil, fmt.Errorf("docs/openapi.yaml has nothing at %s", pointer)
		}
		v = m[tok]
	}
	return v, nil
}

// escape is a JSON pointer token (RFC 6901).
func escape(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }

// response is the pointer of the response object an operation gives for
// status (or its default), its $ref followed.
func (c *contract) response(operation string, status int) (string, map[string]any, error) {
	ptr, ok := routerResponses[operation]
	if !ok {
		method, path, _ := strings.Cut(operation, " ")
		ptr = "/paths/" + escape(path) + "/" + strings.ToLower(method) + "/responses/"
		if v, _ := c.at(ptr + strconv.Itoa(status)); v != nil {
			ptr += strconv.Itoa(status)
		} else {
			ptr += "default"
		}
	}
	v, err := c.at(ptr)
	for err == nil {
		m, _ := v.(map[string]any)
		ref, isRef := m["$ref"].(string)
		if !isRef {
			return ptr, m, nil
		}
		ptr = strings.TrimPrefix(ref, "#")
		v, err = c.at(ptr)
	}
	return "", nil, fmt.Errorf("%s answering %d: %w", operation, status, err)
}

// validate checks v against the schema at pointer.
func (c *contract) validate(pointer string, v any) error {
	sch, err := c.compiler.Compile("openapi.json#" + pointer)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", pointer, err)
	}
	return sch.Validate(v)
}

// checkRecord holds a golden HTTP exchange against the document: the
// operation answers its status, declares each header it carries, and its
// body is valid against the response's JSON schema (or it has none).
func (c *contract) checkRecord(rec map[string]any) error {
	op, _ := rec["operation"].(string)
	status, err := strconv.Atoi(fmt.Sprint(rec["status"]))
	if err != nil {
		return fmt.Errorf("status %v", rec["status"])
	}
	ptr, resp, err := c.response(op, status)
	if err != nil {
		return err
	}
	declared, _ := resp["headers"].(map[string]any)
	headers, _ := rec["headers"].(map[string]any)
	var errs []error
	for h := range headers {
		if _, ok := declared[h]; !ok && !headersOutsideSchemas[h] {
			errs = append(errs, fmt.Errorf("%s answering %d carries %s, which %s does not declare", op, status, h, ptr))
		}
	}
	body, hasBody := rec["body"]
	content, _ := resp["content"].(map[string]any)
	switch _, jsonBody := content["application/json"]; {
	case hasBody && !jsonBody:
		errs = append(errs, fmt.Errorf("%s answering %d has a JSON body %s does not describe", op, status, ptr))
	case !hasBody && jsonBody:
		errs = append(errs, fmt.Errorf("%s answering %d has no body, yet %s describes one", op, status, ptr))
	case hasBody:
		if err := c.validate(ptr+"/content/application~1json/schema", body); err != nil {
			errs = append(errs, fmt.Errorf("%s answering %d: %w", op, status, err))
		}
	}
	return errors.Join(errs...)
}

// checkGoldenFile holds one golden file against the document.
func (c *contract) checkGoldenFile(name string, v any) error {
	if strings.HasPrefix(name, "token/") {
		for suffix, ptr := range tokenSchemas {
			if strings.HasSuffix(name, suffix) {
				return c.validate(ptr, v)
			}
		}
		return fmt.Errorf("%s: no schema for this part of the token", name)
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s is not a golden HTTP exchange", name)
	}
	return c.checkRecord(rec)
}

// readGoldens is every golden file by its name under testdata/golden.
func readGoldens(t testing.TB) map[string]any {
	t.Helper()
	out := map[string]any{}
	err := filepath.WalkDir(goldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }() // read only
		v, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rel, _ := filepath.Rel(goldenDir, path)
		out[filepath.ToSlash(rel)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGoldenResponsesAreValidAgainstTheOpenAPISchemas(t *testing.T) {
	c := newContract(t, loadOpenAPI(t))
	goldens := readGoldens(t)
	if len(goldens) < 50 {
		t.Fatalf("%d golden files under testdata/golden; run go test ./server -run Golden -update", len(goldens))
	}
	for name, v := range goldens {
		if err := c.checkGoldenFile(name, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestTheSchemaCheckFailsWhenTheDocumentAndAGoldenFileDisagree shows the
// check above can fail: each case breaks the document or a golden file in
// memory and expects a complaint.
func TestTheSchemaCheckFailsWhenTheDocumentAndAGoldenFileDisagree(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		breakd func(doc map[string]any, golden map[string]any)
	}{
		{"A field of a golden response missing from its schema is refused.", "exchange/rfc8693.json",
			func(doc, _ map[string]any) { deleteAt(t, doc, "components/schemas/TokenResponse/properties", "scope") }},
		{"A golden response without a required field is refused.", "exchange/json.json",
			func(_, g map[string]any) { delete(g["body"].(map[string]any), "expiresIn") }},
		{"A field of the just-in-time request missing from its schema is refused.", "access/approved.json",
			func(doc, _ map[string]any) { deleteAt(t, doc, "components/schemas/AccessRequest/properties", "ticket") }},
		{"An error code the schema does not list is refused.", "errors/access-conflict.json",
			func(_, g map[string]any) { g["body"].(map[string]any)["error"] = "state_conflict" }},
		{"A claim of the issued token missing from its schema is refused.", "token/grant-claims.json",
			func(doc, _ map[string]any) {
				deleteAt(t, doc, "components/schemas/IssuedTokenClaims/properties", "grant")
			}},
		{"A header the response does not declare is refused.", "errors/token-slow-down.json",
			func(doc, _ map[string]any) { deleteAt(t, doc, "components/responses/SlowDown", "headers") }},
		{"A status the operation does not document is refused.", "errors/whoami-state-unavailable.json",
			func(doc, _ map[string]any) { deleteAt(t, doc, "paths/~1v1~1whoami/get/responses", "503") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := loadOpenAPI(t)
			golden := readGoldens(t)[tc.golden]
			if golden == nil {
				t.Fatalf("no golden file %s", tc.golden)
			}
			if err := newContract(t, doc).checkGoldenFile(tc.golden, golden); err != nil {
				t.Fatalf("before breaking anything: %v", err)
			}
			g, _ := golden.(map[string]any)
			tc.breakd(doc, g)
			if err := newContract(t, doc).checkGoldenFile(tc.golden, golden); err == nil {
				t.Fatal("the broken document or golden file passed the check")
			}
		})
	}
}

// deleteAt deletes key from the object at pointer (no leading slash).
func deleteAt(t *testing.T, doc map[string]any, pointer, key string) {
	t.Helper()
	v, err := (&contract{doc: doc}).at("/" + pointer)
	m, ok := v.(map[string]any)
	if err != nil || !ok || m[key] == nil {
		t.Fatalf("docs/openapi.yaml has no %s at %s: %v", key, pointer, err)
	}
	delete(m, key)
}

// TestEveryOpenAPISchemaIsAValidJSONSchema holds each schema of
// components/schemas to JSON Schema 2020-12's metaschema, and the whole
// document to having no null value: a YAML slip (a comma in an unquoted
// description of a flow mapping) makes a key with a null value.
func TestEveryOpenAPISchemaIsAValidJSONSchema(t *testing.T) {
	meta, err := jsonschema.NewCompiler().Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadOpenAPI(t)
	schemas, _ := (&contract{doc: doc}).at("/components/schemas")
	all, _ := schemas.(map[string]any)
	if len(all) < 20 {
		t.Fatalf("docs/openapi.yaml has %d schemas", len(all))
	}
	for name, s := range all {
		if err := meta.Validate(s); err != nil {
			t.Errorf("components/schemas/%s: %v", name, err)
		}
	}
	for _, ptr := range nulls(doc, "") {
		t.Errorf("docs/openapi.yaml has null at %s", ptr)
	}
	slip := map[string]any{"name": map[string]any{"type": "string", "description": "the email", "to show.": nil}}
	if got := nulls(slip, ""); len(got) != 1 || got[0] != "/name/to show." {
		t.Fatalf("nulls finds %v in a slipped description, want /name/to show.", got)
	}
}

// nulls are the JSON pointers of the null values in v.
func nulls(v any, at string) []string {
	var out []string
	switch v := v.(type) {
	case nil:
		return []string{at}
	case map[string]any:
		for k, x := range v {
			out = append(out, nulls(x, at+"/"+escape(k))...)
		}
	case []any:
		for i, x := range v {
			out = append(out, nulls(x, at+"/"+strconv.Itoa(i))...)
		}
	}
	return out
}

// TestEveryDocumentedErrorCodeHasAGoldenResponse: the Error schema's codes
// are exactly those of the golden error responses, so a code the server
// gains needs both a golden file and the document.
func TestEveryDocumentedErrorCodeHasAGoldenResponse(t *testing.T) {
	c := newContract(t, loadOpenAPI(t))
	enum, err := c.at("/components/schemas/Error/properties/error/enum")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, code := range enum.([]any) {
		documented[fmt.Sprint(code)] = true
	}
	pinned := map[string]bool{}
	for name, v := range readGoldens(t) {
		rec, _ := v.(map[string]any)
		body, _ := rec["body"].(map[string]any)
		if code, ok := body["error"].(string); ok {
			pinned[code] = true
			if !documented[code] {
				t.Errorf("%s answers error %q, which the Error schema does not list", name, code)
			}
		}
	}
	for code := range documented {
		if !pinned[code] {
			t.Errorf("the Error schema lists %q, which no golden response under testdata/golden shows", code)
		}
	}
}
