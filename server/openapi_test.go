package server_test

import (
	"bytes"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/trustgate/trustgate/server"
	"github.com/trustgate/trustgate/server/console"
)

// openAPIPath is the document client authors generate from.
const openAPIPath = "../docs/openapi.yaml"

// operationMethods are the OpenAPI 3.1 path item keys that are operations.
var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI reads docs/openapi.yaml as JSON values (numbers as
// json.Number, as the schema validator wants them).
func loadOpenAPI(t testing.TB) map[string]any {
	t.Helper()
	y, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := v.(map[string]any)
	if !ok || doc["openapi"] != "3.1.0" {
		t.Fatalf("docs/openapi.yaml is not an OpenAPI 3.1.0 document: openapi = %v", doc["openapi"])
	}
	return doc
}

// documented is each documented path with its operations' methods, sorted
// and upper-case.
func documented(doc map[string]any) map[string][]string {
	out := map[string][]string{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range operationMethods {
			if _, ok := ops[m]; ok {
				out[path] = append(out[path], strings.ToUpper(m))
			}
		}
		sort.Strings(out[path])
	}
	return out
}

// isConsolePath is a path the console serves, not the API router.
func isConsolePath(path string) bool {
	return path == "/console" || strings.HasPrefix(path, console.PathPrefix)
}

// withoutHead drops HEAD, which every GET answers and the document leaves
// implicit.
func withoutHead(methods []string) []string {
	out := slices.DeleteFunc(slices.Clone(methods), func(m string) bool { return m == http.MethodHead })
	sort.Strings(out)
	return out
}

func TestOpenAPIDocumentsEveryRouteOfTheRouterWithItsMethods(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	routes := e.Server.RouteMethods()
	docs := documented(loadOpenAPI(t))
	if _, ok := routes["/metrics"]; !ok || len(routes) < 15 {
		t.Fatalf("the router lists %d routes, without /metrics or the just-in-time API: the test server is not the whole server", len(routes))
	}
	for path, methods := range routes {
		if got := docs[path]; !slices.Equal(got, withoutHead(methods)) {
			t.Errorf("route %s answers %v; docs/openapi.yaml documents %v", path, withoutHead(methods), got)
		}
	}
	for path, methods := range docs {
		if _, ok := routes[path]; !ok && !isConsolePath(path) {
			t.Errorf("docs/openapi.yaml documents %s %v, which the router does not serve", path, methods)
		}
	}
}

// withConsole starts the whole server with the approval console, which
// signs in at the corp issuer.
func withConsole(t *testing.T) *jitEnv {
	t.Helper()
	var handler http.Handler
	e := newJITServer(t, alwaysWorking, func(o *Options) {
		o.Server = func(c *server.Config) {
			c.Console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
		}
	})
	c, err := console.New(console.Config{Engine: e.Engine, Issuer: e.Corp.URL(), ClientID: "trustgate-console",
		ClientSecret: "console-secret", RedirectURL: e.URL + "/console/callback", SessionKey: make([]byte, console.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	handler = c.Handler() // set before the first request
	return e
}

// probe sends method to path, its {id}, {action} and {file} filled in,
// without credentials or body, and does not follow redirects.
func probe(t *testing.T, e *jitEnv, method, path string) *http.Response {
	t.Helper()
	path = strings.NewReplacer("{id}", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "{action}", "approve", "{file}", "console.css").Replace(path)
	req, err := http.NewRequest(method, e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := *e.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// served reports whether a response came from a route's handler rather
// than from the router's or the console's 404 and 405 for what they do not
// serve. A handler's own 404 (an unknown request id) is not one: the API's
// carries a decision id, and the console's pages ask to sign in first.
func served(resp *http.Response) bool {
	return resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
}

func TestEveryDocumentedOperationIsServed(t *testing.T) {
	e := withConsole(t)
	for path, methods := range documented(loadOpenAPI(t)) {
		for _, m := range methods {
			if resp := probe(t, e, m, path); !served(resp) {
				t.Errorf("docs/openapi.yaml documents %s %s; the server answers %d", m, path, resp.StatusCode)
			}
		}
	}
	// The probe can fail: what is not documented is not served.
	for _, op := range [][2]string{{"GET", "/v1/nothing"}, {"GET", "/console/nothing"}, {"DELETE", "/v1/access/requests/{id}"},
		{"GET", "/console/requests/{id}/approve"}, {"GET", "/oauth2/token"}} {
		if resp := probe(t, e, op[0], op[1]); served(resp) {
			t.Errorf("%s %s is not documented, yet the server answers %d", op[0], op[1], resp.StatusCode)
		}
	}
}
