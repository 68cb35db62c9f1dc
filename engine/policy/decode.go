package policy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// decisionFields are the fields a decision must have; "error" and "grant"
// may be left out.
var decisionFields = []string{"allow", "identity", "subject", "roles", "scopes", "audiences", "ttl_seconds", "reasons"}

// denyErrors are the values Decision.Error may take.
var denyErrors = []string{"", "invalid_scope", "invalid_target"}

// decodeDecision reads a decision strictly from the AST value the query
// produced: an object with exactly the known fields, each of its type
// (no JSON leniency: no case folding, no numbers as strings, no nulls for
// lists); ttl_seconds a non-negative whole number; an allow names an
// identity and a subject and carries no error.
func decodeDecision(v ast.Value) (Decision, error) {
	obj, ok := v.(ast.Object)
	if !ok {
		return Decision{}, fmt.Errorf("the decision is %s, not an object", ast.ValueName(v))
	}
	var d Decision
	seen := make([]string, 0, obj.Len())
	err := obj.Iter(func(k, val *ast.Term) error {
		key, ok := k.Value.(ast.String)
		if !ok {
			return fmt.Errorf("the decision has a key that is not a string: %v", k)
		}
		name := string(key)
		seen = append(seen, name)
		return d.decodeField(name, val.Value)
	})
	if err != nil {
		return Decision{}, err
	}
	for _, f := range decisionFields {
		if !slices.Contains(seen, f) {
			return Decision{}, fmt.Errorf("the decision has no %s", f)
		}
	}
	switch {
	case !slices.Contains(denyErrors, d.Error):
		return Decision{}, fmt.Errorf("error %q is not one of invalid_scope, invalid_target", d.Error)
	case d.Allow && (d.Identity == "" || d.Subject == ""):
		return Decision{}, errors.New("an allow must name an identity and a subject")
	case d.Allow && d.Error != "":
		return Decision{}, fmt.Errorf("an allow carries error %q", d.Error)
	}
	return d, nil
}

// decodeField decodes the decision's field name from v into d; an unknown
// field is an error.
func (d *Decision) decodeField(name string, v ast.Value) error {
	var err error
	switch name {
	case "allow":
		b, ok := v.(ast.Boolean)
		if !ok {
			return fmt.Errorf("allow is %s, not a boolean", ast.ValueName(v))
		}
		d.Allow = bool(b)
	case "identity":
		d.Identity, err = decodeString(name, v)
	case "subject":
		d.Subject, err = decodeString(name, v)
	case "error":
		d.Error, err = decodeString(name, v)
	case "grant":
		d.Grant, err = decodeString(name, v)
	case "roles":
		d.Roles, err = decodeStrings(name, v)
	case "scopes":
		d.Scopes, err = decodeStrings(name, v)
	case "audiences":
		d.Audiences, err = decodeStrings(name, v)
	case "reasons":
		d.Reasons, err = decodeStrings(name, v)
	case "ttl_seconds":
		d.TTLSeconds, err = decodeSeconds(name, v)
	default:
		return fmt.Errorf("the decision has an unknown field %q", name)
	}
	return err
}

func decodeString(field string, v ast.Value) (string, error) {
	s, ok := v.(ast.String)
	if !ok {
		return "", fmt.Errorf("%s is %s, not a string", field, ast.ValueName(v))
	}
	return string(s), nil
}

func decodeStrings(field string, v ast.Value) ([]string, error) {
	arr, ok := v.(*ast.Array)
	if !ok {
		return nil, fmt.Errorf("%s is %s, not an array", field, ast.ValueName(v))
	}
	out := make([]string, arr.Len())
	for i := range arr.Len() {
		s, ok := arr.Elem(i).Value.(ast.String)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is %s, not a string", field, i, ast.ValueName(arr.Elem(i).Value))
		}
		out[i] = string(s)
	}
	return out, nil
}

func decodeSeconds(field string, v ast.Value) (int64, error) {
	n, ok := v.(ast.Number)
	if !ok {
		return 0, fmt.Errorf("%s is %s, not a number", field, ast.ValueName(v))
	}
	i, ok := n.Int64()
	if !ok || i < 0 {
		return 0, fmt.Errorf("%s is %s, not a whole number of seconds", field, n)
	}
	return i, nil
}
