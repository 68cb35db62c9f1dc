package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// update rewrites the golden files under testdata/golden instead of
// comparing with them: go test ./server -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/golden/ from what the server answers")

// goldenDir is testdata/golden at the repository's root, seen from server/.
const goldenDir = "../testdata/golden"

// goldenHeaders are the response headers a golden exchange pins; the
// others (Date, Content-Length) vary or say nothing about the contract.
var goldenHeaders = []string{"Allow", "Cache-Control", "Content-Type", "Location", "Pragma", "Retry-After", "WWW-Authenticate"}

// exchangeRecord is one golden file of an HTTP exchange: the operation
// (the method and the route's path template, as docs/openapi.yaml names
// it), and the response, normalised.
type exchangeRecord struct {
	Operation string            `json:"operation"`
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      any               `json:"body,omitempty"`
}

// normaliser turns what varies from run to run into placeholders that
// keep each value's JSON type: the test servers' random loopback URLs
// become fixed *.test URLs, ids and keys become <name> strings, RFC 3339
// times become <time>, and unix times become 1700000000 plus their offset
// from the iat of the same object (so lifetimes stay pinned).
type normaliser struct {
	aliases []string // old, new pairs for strings.NewReplacer, longest old first
}

// alias replaces every occurrence of value (in any string and header) by
// placeholder.
func (n *normaliser) alias(value, placeholder string) {
	n.aliases = append(n.aliases, value, placeholder)
}

func (n *normaliser) replacer() *strings.Replacer {
	pairs := make([][2]string, 0, len(n.aliases)/2)
	for i := 0; i+1 < len(n.aliases); i += 2 {
		pairs = append(pairs, [2]string{n.aliases[i], n.aliases[i+1]})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
	flat := make([]string, 0, len(n.aliases))
	for _, p := range pairs {
		flat = append(flat, p[0], p[1])
	}
	return strings.NewReplacer(flat...)
}

var (
	rfc3339    = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
	decisionID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// placeholders are the fields whose value is replaced wherever they occur.
var placeholders = map[string]string{
	"jti": "<jti>", "kid": "<kid>", "x": "<x>", "y": "<y>", "n": "<n>",
	"access_token": "<access-token>", "accessToken": "<access-token>",
	"revision": "<revision>",
}

// unixTimes are the numeric claims of seconds since the epoch.
var unixTimes = []string{"iat", "nbf", "exp"}

// value normalises one decoded JSON value.
func (n *normaliser) value(v any, r *strings.Replacer) any {
	switch v := v.(type) {
	case string:
		if rfc3339.MatchString(v) {
			return "<time>"
		}
		return decisionID.ReplaceAllString(r.Replace(v), "<decision-id>")
	case []any:
		for i := range v {
			v[i] = n.value(v[i], r)
		}
	case map[string]any:
		n.object(v, r)
	}
	return v
}

func (n *normaliser) object(m map[string]any, r *strings.Replacer) {
	if iat, ok := m["iat"].(json.Number); ok {
		base, _ := iat.Int64()
		for _, k := range unixTimes {
			if t, ok := m[k].(json.Number); ok {
				sec, _ := t.Int64()
				m[k] = json.Number(strconv.FormatInt(1700000000+sec-base, 10))
			}
		}
	}
	for k, v := range m {
		if p, ok := placeholders[k]; ok {
			if _, isString := v.(string); isString {
				m[k] = p
				continue
			}
		}
		m[k] = n.value(v, r)
	}
}

// normalise decodes raw JSON and normalises it.
func (n *normaliser) normalise(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	return n.value(v, n.replacer())
}

// record is the golden form of a response to operation.
func (n *normaliser) record(t testing.TB, operation string, r response) exchangeRecord {
	t.Helper()
	rec := exchangeRecord{Operation: operation, Status: r.status, Headers: map[string]string{}}
	rep := n.replacer()
	for _, h := range goldenHeaders {
		if v := r.header.Values(h); len(v) > 0 {
			rec.Headers[h] = rep.Replace(strings.Join(v, ", "))
		}
	}
	if r.raw != "" {
		rec.Body = n.normalise(t, []byte(r.raw))
	}
	return rec
}

// checkGolden compares v, as indented JSON, with testdata/golden/name, or
// writes it there with -update.
func checkGolden(t testing.TB, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // placeholders are <name>
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join(goldenDir, filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./server -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; if users should see this, rerun with -update and review the diff.\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// checkGoldenResponse pins r, a response to operation, as golden file name.
func (n *normaliser) checkGoldenResponse(t testing.TB, name, operation string, r response) {
	t.Helper()
	checkGolden(t, name, n.record(t, operation, r))
}

// newNormaliser knows the test server's URL, its issuers' and its bundle
// directory.
func newNormaliser(ts *testServer) *normaliser {
	n := &normaliser{}
	n.alias(ts.URL, "http://trustgate.test")
	n.alias(ts.GitLab.URL(), "http://gitlab.test")
	n.alias(ts.GitLabSelf.URL(), "http://gitlab-self.test")
	n.alias(ts.GitHub.URL(), "http://github.test")
	n.alias(ts.Corp.URL(), "http://login.test")
	n.alias(ts.Bundle, "<bundle-dir>")
	return n
}
