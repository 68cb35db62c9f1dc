package replay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/ciclaims"
	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/replay"
	"github.com/trustgate/trustgate/engine/verify"
)

const gitlab = "https://gitlab.com"

// bundle copies the example bundle into a directory, with each
// replacement applied to data.yaml and extra files added, and loads it.
func bundle(t testing.TB, replace map[string]string, extra map[string]string) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"data.yaml", "custom.rego"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "bundles", "example", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for old, repl := range replace {
			if name == "data.yaml" {
				if !strings.Contains(s, old) {
					t.Fatalf("data.yaml has no %q", old)
				}
				s = strings.ReplaceAll(s, old, repl)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Load(context.Background(), []string{dir}, policy.Options{ServerIssuer: "https://sts.example.com", AllowInsecureIssuers: true})
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// deployClaims are a GitLab job of project on a protected main branch.
func deployClaims(project string) map[string]any {
	c := ciclaims.GitLabClaims(gitlab, "https://sts.example.com")
	ns := project[:strings.LastIndex(project, "/")]
	c["project_path"], c["namespace_path"] = project, ns
	c["ref"], c["ref_type"], c["ref_protected"] = "main", "branch", "true"
	c["sub"] = "project_path:" + project + ":ref_type:branch:ref:main"
	return c
}

// recordLine is the decision record the server writes for claims and req
// under pol, as the decision log's JSON line.
func recordLine(t testing.TB, pol *policy.Policy, id string, claims map[string]any, req engine.Request) []byte {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := verify.ParseClaims(payload)
	if err != nil {
		t.Fatal(err)
	}
	prov, _ := pol.ProviderByIssuer(gitlab)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ev := &engine.Evaluation{Provider: prov, Claims: parsed, Payload: payload, Request: req, Now: at}
	d, err := engine.Evaluate(context.Background(), pol, ev)
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(map[string]any{
		"decision_id": id, "timestamp": at.Format(time.RFC3339Nano), "result": "issued",
		"decision": d, "input": json.RawMessage(ev.AppendJSON(nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

func run(t *testing.T, base, head *policy.Policy, lines ...[]byte) *replay.Report {
	t.Helper()
	r := &replay.Replayer{Head: head, Base: base}
	rep, err := r.Run(context.Background(), replay.NewFileSource("decisions.jsonl", bytes.NewReader(bytes.Join(lines, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReplayReportsEachKindOfChangeGroupedByIdentity(t *testing.T) {
	base := bundle(t, nil, nil)
	allowed := recordLine(t, base, "d-allowed", deployClaims("my-group/app"), engine.Request{})
	sub := recordLine(t, base, "d-subgroup", deployClaims("my-group/sub/app"), engine.Request{Identity: "gitlab-ci-deploy"})
	read := recordLine(t, base, "d-read", deployClaims("my-group/app"), engine.Request{Scopes: []string{"read"}})
	tests := []struct {
		name      string
		head      *policy.Policy
		lines     [][]byte
		want      string // identity/change of the one group
		newAccess bool
		counts    [4]int64 // unchanged, newly allowed, newly denied, changed grant
	}{
		{name: "The same bundle changes nothing.", head: base, lines: [][]byte{allowed, sub, read}, counts: [4]int64{3, 0, 0, 0}},
		{
			name: "A glob widened from * to ** newly allows a subgroup's project.",
			head: bundle(t, map[string]string{
				"\"project_path:my-group/*:ref_type:*:ref:*\"\n          claims:\n            namespace_path: my-group\n": "\"project_path:my-group/**:ref_type:*:ref:*\"\n          claims:\n            namespace_path: [my-group, \"my-group/**\"]\n",
			}, nil),
			lines: [][]byte{allowed, sub}, want: "gitlab-ci-deploy/newly allowed", newAccess: true, counts: [4]int64{1, 1, 0, 0},
		},
		{
			name:  "A custom deny newly denies what was allowed.",
			head:  bundle(t, nil, map[string]string{"freeze.rego": "package trustgate.custom\n\ndeny contains \"frozen\" if input.token.project_path == \"my-group/app\"\n"}),
			lines: [][]byte{allowed, sub}, want: "gitlab-ci-deploy/newly denied", counts: [4]int64{1, 0, 1, 0},
		},
		{
			name:  "A scope added to an identity is a changed grant that widens.",
			head:  bundle(t, map[string]string{"scopes: [read, write]\n      audiences: [https://api.example.com]\n      ttl: 15m": "scopes: [read, write, admin]\n      audiences: [https://api.example.com]\n      ttl: 15m"}, nil),
			lines: [][]byte{allowed, read}, want: "gitlab-ci-deploy/changed grant", newAccess: true, counts: [4]int64{1, 0, 0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := run(t, nil, tt.head, tt.lines...)
			got := [4]int64{rep.Unchanged, rep.NewlyAllowed, rep.NewlyDenied, rep.ChangedGrant}
			if got != tt.counts || rep.NewAccess != tt.newAccess || rep.Errors != 0 {
				t.Fatalf("counts %v new access %v errors %d, want %v %v 0", got, rep.NewAccess, rep.Errors, tt.counts, tt.newAccess)
			}
			if tt.want == "" {
				if len(rep.Groups) != 0 {
					t.Fatalf("groups %+v, want none", rep.Groups)
				}
				return
			}
			if len(rep.Groups) != 1 || rep.Groups[0].Identity+"/"+string(rep.Groups[0].Change) != tt.want || rep.Groups[0].Count != 1 {
				t.Fatalf("groups %+v, want one: %s", rep.Groups, tt.want)
			}
			if !json.Valid(rep.Groups[0].Example.Input) {
				t.Fatalf("the example's input is not JSON: %s", rep.Groups[0].Example.Input)
			}
		})
	}
}

func TestReplayComparesWithABaseBundleWhenGiven(t *testing.T) {
	base := bundle(t, nil, nil)
	narrow := bundle(t, nil, map[string]string{"freeze.rego": "package trustgate.custom\n\ndeny contains \"frozen\" if input.token.project_path == \"my-group/app\"\n"})
	line := recordLine(t, base, "d1", deployClaims("my-group/app"), engine.Request{})
	// Head allows what the narrow base denies: newly allowed, whatever was recorded.
	rep := run(t, narrow, base, line)
	if rep.NewlyAllowed != 1 || !rep.NewAccess {
		t.Fatalf("report %+v: want one newly allowed", rep)
	}
	if got := rep.Groups[0].Example.Reasons; len(got) != 1 || got[0] != "frozen" {
		t.Fatalf("example reasons %v: want base's deny reason", got)
	}
}

func TestReplayCountsAHistoryRowForTheDecisionsItStandsFor(t *testing.T) {
	base := bundle(t, nil, nil)
	var row map[string]any
	if err := json.Unmarshal(recordLine(t, base, "d1", deployClaims("my-group/app"), engine.Request{}), &row); err != nil {
		t.Fatal(err)
	}
	row["count"] = 1000
	line, _ := json.Marshal(row)
	head := bundle(t, nil, map[string]string{"freeze.rego": "package trustgate.custom\n\ndeny contains \"frozen\" if true\n"})
	rep := run(t, nil, head, line)
	if rep.Read != 1000 || rep.Distinct != 1 || rep.NewlyDenied != 1000 || rep.Groups[0].Count != 1000 {
		t.Fatalf("report %+v: want 1000 decisions from one input, all newly denied", rep)
	}
}

func TestRecordsNeverEvaluatedOrFromAShadowPolicyAreNotReplayed(t *testing.T) {
	base := bundle(t, nil, nil)
	lines := [][]byte{
		[]byte(`{"decision_id":"x1","timestamp":"2026-11-23T10:00:00Z","result":"invalid_token","reasons":["bad signature"]}` + "\n"),
		[]byte(`{"decision_id":"x2","timestamp":"2026-11-23T10:00:00Z","path":"trustgate/decision","input":{"provider":"gitlab","source":{"iss":"x"}},"result":{"result":"invalid_token"}}` + "\n"),
		[]byte(`{"decision_id":"x3","timestamp":"2026-11-23T10:00:00Z","shadow":true,"input":{"now":"2026-11-23T10:00:00Z"}}` + "\n"),
		[]byte("\n"),
		recordLine(t, base, "d1", deployClaims("my-group/app"), engine.Request{}),
	}
	rep := run(t, nil, base, lines...)
	if rep.Skipped != 3 || rep.Read != 1 || rep.Unchanged != 1 {
		t.Fatalf("report %+v: want 3 skipped and 1 replayed", rep)
	}
}

func TestBadDecisionFilesFailNamingTheLine(t *testing.T) {
	base := bundle(t, nil, nil)
	good := recordLine(t, base, "d1", deployClaims("my-group/app"), engine.Request{})
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "A line that is not JSON is refused.", line: "{not json\n", want: "line 2: not a trustgate decision record"},
		{name: "An operational log line is refused.", line: `{"level":"info","msg":"policy loaded"}` + "\n", want: "line 2: not a trustgate decision record: it has no decision_id"},
		{name: "Another OPA's decision is refused.", line: `{"decision_id":"a","timestamp":"2026-11-23T10:00:00Z","path":"authz/allow","input":{"now":"x"}}` + "\n", want: `line 2: not a trustgate decision record: it is a decision of "authz/allow"`},
		{name: "An input whose token is not a claim set is refused.", line: `{"decision_id":"a","timestamp":"2026-11-23T10:00:00Z","input":{"provider":{"issuer":"https://gitlab.com"},"token":[1],"now":"2026-11-23T10:00:00Z"}}` + "\n", want: "line 2: not a decision record's input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &replay.Replayer{Head: base}
			_, err := r.Run(context.Background(), replay.NewFileSource("d.jsonl", strings.NewReader(string(good)+tt.line)))
			if err == nil || !strings.Contains(err.Error(), "d.jsonl: "+tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(tt.name, "not JSON") && !errors.Is(err, replay.ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
		})
	}
}

func TestANewlyDeniedGroupsExampleGivesHeadsReasons(t *testing.T) {
	base := bundle(t, nil, nil)
	head := bundle(t, map[string]string{"namespace_path: my-group\n": "namespace_path: other-group\n"}, nil)
	lines := [][]byte{
		recordLine(t, base, "d1", deployClaims("my-group/app"), engine.Request{}),
		recordLine(t, base, "d2", deployClaims("my-group/api"), engine.Request{}),
	}
	rep := run(t, nil, head, lines...)
	if rep.NewlyDenied != 2 || len(rep.Groups) != 1 || rep.Groups[0].Count != 2 {
		t.Fatalf("report %+v: want one group of two newly denied", rep)
	}
	ex := rep.Groups[0].Example
	if ex.DecisionID != "d1" || !slices.ContainsFunc(ex.Reasons, func(r string) bool {
		return strings.HasPrefix(r, "no identity accepts this token from provider gitlab")
	}) {
		t.Fatalf("example %s reasons %q: want d1 with head's explanation", ex.DecisionID, ex.Reasons)
	}
}
