package console

import (
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

func TestPipelineLinksAreMadeOnlyWhenTheClaimsAllowOne(t *testing.T) {
	tests := []struct {
		name   string
		issuer string
		facts  map[string]string
		want   string
	}{
		{name: "A GitLab pipeline links under its issuer.", issuer: "https://gitlab.example.com",
			facts: map[string]string{"project_path": "group/sub/app", "pipeline_id": "574"},
			want:  "https://gitlab.example.com/group/sub/app/-/pipelines/574"},
		{name: "A GitHub Actions run links on github.com.", issuer: "https://token.actions.githubusercontent.com",
			facts: map[string]string{"repository": "acme/service", "run_id": "99"},
			want:  "https://github.com/acme/service/actions/runs/99"},
		{name: "A GitHub Enterprise run links on its own host.", issuer: "https://ghe.example.com/_services/token",
			facts: map[string]string{"repository": "acme/service", "run_id": "99"},
			want:  "https://ghe.example.com/acme/service/actions/runs/99"},
		{name: "A project path is escaped segment by segment.", issuer: "https://gitlab.com",
			facts: map[string]string{"project_path": "a b/c?d", "pipeline_id": "1"},
			want:  "https://gitlab.com/a%20b/c%3Fd/-/pipelines/1"},
		{name: "An http issuer gets no link.", issuer: "http://127.0.0.1:8090",
			facts: map[string]string{"project_path": "demo-group/demo-project", "pipeline_id": "574"}},
		{name: "A pipeline id that is not a number gets no link.", issuer: "https://gitlab.com",
			facts: map[string]string{"project_path": "g/p", "pipeline_id": "1/../../admin"}},
		{name: "A person gets no link.", issuer: "https://login.example.com",
			facts: map[string]string{"email": "alice@example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := access.Requester{Person: access.Person{Issuer: tt.issuer}, Facts: tt.facts}
			if got := pipelineURL(r); got != tt.want {
				t.Errorf("pipelineURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTimesReadRelative(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "Seconds ago is just now.", at: now.Add(-30 * time.Second), want: "just now"},
		{name: "One minute ago is singular.", at: now.Add(-time.Minute), want: "1 minute ago"},
		{name: "Minutes ahead count down.", at: now.Add(59*time.Minute + 30*time.Second), want: "in 59 minutes"},
		{name: "Hours ago up to two days.", at: now.Add(-47 * time.Hour), want: "47 hours ago"},
		{name: "Days beyond.", at: now.Add(72 * time.Hour), want: "in 3 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relative(tt.at, now); got != tt.want {
				t.Errorf("relative = %q, want %q", got, tt.want)
			}
		})
	}
}
