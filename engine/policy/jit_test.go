package policy_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/policy"
)

// jitData is a bundle with a people IdP and one just-in-time identity;
// each test replaces the identity's jit block or adds data.
func jitData(identity, extra string) map[string]string {
	return map[string]string{"data.yaml": `
trustgate:
  providers:
    gitlab: {issuer: https://gitlab.com, platform: gitlab}
    corp: {issuer: https://login.example.com, platform: generic, audiences: [trustgate]}
  identities:
    breakglass:
      roles: [db-admin]
      scopes: [read, write]
      audiences: [https://db.example.com]
      federations:
        - provider: gitlab
          claims: {project_path: my-group/api}
` + identity + extra}
}

const goodJIT = `      access: just-in-time
      jit:
        max_duration: 4h
        default_duration: 1h
        bind: ref
        approvers:
          - provider: corp
            claims: {groups: prod-approvers}
`

func TestAJustInTimeIdentityIsLoadedWithItsBlock(t *testing.T) {
	p, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(goodJIT, ""))}, options())
	if err != nil {
		t.Fatal(err)
	}
	j, ok := p.JustInTime("breakglass")
	want := policy.JIT{MaxDuration: 4 * time.Hour, DefaultDuration: time.Hour, Bind: policy.BindRef, PendingTTL: policy.DefaultPendingTTL}
	if !ok || j != want {
		t.Fatalf("JustInTime = %+v, %v; want %+v", j, ok, want)
	}
	if _, ok := p.JustInTime("nobody"); ok {
		t.Error("an unknown identity is just-in-time")
	}
}

func TestAPendingTTLReplacesTheDefault(t *testing.T) {
	jit := strings.Replace(goodJIT, "        bind: ref\n", "        bind: ref\n        pending_ttl: 2h\n", 1)
	p, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(jit, ""))}, options())
	if err != nil {
		t.Fatal(err)
	}
	if j, ok := p.JustInTime("breakglass"); !ok || j.PendingTTL != 2*time.Hour {
		t.Fatalf("JustInTime = %+v, %v; want a pending_ttl of 2h", j, ok)
	}
}

func TestAStandingIdentityIsNotJustInTime(t *testing.T) {
	p, err := policy.Load(context.Background(), []string{bundleDir(t, jitData("", ""))}, options())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.JustInTime("breakglass"); ok {
		t.Error("a standing identity is just-in-time")
	}
}

func TestDefaultDurationAndMaxLeadTimeMayBeLeftOut(t *testing.T) {
	jit := strings.Replace(goodJIT, "        default_duration: 1h\n", "", 1)
	if jit == goodJIT {
		t.Fatal("goodJIT no longer has default_duration: 1h")
	}
	if _, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(jit, ""))}, options()); err != nil {
		t.Fatalf("a jit block without default_duration: %v", err)
	}
	lead := strings.Replace(goodJIT, "        bind: ref\n", "        bind: ref\n        max_lead_time: 72h\n", 1)
	if _, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(lead, ""))}, options()); err != nil {
		t.Fatalf("a jit block with max_lead_time: %v", err)
	}
}

func TestNoApproversAreAllowedWhenTheDefaultRiskApprovesByItself(t *testing.T) {
	id := "      access: just-in-time\n      jit: {max_duration: 1h, default_duration: 30m, bind: pipeline}\n"
	levels := "  risk_levels:\n    high: {approvals: 0}\n    critical: {approvals: 1}\n"
	if _, err := policy.Load(context.Background(), []string{bundleDir(t, jitData(id, levels))}, options()); err != nil {
		t.Fatal(err)
	}
}

