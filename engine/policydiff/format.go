package policydiff

import (
	"fmt"
	"io"
	"strings"
)

// Summary is the report in one line.
func (r *Report) Summary() string {
	counts := map[Effect]int{}
	total := 0
	r.each(func(_ string, c Change) {
		counts[c.Effect]++
		total++
	})
	verdict := "no new access"
	if r.NewAccess {
		verdict = "NEW ACCESS"
	}
	noun := "changes"
	if total == 1 {
		noun = "change"
	}
	return fmt.Sprintf("%s: %d %s (%d widen, %d narrow, %d both, %d no effect)",
		verdict, total, noun, counts[Widens], counts[Narrows], counts[Both], counts[None])
}

// each calls fn with every top-level change and the section it is in.
func (r *Report) each(fn func(section string, c Change)) {
	for _, s := range r.Providers {
		for _, c := range s.Changes {
			fn("provider "+s.Name, c)
		}
	}
	for _, s := range r.Identities {
		for _, c := range s.Changes {
			fn("identity "+s.Name, c)
		}
	}
	for _, c := range r.Policy {
		fn("policy", c)
	}
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.Summary() + "\n")
	sections := func(kind string, ss []Section) {
		for _, s := range ss {
			fmt.Fprintf(&b, "\n%s %s (%s): %s\n", kind, s.Name, s.Kind, s.Effect)
			for _, c := range s.Changes {
				writeChange(&b, c, "  ")
			}
		}
	}
	sections("provider", r.Providers)
	sections("identity", r.Identities)
	if len(r.Policy) > 0 {
		b.WriteString("\npolicy:\n")
		for _, c := range r.Policy {
			writeChange(&b, c, "  ")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeChange(b *strings.Builder, c Change, indent string) {
	fmt.Fprintf(b, "%s%s %s: %s", indent, c.What, c.Kind, c.Effect)
	if c.Before != "" || c.After != "" {
		fmt.Fprintf(b, "\n%s  %s → %s", indent, orNone(c.Before), orNone(c.After))
	}
	if c.Example != "" {
		fmt.Fprintf(b, "\n%s  newly accepted, for example: %s", indent, c.Example)
	}
	if c.Why != "" {
		fmt.Fprintf(b, "\n%s  why: %s", indent, c.Why)
	}
	b.WriteString("\n")
	for _, sub := range c.Conditions {
		writeChange(b, sub, indent+"    ")
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// WriteMarkdown writes the report as a merge request comment: the summary,
// then a table per provider and identity, then the policy's changes.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	icon := "✅"
	if r.NewAccess {
		icon = "⚠️"
	}
	fmt.Fprintf(&b, "### %s trustgate diff: %s\n", icon, r.Summary())
	sections := func(kind string, ss []Section) {
		for _, s := range ss {
			fmt.Fprintf(&b, "\n#### %s `%s` (%s): %s\n\n", kind, mdCell(s.Name), s.Kind, s.Effect)
			table(&b, s.Changes)
		}
	}
	sections("Provider", r.Providers)
	sections("Identity", r.Identities)
	if len(r.Policy) > 0 {
		b.WriteString("\n#### Policy\n\n")
		table(&b, r.Policy)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func table(b *strings.Builder, changes []Change) {
	b.WriteString("| change | before | after | effect | newly accepted | why |\n|---|---|---|---|---|---|\n")
	var row func(c Change, prefix string)
	row = func(c Change, prefix string) {
		fmt.Fprintf(b, "| %s%s %s | %s | %s | **%s** | %s | %s |\n", prefix, mdCell(c.What), c.Kind,
			code(c.Before), code(c.After), c.Effect, code(c.Example), mdCell(c.Why))
		for _, sub := range c.Conditions {
			row(sub, prefix+"↳ ")
		}
	}
	for _, c := range changes {
		row(c, "")
	}
}

// mdCell escapes what would break a table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.ReplaceAll(mdCell(s), "`", "'") + "`"
}
