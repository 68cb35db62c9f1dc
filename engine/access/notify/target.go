package notify

import (
	"slices"

	"github.com/trustgate/trustgate/engine/access"
)

// Format is how a target wants its notifications.
type Format string

// Formats.
const (
	// FormatSlack is a Slack incoming-webhook body: text plus blocks.
	FormatSlack Format = "slack"
	// FormatJSON is {"id", "event", ..., "request"}, signed with
	// HMAC-SHA256 (sign.go).
	FormatJSON Format = "json"
)

// Events are the events a target may subscribe to; AllEvents is the
// default. EventReviewed (an approval that is not yet enough) is offered
// too.
var AllEvents = []access.EventType{
	access.EventRequested, access.EventApproved, access.EventDenied,
	access.EventCancelled, access.EventExpired, access.EventRevoked,
}

// Target is one configured webhook.
type Target struct {
	// Name identifies the target in the outbox, logs and metrics. It must
	// stay the same across restarts: rows for a name no longer configured
	// are dropped.
	Name string
	// URL is where notifications are posted. It is a credential: never
	// logged, never in an error.
	URL string
	// Format is FormatSlack or FormatJSON.
	Format Format
	// Secret signs FormatJSON bodies. Required for FormatJSON.
	Secret []byte
	// Events are the events the target receives.
	Events []access.EventType
}

// Subscribers names, for each event, the targets that receive it: what
// access.Config.Notify should be.
func Subscribers(targets []Target) access.Subscribers {
	byEvent := map[access.EventType][]string{}
	for _, t := range targets {
		for _, e := range t.Events {
			if !slices.Contains(byEvent[e], t.Name) {
				byEvent[e] = append(byEvent[e], t.Name)
			}
		}
	}
	return func(e access.EventType) []string { return byEvent[e] }
}
