package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// isConsolePath is a path served only with the console.
func isConsolePath(path string) bool {
	return path == "/console" || strings.HasPrefix(path, console.PathPrefix) || path == "/.well-known/trustgate-console"
}

// settingsFunc is a server.ConsoleSettings whose console is built after
// the server.
type settingsFunc func(context.Context) (console.CLISettings, error)

func (f settingsFunc) CLISettings(ctx context.Context) (console.CLISettings, error) { return f(ctx) }

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
		if slices.Contains(methods, http.MethodGet) != slices.Contains(methods, http.MethodHead) {
			t.Errorf("route %s answers %v: the document says every GET also answers HEAD, and only a GET", path, methods)
		}
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
	var (
		handler http.Handler
		cons    *console.Console
	)
	e := newJITServer(t, alwaysWorking, func(o *Options) {
		o.Server = func(c *server.Config) {
			c.Console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) })
			c.ConsoleSettings = settingsFunc(func(ctx context.Context) (console.CLISettings, error) { return cons.CLISettings(ctx) })
		}
	})
	c, err := console.New(console.Config{Engine: e.Engine, Issuer: e.Corp.URL(), ClientID: "trustgate-console",
		ClientSecret: "console-secret", RedirectURL: e.URL + "/console/callback", SessionKey: make([]byte, console.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	handler, cons = c.Handler(), c // set before the first request
	return e
}

// probe sends method to path, its {id}, {action} and {file} filled in,
// without credentials, with body as JSON ("": none), and does not follow
// redirects.
func probe(t *testing.T, e *jitEnv, method, path, body string) *http.Response {
	t.Helper()
	path = strings.NewReplacer("{id}", "aaaaaaaaaaaaaaaaaaaaaaaaaa", "{action}", "approve", "{file}", "console.css").Replace(path)
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
// serve. Without credentials no handler gets as far as its own 404 (an
// unknown request id): the API asks for a token first, the console's pages
// for a sign-in.
func served(resp *http.Response) bool {
	return resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
}

func TestEveryDocumentedOperationIsServed(t *testing.T) {
	e := withConsole(t)
	for path, methods := range documented(loadOpenAPI(t)) {
		for _, m := range methods {
			if resp := probe(t, e, m, path, ""); !served(resp) {
				t.Errorf("docs/openapi.yaml documents %s %s; the server answers %d", m, path, resp.StatusCode)
			}
		}
	}
	// The probe can fail: what is not documented is not served.
	for _, op := range [][2]string{{"GET", "/v1/nothing"}, {"GET", "/console/nothing"}, {"DELETE", "/v1/access/requests/{id}"},
		{"GET", "/console/requests/{id}/approve"}, {"GET", "/oauth2/token"}} {
		if resp := probe(t, e, op[0], op[1], ""); served(resp) {
			t.Errorf("%s %s is not documented, yet the server answers %d", op[0], op[1], resp.StatusCode)
		}
	}
}

// resolve follows $ref (local ones, as the document has) to an object.
func (c *contract) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			break
		}
		next, _ := c.at(strings.TrimPrefix(ref, "#"))
		m, _ = next.(map[string]any)
	}
	return m
}

// minimalBody is the operation's JSON request body with each required
// property "x" ("" when it takes no JSON body).
func (c *contract) minimalBody(op map[string]any) string {
	body := c.resolve(op["requestBody"])
	content, _ := body["content"].(map[string]any)
	media := c.resolve(content["application/json"])
	if media == nil {
		return ""
	}
	schema := c.resolve(media["schema"])
	required, _ := schema["required"].([]any)
	fields := make([]string, len(required))
	for i, name := range required {
		fields[i] = `"` + fmt.Sprint(name) + `": "x"`
	}
	return "{" + strings.Join(fields, ", ") + "}"
}

// bearerOnly reports whether every security requirement of op names an
// HTTP bearer scheme.
func (c *contract) bearerOnly(op map[string]any) bool {
	reqs, _ := op["security"].([]any)
	for _, r := range reqs {
		names, _ := r.(map[string]any)
		if len(names) == 0 {
			return false
		}
		for name := range names {
			if c.resolve(c.doc["components"].(map[string]any)["securitySchemes"].(map[string]any)[name])["scheme"] != "bearer" {
				return false
			}
		}
	}
	return len(reqs) > 0
}

// TestEveryBearerOperationRefusesACallWithoutAToken holds the document's
// security schemes to the server: an operation that requires a bearer
// token answers a well-formed call without one 401 with a Bearer
// challenge.
func TestEveryBearerOperationRefusesACallWithoutAToken(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	c := newContract(t, loadOpenAPI(t))
	checked := 0
	for path, item := range c.doc["paths"].(map[string]any) {
		for _, m := range operationMethods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok || !c.bearerOnly(op) || isConsolePath(path) {
				continue
			}
			checked++
			resp := probe(t, e, strings.ToUpper(m), path, c.minimalBody(op))
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s %s without a token: %d, WWW-Authenticate %q; want 401 with a Bearer challenge",
					strings.ToUpper(m), path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if checked < 8 {
		t.Fatalf("%d operations require a bearer token; want whoami and the 7 just-in-time ones", checked)
	}
}

// unknownField is how the server's strict JSON decoder refuses a field.
const unknownField = "the request body has a field this endpoint does not know"

// fullBody is the operation's JSON request body with every documented
// property set to a value of its type ("" when it takes no JSON body).
func (c *contract) fullBody(t *testing.T, op map[string]any) string {
	t.Helper()
	content, _ := c.resolve(op["requestBody"])["content"].(map[string]any)
	media := c.resolve(content["application/json"])
	if media == nil {
		return ""
	}
	props, _ := c.resolve(media["schema"])["properties"].(map[string]any)
	body := map[string]any{}
	for name, p := range props {
		switch typ := c.resolve(p)["type"]; typ {
		case "string":
			body[name] = "read"
		case "array":
			body[name] = []string{"read"}
		default:
			t.Fatalf("property %s of a request body has type %v, which this test cannot fill", name, typ)
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTheServerKnowsEveryDocumentedJSONFieldAndNoOther holds the JSON
// request schemas to the server's strict decoder: a body with every
// documented property is not refused for an unknown field, and a body
// with an undocumented one is.
func TestTheServerKnowsEveryDocumentedJSONFieldAndNoOther(t *testing.T) {
	e := newJITServer(t, alwaysWorking, nil)
	c := newContract(t, loadOpenAPI(t))
	checked := 0
	for path, item := range c.doc["paths"].(map[string]any) {
		for _, m := range operationMethods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			body := c.fullBody(t, op)
			if body == "" {
				continue
			}
			checked++
			method := strings.ToUpper(m)
			if r := probeJSON(t, e, method, path, body); r.body["error_description"] == unknownField {
				t.Errorf("%s %s refuses a documented field: %s", method, path, body)
			}
			if r := probeJSON(t, e, method, path, `{"undocumented": "x"}`); r.body["error_description"] != unknownField {
				t.Errorf("%s %s with an undocumented field: %d %s", method, path, r.status, r.raw)
			}
		}
	}
	if checked < 6 {
		t.Fatalf("%d operations take a JSON body; want the JSON exchange, filing a request and its 4 actions", checked)
	}
}

// probeJSON posts body to path (its {id} filled in) without credentials.
func probeJSON(t *testing.T, e *jitEnv, method, path, body string) response {
	t.Helper()
	path = strings.ReplaceAll(path, "{id}", "aaaaaaaaaaaaaaaaaaaaaaaaaa")
	req, err := http.NewRequestWithContext(t.Context(), method, e.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req)
}
