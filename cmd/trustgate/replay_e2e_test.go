package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
	"github.com/trustgate/trustgate/engine/state"
)

// replayBundleData is the bundle the replay test serves and changes:
// deploy accepts any project directly in my-group, protected main only.
const replayBundleData = `trustgate:
  providers:
    ci:
      issuer: ISSUER
      platform: gitlab
      audiences: [https://sts.example.com]
  identities:
    deploy:
      roles: [deployer]
      scopes: [read, write]
      audiences: [https://api.example.com]
      federations:
        - provider: ci
          claims:
            project_path: "my-group/*"
            ref_protected: "true"
          refs: ["branch:main"]
`

// writeBundle writes data (ISSUER replaced) and extra files into a new
// bundle directory.
func writeBundle(t *testing.T, iss, data string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"data.yaml": strings.ReplaceAll(data, "ISSUER", iss)}
	for k, v := range extra {
		files[k] = v
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// servedDecisions serves the replay bundle with its decision log in a
// file, makes one allowed and three denied exchanges over HTTP, and
// returns the issuer URL, the bundle and the decision log; its state
// (with the decision history) is sqlite:<decision log's dir>/state.db.
func servedDecisions(t *testing.T) (string, string, string) {
	t.Helper()
	iss := enginetest.NewIssuer(t)
	bundle := writeBundle(t, iss.URL(), replayBundleData, nil)
	addr := freeAddr(t)
	decisions := filepath.Join(t.TempDir(), "decisions.jsonl")
	base, _ := startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\n"+
		"allow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error, decision_log: %s}\nstate: {url: \"sqlite:%s\"}\n",
		addr, addr, bundle, decisions, filepath.Join(filepath.Dir(decisions), "state.db")))
	for _, tc := range []struct {
		project, ref string
		want         int
	}{
		{"my-group/app", "main", http.StatusOK},
		{"my-group/sub/app", "main", http.StatusBadRequest},
		{"my-group/app", "feature", http.StatusBadRequest},
		{"other-group/app", "main", http.StatusBadRequest},
	} {
		claims := enginetest.GitLabClaims(iss.URL(), "https://sts.example.com")
		claims["project_path"], claims["ref"], claims["ref_type"], claims["ref_protected"] = tc.project, tc.ref, "branch", "true"
		if code, _ := exchangeStatus(t, base, iss.Mint(t, claims)); code != tc.want {
			t.Fatalf("exchange for %s on %s: status %d, want %d", tc.project, tc.ref, code, tc.want)
		}
	}
	return iss.URL(), bundle, decisions
}

type replayOutput struct {
	Read         int64 `json:"read"`
	Unchanged    int64 `json:"unchanged"`
	NewlyAllowed int64 `json:"newly_allowed"`
	NewlyDenied  int64 `json:"newly_denied"`
	Groups       []struct {
		Identity string `json:"identity"`
		Change   string `json:"change"`
		Count    int64  `json:"count"`
		Example  struct {
			Input struct {
				Token map[string]any `json:"token"`
			} `json:"input"`
		} `json:"example"`
	} `json:"groups"`
}

func TestReplayOfServedDecisionsReportsExactlyWhatEachChangeOpensOrCloses(t *testing.T) {
	issuer, bundle, decisions := servedDecisions(t)
	tests := []struct {
		name    string
		data    string
		extra   map[string]string
		code    int
		diff    int // diff's exit code
		change  string
		project string // of the one changed decision
		ref     string
	}{
		{
			name: "Widening a glob from * to ** newly allows the subgroup's project, and fails.",
			data: strings.Replace(replayBundleData, `"my-group/*"`, `"my-group/**"`, 1), code: 1, diff: 1,
			change: "newly allowed", project: "my-group/sub/app", ref: "main",
		},
		{
			name: "Dropping the ref restriction newly allows the feature branch, and fails.",
			data: strings.Replace(replayBundleData, "          refs: [\"branch:main\"]\n", "", 1), code: 1, diff: 1,
			change: "newly allowed", project: "my-group/app", ref: "feature",
		},
		{
			name: "A custom deny newly denies the allowed project, and passes.",
			data: replayBundleData, extra: map[string]string{"freeze.rego": "package trustgate.custom\n\ndeny contains \"frozen\" if input.token.project_path == \"my-group/app\"\n"},
			code: 0, diff: 0, change: "newly denied", project: "my-group/app", ref: "main",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := writeBundle(t, issuer, tt.data, tt.extra)
			if code, stdout, stderr := runCLI(t, nil, "diff", "--allow-insecure-issuers", "--base", bundle, "--head", head); code != tt.diff {
				t.Fatalf("diff exit %d, want %d: %s%s", code, tt.diff, stdout, stderr)
			}
			code, stdout, stderr := runCLI(t, nil, "replay", "--allow-insecure-issuers", "--head", head, "--decisions", decisions, "--format", "json")
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			var out replayOutput
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout)
			}
			if out.Read != 4 || out.Unchanged != 3 || len(out.Groups) != 1 {
				t.Fatalf("read %d unchanged %d groups %d: want 4 read, 3 unchanged, one group\n%s", out.Read, out.Unchanged, len(out.Groups), stdout)
			}
			g := out.Groups[0]
			tok := g.Example.Input.Token
			if g.Identity != "deploy" || g.Change != tt.change || g.Count != 1 || tok["project_path"] != tt.project || tok["ref"] != tt.ref {
				t.Fatalf("group %+v: want deploy, %s, 1, example %s on %s", g, tt.change, tt.project, tt.ref)
			}
		})
	}
	t.Run("The same bundle as base and head changes nothing and passes.", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "replay", "--allow-insecure-issuers", "--head", bundle, "--base", bundle, "--decisions", decisions)
		if code != 0 || !strings.Contains(stdout, "no new access") || !strings.Contains(stdout, "unchanged      4") {
			t.Fatalf("exit %d: %s%s", code, stdout, stderr)
		}
	})
	t.Run("The markdown report says new access and --fail-on none passes.", func(t *testing.T) {
		head := writeBundle(t, issuer, strings.Replace(replayBundleData, `"my-group/*"`, `"my-group/**"`, 1), nil)
		code, stdout, stderr := runCLI(t, nil, "replay", "--allow-insecure-issuers", "--head", head, "--decisions", decisions, "--format", "markdown", "--fail-on", "none")
		if code != 0 || !strings.HasPrefix(stdout, "**trustgate replay**: NEW ACCESS") || !strings.Contains(stdout, "| `deploy` | **newly allowed** | 1 |") {
			t.Fatalf("exit %d: %s%s", code, stdout, stderr)
		}
	})
}

