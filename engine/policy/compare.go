package policy

import (
	"fmt"
	"strings"
)

// GrantChanges names what differs between two allows (identity, roles,
// scopes, audiences, ttl) and whether head grants more than base: another
// identity, a role, scope or audience base did not grant, or a longer ttl.
// Replay and shadow bundles compare decisions with it.
func GrantChanges(base, head Decision) (fields []string, widens bool) {
	if base.Identity != head.Identity {
		fields, widens = append(fields, "identity"), true
	}
	for _, f := range []struct {
		name       string
		base, head []string
	}{{"roles", base.Roles, head.Roles}, {"scopes", base.Scopes, head.Scopes}, {"audiences", base.Audiences, head.Audiences}} {
		if !subset(f.base, f.head) || !subset(f.head, f.base) {
			fields = append(fields, f.name)
			widens = widens || !subset(f.head, f.base)
		}
	}
	if base.TTLSeconds != head.TTLSeconds {
		fields = append(fields, "ttl")
		widens = widens || head.TTLSeconds > base.TTLSeconds
	}
	return fields, widens
}

// DescribeChanges says fields of GrantChanges in words, before → after:
// "scopes [read] → [read write]".
func DescribeChanges(base, head Decision, fields []string) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		var before, after string
		switch f {
		case "identity":
			before, after = base.Identity, head.Identity
		case "roles":
			before, after = words(base.Roles), words(head.Roles)
		case "scopes":
			before, after = words(base.Scopes), words(head.Scopes)
		case "audiences":
			before, after = words(base.Audiences), words(head.Audiences)
		case "ttl":
			before, after = fmt.Sprintf("%ds", base.TTLSeconds), fmt.Sprintf("%ds", head.TTLSeconds)
		}
		parts = append(parts, f+" "+before+" → "+after)
	}
	return strings.Join(parts, "; ")
}

func words(ss []string) string { return "[" + strings.Join(ss, " ") + "]" }
