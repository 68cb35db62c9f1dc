// Package ciclaims holds the claim sets GitLab CI and GitHub Actions put in
// their ID tokens, for the dev issuer and for tests: one place for the
// shapes both mint.
package ciclaims

// GitLabClaims are the claims of a GitLab CI id_token for a job on the
// protected main branch of demo-group/demo-project.
func GitLabClaims(iss, aud string) map[string]any {
	return map[string]any{
		"iss":                   iss,
		"aud":                   aud,
		"sub":                   "project_path:demo-group/demo-project:ref_type:branch:ref:main",
		"namespace_id":          "72",
		"namespace_path":        "demo-group",
		"project_id":            "20",
		"project_path":          "demo-group/demo-project",
		"project_visibility":    "private",
		"user_id":               "1",
		"user_login":            "demo-user",
		"user_email":            "demo-user@example.com",
		"user_access_level":     "maintainer",
		"pipeline_id":           "574",
		"pipeline_source":       "push",
		"job_id":                "302",
		"ref":                   "main",
		"ref_type":              "branch",
		"ref_path":              "refs/heads/main",
		"ref_protected":         "true",
		"runner_id":             1,
		"runner_environment":    "gitlab-hosted",
		"sha":                   "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"ci_config_ref_uri":     "gitlab.example.com/demo-group/demo-project//.gitlab-ci.yml@refs/heads/main",
		"ci_config_sha":         "714a629c0b401fdce83e847fc9589983fc6f46bc",
		"environment":           "production",
		"environment_protected": "true",
		"deployment_tier":       "production",
	}
}

// GitHubClaims are the claims of a GitHub Actions OIDC token for a workflow
// on main of demo-org/demo-repo.
func GitHubClaims(iss, aud string) map[string]any {
	return map[string]any{
		"iss":                   iss,
		"aud":                   aud,
		"sub":                   "repo:demo-org/demo-repo:ref:refs/heads/main",
		"ref":                   "refs/heads/main",
		"ref_type":              "branch",
		"ref_protected":         "true",
		"sha":                   "example-sha",
		"repository":            "demo-org/demo-repo",
		"repository_id":         "74",
		"repository_owner":      "demo-org",
		"repository_owner_id":   "65",
		"repository_visibility": "private",
		"run_id":                "example-run-id",
		"run_number":            "10",
		"run_attempt":           "2",
		"actor":                 "octocat",
		"actor_id":              "12",
		"workflow":              "deploy",
		"workflow_ref":          "demo-org/demo-repo/.github/workflows/deploy.yml@refs/heads/main",
		"job_workflow_ref":      "demo-org/demo-repo/.github/workflows/deploy.yml@refs/heads/main",
		"event_name":            "push",
		"runner_environment":    "github-hosted",
	}
}