func TestReplayOfTheServersDecisionHistoryFindsWhatTheDecisionLogFinds(t *testing.T) {
	issuer, _, decisions := servedDecisions(t)
	stateURL := "sqlite:" + filepath.Join(filepath.Dir(decisions), "state.db")
	head := writeBundle(t, issuer, strings.Replace(replayBundleData, `"my-group/*"`, `"my-group/**"`, 1), nil)
	var out replayOutput
	eventually(t, func() string { // the history is written off the request path, within a second
		code, stdout, stderr := runCLI(t, nil, "replay", "--allow-insecure-issuers", "--head", head, "--state", stateURL, "--since", "1d", "--format", "json")
		if code != 1 {
			return fmt.Sprintf("exit %d, want 1: %s%s", code, stdout, stderr)
		}
		out = replayOutput{}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Read != 4 {
			return fmt.Sprintf("read %d (%v), want the 4 decisions: %s", out.Read, err, stdout)
		}
		return ""
	})
	if out.NewlyAllowed != 1 || out.Unchanged != 3 || len(out.Groups) != 1 || out.Groups[0].Example.Input.Token["project_path"] != "my-group/sub/app" {
		t.Fatalf("history replay %+v: want the subgroup's project newly allowed, the rest unchanged", out)
	}
}

func TestReplayRefusesBadInputInOneLineAndWritesNothing(t *testing.T) {
	issuer, bundle, decisions := servedDecisions(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(decisions)
	if err != nil {
		t.Fatal(err)
	}
	broken := writeBundle(t, issuer, "trustgate: {identities: [\n", nil)
	newer := newerStateDB(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "A malformed decision file is refused naming its line.", args: []string{"--head", bundle, "--decisions", write("bad.jsonl", string(good)+"{\"decision_id\": \n")}, want: "bad.jsonl: line 5: not a trustgate decision record"},
		{name: "A file of operational logs is refused as another format.", args: []string{"--head", bundle, "--decisions", write("ops.jsonl", `{"level":"info","msg":"trustgate listening"}`+"\n")}, want: "ops.jsonl: line 1: not a trustgate decision record: it has no decision_id"},
		{name: "A head that does not load is refused.", args: []string{"--head", broken, "--decisions", decisions}, want: "--head: "},
		{name: "A base that does not load is refused.", args: []string{"--head", bundle, "--base", broken, "--decisions", decisions}, want: "--base: "},
		{name: "A missing decision file is refused.", args: []string{"--head", bundle, "--decisions", filepath.Join(dir, "absent.jsonl")}, want: "--decisions: "},
		{name: "Neither --decisions nor --state is refused.", args: []string{"--head", bundle}, want: "give exactly one of --decisions or --state"},
		{name: "A state database that does not exist is refused.", args: []string{"--head", bundle, "--state", "sqlite:" + filepath.Join(dir, "absent.db")}, want: "--state: "},
		{name: "A decision history from a newer schema is refused.", args: []string{"--head", bundle, "--state", newer}, want: "is newer than this binary's"},
		{name: "An unknown format is refused.", args: []string{"--head", bundle, "--decisions", decisions, "--format", "html"}, want: "--format must be"},
		{name: "No --head is refused.", args: []string{"--decisions", decisions}, want: "at least one --head is required"},
		{name: "Both --decisions and --state are refused.", args: []string{"--head", bundle, "--decisions", decisions, "--state", newer}, want: "give exactly one of --decisions or --state"},
		{name: "An unknown --fail-on is refused.", args: []string{"--head", bundle, "--decisions", decisions, "--fail-on", "sometimes"}, want: "--fail-on must be new-access or none"},
		{name: "A --since that is no positive duration is refused.", args: []string{"--head", bundle, "--state", newer, "--since", "-3d"}, want: "--since: want a positive number of days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"replay", "--allow-insecure-issuers"}, tt.args...)...)
			if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q: want exit 2, nothing written and one line containing %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

// newerStateDB is a SQLite state database a newer trustgate migrated.
func newerStateDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := state.Open(context.Background(), "sqlite:"+path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(context.Background(), "INSERT INTO trustgate_schema_version (version_id, is_applied) VALUES (999, true)"); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + path
}
