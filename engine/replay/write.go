package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteJSON writes r as one JSON document, groups sorted.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	out.Groups = r.sorted()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&out)
}

// WriteText writes r for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	p := &printer{w: w}
	p.f("replay: %d decisions read (%d distinct inputs), %s\n", r.Read, r.Distinct, r.span())
	p.f("  unchanged      %d\n", r.Unchanged)
	p.f("  newly allowed  %d\n", r.NewlyAllowed)
	p.f("  newly denied   %d\n", r.NewlyDenied)
	p.f("  changed grant  %d%s\n", r.ChangedGrant, r.fields())
	p.f("  errors         %d\n", r.Errors)
	p.f("  not replayed   %d (never evaluated, or a shadow policy's)\n", r.Skipped)
	p.f("%s\n", r.verdict())
	for _, g := range r.sorted() {
		p.f("\n%s: identity %s, %d decision%s%s\n", g.Change, g.Identity, g.Count, plural(g.Count), detail(g.Detail))
		p.f("  example: decision %s at %s\n", g.Example.DecisionID, g.Example.At.UTC().Format(time.RFC3339))
		if len(g.Example.Reasons) > 0 {
			p.f("  reasons: %s\n", strings.Join(g.Example.Reasons, "; "))
		}
		if g.Example.Error != "" {
			p.f("  error: %s\n", g.Example.Error)
		}
		if len(g.Example.Erased) > 0 {
			p.f("  masked (absent when replayed): %s\n", strings.Join(g.Example.Erased, ", "))
		}
		p.f("  input: %s\n", g.Example.Input)
	}
	return p.err
}

// WriteMarkdown writes r as a merge request comment: a summary line, the
// counts, then a table of the changed decisions.
func (r *Report) WriteMarkdown(w io.Writer) error {
	p := &printer{w: w}
	p.f("**trustgate replay**: %s (%d decisions, %s)\n\n", r.verdict(), r.Read, r.span())
	p.f("| read | unchanged | newly allowed | newly denied | changed grant | errors |\n|---:|---:|---:|---:|---:|---:|\n")
	p.f("| %d | %d | %d | %d | %d%s | %d |\n", r.Read, r.Unchanged, r.NewlyAllowed, r.NewlyDenied, r.ChangedGrant, r.fields(), r.Errors)
	gs := r.sorted()
	if len(gs) == 0 {
		return p.err
	}
	p.f("\n| identity | change | decisions | example |\n|---|---|---:|---|\n")
	for _, g := range gs {
		change := string(g.Change)
		if g.Widens {
			change = "**" + change + "**"
		}
		p.f("| `%s` | %s%s | %d | <details><summary>%s</summary>`%s`</details> |\n", g.Identity, change, cell(detail(g.Detail)),
			g.Count, g.Example.DecisionID, cell(string(g.Example.Input)))
	}
	return p.err
}

func (r *Report) verdict() string {
	if r.NewAccess {
		return "NEW ACCESS: head grants what base did not"
	}
	return "no new access"
}

func (r *Report) span() string {
	if r.Oldest == nil {
		return "no decisions"
	}
	return "from " + r.Oldest.UTC().Format(time.RFC3339) + " to " + r.Newest.UTC().Format(time.RFC3339)
}

func (r *Report) fields() string {
	var parts []string
	for _, f := range []string{"identity", "roles", "scopes", "audiences", "ttl"} {
		if n := r.ChangedFields[f]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, n))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func detail(d string) string {
	if d == "" {
		return ""
	}
	return ": " + d
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}

// printer keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
