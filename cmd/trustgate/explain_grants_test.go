package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// breakglassRequests is an access API list with one approved request of
// prod-db-breakglass bound to ref, for project my-group/app and ref.
func breakglassRequests(ref, expiresAt string) string {
	return `{"requests": [{"id": "g1", "identity": "prod-db-breakglass", "state": "approved", "risk": "high",
		"approvals_required": 1, "reviews": [], "requester": {"provider": "gitlab", "issuer": "https://gitlab.com", "sub": "x"},
		"binding": {"kind": "ref", "provider": "gitlab", "issuer": "https://gitlab.com", "project": "my-group/app", "ref": "` + ref + `"},
		"reason": "incident", "duration_seconds": 3600, "created_at": "2026-11-23T09:30:00Z", "expires_at": "` + expiresAt + `", "history": []}]}`
}

func TestExplainSaysWhyAJustInTimeIdentityIsOrIsNotGranted(t *testing.T) {
	dir := t.TempDir()
	claims := filepath.Join(dir, "claims.json")
	_ = os.WriteFile(claims, []byte(`{"iss": "https://gitlab.com", "sub": "project_path:my-group/app:ref_type:branch:ref:main",
		"namespace_path": "my-group", "project_path": "my-group/app", "ref": "main", "ref_type": "branch", "ref_protected": "true"}`), 0o600)
	tests := []struct {
		name     string
		requests string // "" : no --grants
		code     int
		want     []string
	}{
		{name: "Without grants the identity has no approved request", code: explainDenied,
			want: []string{"just-in-time: no approved request covers this token", "has no approved request: ask for one"}},
		{name: "A grant for another ref is named", requests: breakglassRequests("branch:release", "2026-11-23T11:00:00Z"), code: explainDenied,
			want: []string{"grant g1 is for project my-group/app, ref branch:release, not this token"}},
		{name: "An ended grant is no grant, as the engine selects them", requests: breakglassRequests("branch:main", "2026-11-23T09:59:00Z"), code: explainDenied,
			want: []string{"identity prod-db-breakglass is just-in-time and has no approved request"}},
		{name: "A grant that has not started is no grant, as the engine selects them", requests: breakglassRequests("branch:main", "2026-11-23T11:00:01Z"), code: explainDenied,
			want: []string{"identity prod-db-breakglass is just-in-time and has no approved request"}},
		{name: "A grant that binds the token grants the identity", requests: breakglassRequests("branch:main", "2026-11-23T11:00:00Z"), code: explainAllowed,
			want: []string{"decision: ALLOWED", "just-in-time: an approved request covers this token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"explain", "--bundle", "../../bundles/example", "--claims", claims, "--identity", "prod-db-breakglass", "--now", "2026-11-23T10:00:00Z"}
			if tc.requests != "" {
				grants := filepath.Join(t.TempDir(), "requests.json")
				_ = os.WriteFile(grants, []byte(tc.requests), 0o600)
				args = append(args, "--grants", grants)
			}
			code, out, errOut := runCLI(t, nil, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("explain output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestExplainRefusesAGrantsFileItCannotRead(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "requests.json")
	_ = os.WriteFile(bad, []byte(`[1, 2]`), 0o600)
	claims := filepath.Join(t.TempDir(), "claims.json")
	_ = os.WriteFile(claims, []byte(`{"iss": "https://gitlab.com", "sub": "x"}`), 0o600)
	code, _, errOut := runCLI(t, nil, "explain", "--bundle", "../../bundles/example", "--claims", claims, "--grants", bad)
	if code != explainError || !strings.Contains(errOut, "--grants: want") {
		t.Fatalf("exit %d, stderr %q; want %d naming --grants", code, errOut, explainError)
	}
}
