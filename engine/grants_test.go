package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/access"
	"github.com/trustgate/trustgate/engine/policy"
)

// grantPolicy is a bundle with a just-in-time identity jit and a standing
// identity deploy.
func grantPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	data := `trustgate:
  providers:
    gitlab: {issuer: https://gitlab.example.com, platform: gitlab, audiences: [sts]}
    corp: {issuer: https://login.example.com, platform: generic, audiences: [sts]}
  identities:
    deploy:
      scopes: [read]
      federations: [{provider: gitlab, claims: {project_path: g/p}}]
    jit:
      scopes: [read, write]
      audiences: [https://db.example.com, https://other.example.com]
      access: just-in-time
      jit: {max_duration: 4h, bind: ref, approvers: [{provider: corp, claims: {groups: x}}]}
      federations: [{provider: gitlab, claims: {project_path: g/p}}]
`
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(context.Background(), []string{dir}, policy.Options{ServerIssuer: "https://sts.test"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTheEngineHoldsAnAllowToItsGrantWhateverThePolicySays holds
// holdToGrant to its contract: a just-in-time identity is granted only
// through an active grant of that identity that binds the token, with no
// more scopes or audiences than it carries, and ends with it; anything
// else is refused, never a token.
func TestTheEngineHoldsAnAllowToItsGrantWhateverThePolicySays(t *testing.T) {
	pol := grantPolicy(t)
	now := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	end := now.Add(time.Hour)
	grant := func(id string, edit func(*access.Grant)) access.Grant {
		g := access.Grant{ID: id, Identity: "jit", Binds: true, Scopes: []string{"read"}, StartsAt: now.Add(-time.Minute), EndsAt: end}
		if edit != nil {
			edit(&g)
		}
		return g
	}
	grants := []access.Grant{
		grant("g-read", nil),
		grant("g-other-binding", func(g *access.Grant) { g.Binds = false }),
		grant("g-other-identity", func(g *access.Grant) { g.Identity = "deploy" }),
		grant("g-later", func(g *access.Grant) { g.StartsAt = now.Add(time.Minute) }),
		grant("g-ended", func(g *access.Grant) { g.EndsAt = now }),
		grant("g-db", func(g *access.Grant) { g.Audiences = []string{"https://db.example.com"} }),
	}
	jit := policy.Decision{Allow: true, Identity: "jit", Scopes: []string{"read"}}
	with := func(d policy.Decision, edit func(*policy.Decision)) policy.Decision {
		edit(&d)
		return d
	}
	db := []string{"https://db.example.com"}
	tests := []struct {
		name    string
		d       policy.Decision
		aud     []string
		want    time.Time
		wantErr error
	}{
		{"A standing identity without a grant has no end of its own.", policy.Decision{Allow: true, Identity: "deploy"}, nil, time.Time{}, nil},
		{"A just-in-time identity through a grant that binds the token ends with it.", with(jit, func(d *policy.Decision) { d.Grant = "g-read" }), nil, end, nil},
		{"A just-in-time identity without a grant is refused.", jit, nil, time.Time{}, ErrInternal},
		{"A grant the engine never handed the policy is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-forged" }), nil, time.Time{}, ErrInternal},
		{"A grant that does not bind the token is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-other-binding" }), nil, time.Time{}, ErrInternal},
		{"A grant of another identity is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-other-identity" }), nil, time.Time{}, ErrInternal},
		{"A grant that has not started is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-later" }), nil, time.Time{}, ErrDenied},
		{"A grant that has ended is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-ended" }), nil, time.Time{}, ErrDenied},
		{"A scope the grant does not carry is refused.", with(jit, func(d *policy.Decision) { d.Grant, d.Scopes = "g-read", []string{"read", "write"} }), nil, time.Time{}, ErrInternal},
		{"An audience the grant does not carry is refused.", with(jit, func(d *policy.Decision) { d.Grant = "g-db" }), []string{"https://other.example.com"}, time.Time{}, ErrInternal},
		{"The audience the grant carries is granted.", with(jit, func(d *policy.Decision) { d.Grant = "g-db" }), db, end, nil},
		{"A standing identity through a grant is refused.", policy.Decision{Allow: true, Identity: "deploy", Grant: "g-read"}, nil, time.Time{}, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := holdToGrant(pol, tt.d, tt.aud, grants, now)
			if !got.Equal(tt.want) || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("holdToGrant = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
