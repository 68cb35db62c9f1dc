package access

import (
	"encoding/json"
	"fmt"

	"github.com/trustgate/trustgate/engine/policy"
	"github.com/trustgate/trustgate/engine/verify"
)

// Binding says which later tokens a grant covers (jit.bind): the same
// provider and sub (subject), the same project (project), project and ref
// (ref), or project and pipeline (pipeline). Only the fields of its kind
// are set.
type Binding struct {
	Kind     string `json:"kind"`
	Provider string `json:"provider"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"sub,omitempty"`
	Project  string `json:"project,omitempty"`
	Ref      string `json:"ref,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
}

// Key is the binding as one string the store indexes: equal keys, equal
// bindings. It is a JSON array, so no field can run into another.
func (b Binding) Key() string {
	k, _ := json.Marshal([]string{b.Kind, b.Issuer, b.Subject, b.Project, b.Ref, b.Pipeline})
	return string(k)
}

// BindingFor is the binding of kind for a verified token. A token that
// lacks what the kind needs (a generic token has no project) cannot be
// bound: ErrUnbindable.
func BindingFor(kind string, p Party) (Binding, error) {
	b := Binding{Kind: kind, Provider: p.Provider, Issuer: p.Issuer}
	project, ref, pipeline := platformFacts(p)
	switch kind {
	case policy.BindSubject:
		b.Subject = p.Subject()
	case policy.BindProject:
		b.Project = project
	case policy.BindRef:
		b.Project, b.Ref = project, ref
	case policy.BindPipeline:
		b.Project, b.Pipeline = project, pipeline
	default:
		return Binding{}, fmt.Errorf("%w: unknown binding %q", ErrUnbindable, kind)
	}
	if b.Subject == "" && b.Project == "" || kind == policy.BindRef && b.Ref == "" || kind == policy.BindPipeline && b.Pipeline == "" {
		return Binding{}, fmt.Errorf("%w: a %s token of provider %s has no %s to bind a grant to", ErrUnbindable, p.Platform, p.Provider, kind)
	}
	return b, nil
}

// platformFacts reads a token's project, ref and pipeline the way its
// platform writes them: GitLab project_path, ref_type:ref and pipeline_id;
// GitHub repository, ref and run_id. A generic token has none of them.
func platformFacts(p Party) (project, ref, pipeline string) {
	switch p.Platform {
	case verify.PlatformGitLab:
		project, pipeline = p.claim("project_path"), p.claim("pipeline_id")
		if t, r := p.claim("ref_type"), p.claim("ref"); t != "" && r != "" {
			ref = t + ":" + r
		}
	case verify.PlatformGitHub:
		project, ref, pipeline = p.claim("repository"), p.claim("ref"), p.claim("run_id")
	}
	return project, ref, pipeline
}
