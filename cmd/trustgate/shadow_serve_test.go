package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine/enginetest"
)

// shadowServe starts serve with the live bundle of testBundle and a shadow
// bundle: the same data plus the Rego file rego (none when ""), or a
// bundle whose data does not parse when broken. It returns the base URL,
// a valid GitLab token for identity deploy, and the decision log's path.
func shadowServe(t *testing.T, rego string, broken bool) (base, token, decisions string) {
	t.Helper()
	iss := enginetest.NewIssuer(t)
	live := testBundle(t, iss.URL(), "https://sts.example.com")
	shadow := testBundle(t, iss.URL(), "https://sts.example.com")
	if rego != "" {
		if err := os.WriteFile(filepath.Join(shadow, "shadow.rego"), []byte(rego), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if broken {
		if err := os.WriteFile(filepath.Join(shadow, "data.yaml"), []byte("trustgate: {identities: [\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	decisions = filepath.Join(t.TempDir(), "decisions.jsonl")
	base, _ = startServeConfig(t, fmt.Sprintf("issuer: http://%s\nlisten: %s\nbundles: [%s]\nshadow_bundles: [%s]\n"+
		"allow_insecure_issuers: true\nshutdown_grace: 5s\nlog: {level: error, decision_log: %s}\n", addr, addr, live, shadow, decisions))
	claims := enginetest.GitLabClaims(iss.URL(), "https://sts.example.com")
	claims["ref"], claims["ref_type"], claims["ref_protected"] = "main", "branch", "true"
	return base, iss.Mint(t, claims), decisions
}

// policyStatus is GET /v1/policy's live and shadow state.
type policyStatus struct {
	Loaded bool `json:"loaded"`
	Shadow *struct {
		Loaded    bool              `json:"loaded"`
		Bundles   []json.RawMessage `json:"bundles"`
		LastError string            `json:"last_error"`
	} `json:"shadow"`
}

func getPolicyStatus(t *testing.T, base string) (policyStatus, error) {
	var st policyStatus
	resp, err := enginetest.Get(t, nil, base+"/v1/policy")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// shadowLoaded waits until /v1/policy says the shadow policy is loaded:
// it loads beside the service, after the service is ready.
func shadowLoaded(t *testing.T, base string) {
	t.Helper()
	eventually(t, func() string {
		if st, err := getPolicyStatus(t, base); err != nil || st.Shadow == nil || !st.Shadow.Loaded {
			return fmt.Sprintf("the shadow policy is not loaded (%v)", err)
		}
		return ""
	})
}

// shadowRecords reads the decision log's shadow records.
func shadowRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("decision log line %q: %v", sc.Text(), err)
		}
		if rec["shadow"] == true {
			out = append(out, rec)
		}
	}
	return out
}

func TestAShadowBundleThatDeniesWhatLiveAllowsIsCountedAndChangesNothingForCallers(t *testing.T) {
	base, token, decisions := shadowServe(t, "package trustgate.custom\n\ndeny contains \"shadow says no\" if true\n", false)
	shadowLoaded(t, base)
	if code, _ := exchangeStatus(t, base, token); code != http.StatusOK {
		t.Fatalf("exchange status %d under a denying shadow bundle, want 200", code)
	}
	eventually(t, func() string {
		if m := metricsText(t, base); !strings.Contains(m, `trustgate_shadow_decisions_total{outcome="newly_denied"} 1`) {
			return "/metrics does not count the shadow's newly_denied decision"
		}
		return ""
	})
	if m := metricsText(t, base); !strings.Contains(m, `policy="shadow"`) {
		t.Fatal("trustgate_policy_revision_info does not show the shadow revision")
	}
	eventually(t, func() string {
		if len(shadowRecords(t, decisions)) != 1 {
			return "the decision log has no shadow record"
		}
		return ""
	})
	rec := shadowRecords(t, decisions)[0]
	live, _ := rec["decision"].(map[string]any)
	sh, _ := rec["shadow_decision"].(map[string]any)
	if rec["outcome"] != "newly_denied" || live["allow"] != true || sh["allow"] != false || rec["input"] == nil {
		t.Fatalf("shadow record %v: want both decisions, the input and outcome newly_denied", rec)
	}
	if st, err := getPolicyStatus(t, base); err != nil || st.Shadow == nil || !st.Shadow.Loaded || len(st.Shadow.Bundles) != 1 {
		t.Fatalf("/v1/policy %+v (%v): want the loaded shadow bundle", st, err)
	}
}

func TestAShadowBundleThatFailsNeverChangesWhatCallersGet(t *testing.T) {
	tests := []struct {
		name    string
		rego    string
		broken  bool
		outcome string
	}{
		{name: "A shadow bundle whose data does not parse leaves exchanges as they are.", broken: true},
		{name: "A shadow bundle whose Rego does not compile leaves exchanges as they are.", rego: "package trustgate.custom\n\ndeny contains x if {\n"},
		{
			name:    "A shadow policy that runs out of time is counted as an error and leaves exchanges as they are.",
			rego:    "package trustgate.custom\n\ndeny contains \"slow\" if count([x | some x in numbers.range(1, 200000000)]) < 0\n",
			outcome: "error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, token, _ := shadowServe(t, tt.rego, tt.broken)
			if tt.outcome != "" {
				shadowLoaded(t, base)
			}
			if code, _ := exchangeStatus(t, base, token); code != http.StatusOK {
				t.Fatalf("exchange status %d, want 200", code)
			}
			if tt.outcome != "" {
				eventually(t, func() string {
					if !strings.Contains(metricsText(t, base), `trustgate_shadow_decisions_total{outcome="`+tt.outcome+`"} 1`) {
						return "/metrics does not count the shadow's " + tt.outcome
					}
					return ""
				})
				return
			}
			eventually(t, func() string {
				st, err := getPolicyStatus(t, base)
				if err != nil || !st.Loaded || st.Shadow == nil || st.Shadow.Loaded || st.Shadow.LastError == "" {
					return fmt.Sprintf("/v1/policy %+v shadow %+v (%v): want the live policy loaded and the shadow's error", st, st.Shadow, err)
				}
				return ""
			})
			if code, _ := exchangeStatus(t, base, token); code != http.StatusOK {
				t.Fatalf("exchange status %d after the shadow failed, want 200", code)
			}
		})
	}
}
