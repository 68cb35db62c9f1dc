package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// Slack's limits on block text (https://api.slack.com/reference/block-kit/blocks).
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
)

// slackMessage is an incoming-webhook body: text for notifications and
// clients without blocks, and the blocks.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
	// Elements are a context block's texts or an actions block's buttons.
	Elements []any `json:"elements,omitempty"`
}

type slackButton struct {
	Type string    `json:"type"` // button
	Text slackText `json:"text"`
	URL  string    `json:"url"`
}

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

var headlines = map[access.EventType]string{
	access.EventRequested: "Access requested",
	access.EventReviewed:  "Access approved, more approvals needed",
	access.EventApproved:  "Access granted",
	access.EventDenied:    "Access denied",
	access.EventCancelled: "Access request cancelled",
	access.EventExpired:   "Access expired",
	access.EventRevoked:   "Access revoked",
}

// slackBody is m as Slack shows it: who asked for which identity, the
// requester's facts, risk, reason, approvals, and a button to the console.
// Everything a requester wrote is escaped, so it cannot mention a channel
// or hide a link.
func slackBody(m message) slackMessage {
	r := m.Request
	head := headlines[m.Event.Type]
	if head == "" {
		head = "Access " + string(m.Event.Type)
	}
	head += ": " + r.Identity
	summary := fmt.Sprintf("%s for %s (risk %s, %d of %d approvals)", head, who(r.Requester.Person), r.Risk, r.Approvals(), r.ApprovalsRequired)
	if m.Link != "" {
		summary += ": " + m.Link
	}
	body := fmt.Sprintf("*Reason:* %s", escape(r.Reason))
	if r.Ticket != "" {
		body += fmt.Sprintf("\n*Ticket:* %s", escape(r.Ticket))
	}
	body += fmt.Sprintf("\n*Scopes:* %s", escape(scopesText(r)))
	if r.StartsAt != nil {
		body += fmt.Sprintf("\n*Starts:* %s", r.StartsAt.UTC().Format(time.RFC3339))
	}
	if m.Event.Type != access.EventRequested && m.Event.Type != access.EventExpired {
		body += fmt.Sprintf("\n*%s by* %s", strings.ToUpper(string(m.Event.Type[:1]))+string(m.Event.Type[1:]), escape(who(m.Event.Actor)))
		if m.Event.Reason != "" {
			body += ": " + escape(m.Event.Reason)
		}
	}
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: cut(head, slackHeaderMax)}},
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: cut(body, slackSectionMax)}, Fields: slackFields(m)},
		{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: "request " + escape(r.ID) + " · event " + escape(m.EventID)}}},
	}
	if m.Link != "" {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []any{
			slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: "Open in the console"}, URL: m.Link},
		}})
	}
	return slackMessage{Text: escape(summary), Blocks: blocks}
}

// scopesText is what a grant of r carries, in words.
func scopesText(r access.Request) string {
	text := "none"
	if len(r.Scopes) > 0 {
		text = strings.Join(r.Scopes, ", ")
	}
	if r.IdentityScopes {
		text = "all of the identity's: " + text
	}
	return text
}

// slackFields are the request's facts, at most 10 (Slack's limit).
func slackFields(m message) []slackText {
	r := m.Request
	f := r.Requester.Facts
	facts := [][2]string{
		{"Identity", r.Identity},
		{"Requester", who(r.Requester.Person)},
		{"Project", first(f["project_path"], f["repository"])},
		{"Ref", first(f["ref"])},
		{"Pipeline", first(f["pipeline_id"], f["run_id"])},
		{"Actor", first(f["user_login"], f["actor"], f["user_email"])},
		{"Risk", r.Risk},
		{"Approvals", fmt.Sprintf("%d of %d", r.Approvals(), r.ApprovalsRequired)},
		{expiresLabel(r.State), r.ExpiresAt.UTC().Format(time.RFC3339)},
	}
	out := make([]slackText, 0, len(facts))
	for _, kv := range facts {
		if kv[1] != "" {
			out = append(out, slackText{Type: "mrkdwn", Text: cut("*"+kv[0]+"*\n"+escape(kv[1]), slackFieldMax)})
		}
	}
	return out
}

func expiresLabel(s access.State) string {
	switch s {
	case access.StatePending:
		return "Lapses at"
	case access.StateApproved:
		return "Grant ends at"
	default:
		return "Ended at"
	}
}

// who names a person: their name when the token had one, else their sub.
func who(p access.Person) string {
	if p.Name != "" {
		return p.Name
	}
	if p.Subject != "" {
		return p.Subject
	}
	return "trustgate"
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// escape makes text literal in Slack mrkdwn: &, < and > are the only
// characters Slack asks to escape, and the ones links and mentions need.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n bytes of valid UTF-8, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