func TestJustInTimeDataIsChecked(t *testing.T) {
	const key = "trustgate.identities.breakglass"
	block := func(jit string) string { return "      access: just-in-time\n      jit: " + jit + "\n" }
	approvers := "approvers: [{provider: corp, claims: {groups: x}}]"
	tests := []struct {
		name, identity, extra string
		want                  []string
	}{
		{name: "An access mode other than just-in-time is refused.", identity: "      access: sometimes\n",
			want: []string{key + ".access: want \"just-in-time\" (or no access key for standing access), not \"sometimes\""}},
		{name: "A jit block on a standing identity is refused.", identity: "      jit: {bind: ref}\n",
			want: []string{key + ".jit: applies only to an identity with access: just-in-time"}},
		{name: "A just-in-time identity without a jit block is refused.", identity: "      access: just-in-time\n",
			want: []string{key + ".jit: a just-in-time identity needs a jit mapping"}},
		{name: "A bad duration is refused.", identity: block("{max_duration: 4 hours, default_duration: 1h, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.max_duration: want a positive duration such as \"15m\" or \"2h\", not \"4 hours\""}},
		{name: "A missing max_duration is refused.", identity: block("{default_duration: 1h, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.max_duration: is required"}},
		{name: "A default longer than the maximum is refused.", identity: block("{max_duration: 1h, default_duration: 2h, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.default_duration: 2h0m0s is longer than max_duration 1h0m0s"}},
		{name: "A fraction of a second is refused.", identity: block("{max_duration: 1h, default_duration: 1500ms, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.default_duration: want whole seconds, not 1.5s"}},
		{name: "A bad max_lead_time is refused.", identity: block("{max_duration: 1h, max_lead_time: 7d, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.max_lead_time: want a positive duration such as \"15m\" or \"2h\", not \"7d\""}},
		{name: "A bad pending_ttl is refused.", identity: block("{max_duration: 1h, default_duration: 1h, pending_ttl: soon, bind: ref, " + approvers + "}"),
			want: []string{key + ".jit.pending_ttl: want a positive duration"}},
		{name: "An unknown binding is refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: branch, " + approvers + "}"),
			want: []string{key + ".jit.bind: unknown binding \"branch\" (known: subject, project, ref, pipeline)"}},
		{name: "A missing binding is refused.", identity: block("{max_duration: 1h, default_duration: 1h, " + approvers + "}"),
			want: []string{key + ".jit.bind: is required"}},
		{name: "An unknown key in the jit block is refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approver: [], " + approvers + "}"),
			want: []string{key + ".jit.approver: unknown key (known: max_duration, default_duration, max_lead_time, bind, pending_ttl, approvers)"}},
		{name: "An approver naming an unknown provider is refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approvers: [{provider: okta, claims: {groups: x}}]}"),
			want: []string{key + ".jit.approvers[0].provider: unknown provider \"okta\" (known: corp, gitlab)"}},
		{name: "An approver that matches everyone of a provider is refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approvers: [{provider: corp}]}"),
			want: []string{key + ".jit.approvers[0]: matches every token of provider corp"}},
		{name: "An approver with a bad pattern is refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approvers: [{provider: corp, claims: {groups: '[x'}}]}"),
			want: []string{key + ".jit.approvers[0].claims.groups: invalid pattern"}},
		{name: "Approvers that are not a list are refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approvers: corp}"),
			want: []string{key + ".jit.approvers: want a list of approver matchers"}},
		{name: "No approvers and a default risk that needs approval are refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref}"),
			want: []string{key + ".jit.approvers: a just-in-time identity with no approvers can never be approved"}},
		{name: "An empty approver list and a default risk that needs approval are refused.", identity: block("{max_duration: 1h, default_duration: 1h, bind: ref, approvers: []}"),
			want: []string{key + ".jit.approvers: an empty list approves nobody"}},
		{name: "Risk levels without the default level are refused.", identity: goodJIT, extra: "  risk_levels: {low: {approvals: 0}}\n",
			want: []string{"trustgate.risk_levels: has no level \"high\""}},
		{name: "A risk level with a fractional count is refused.", identity: goodJIT, extra: "  risk_levels: {high: {approvals: 1.5}}\n",
			want: []string{"trustgate.risk_levels.high.approvals: want a whole number of approvals from 0 to 100, not 1.5"}},
		{name: "A risk level with a negative count is refused.", identity: goodJIT, extra: "  risk_levels: {high: {approvals: -1}}\n",
			want: []string{"trustgate.risk_levels.high.approvals: want a whole number"}},
		{name: "A risk level needing more than 100 approvals is refused.", identity: goodJIT, extra: "  risk_levels: {high: {approvals: 101}}\n",
			want: []string{"trustgate.risk_levels.high.approvals: want a whole number of approvals from 0 to 100, not 101"}},
		{name: "A risk level with a quoted count is refused.", identity: goodJIT, extra: "  risk_levels: {high: {approvals: \"1\"}}\n",
			want: []string{"trustgate.risk_levels.high.approvals: want a whole number"}},
		{name: "A risk level that is not a mapping is refused.", identity: goodJIT, extra: "  risk_levels: {high: 1}\n",
			want: []string{"trustgate.risk_levels.high: want a mapping {approvals: N}, not a number"}},
		{name: "Risk levels that are not a mapping are refused.", identity: goodJIT, extra: "  risk_levels: [high]\n",
			want: []string{"trustgate.risk_levels: want a mapping of risk level to {approvals: N}, not a list"}},
		{name: "An unknown key in a risk level is refused.", identity: goodJIT, extra: "  risk_levels: {high: {approvals: 1, approvers: 2}}\n",
			want: []string{"trustgate.risk_levels.high.approvers: unknown key (known: approvals)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := bundleDir(t, jitData(tt.identity, tt.extra))
			_, err := policy.Load(context.Background(), []string{dir}, options())
			var pe *policy.ProblemsError
			if !errors.As(err, &pe) {
				t.Fatalf("Load: %v, want a *ProblemsError", err)
			}
			if !containsProblem(pe.Problems, append([]string{filepath.Join(dir, "data.yaml") + ": "}, tt.want...)...) {
				t.Fatalf("problems %q do not say %q", problemStrings(pe.Problems), tt.want)
			}
		})
	}
}
