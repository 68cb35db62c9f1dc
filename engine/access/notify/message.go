package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/trustgate/trustgate/engine/access"
)

// message is one notification ready to be formatted: the notice the
// transition wrote, its stable event id and the request's console link.
type message struct {
	access.Notice
	// EventID is the same for every delivery of one event, to every
	// target and from every replica: receivers dedupe on it.
	EventID string
	// Link is the request in the console; "" when no console URL is set.
	Link string
}

// newMessage reads a notification's payload.
func newMessage(payload []byte, consoleURL string) (message, error) {
	var m message
	if err := json.Unmarshal(payload, &m.Notice); err != nil {
		return message{}, fmt.Errorf("unreadable notification payload: %w", err)
	}
	if m.Request.ID == "" || m.Event.Type == "" {
		return message{}, fmt.Errorf("notification payload has no request id or event")
	}
	m.EventID = eventID(m.Notice)
	if consoleURL != "" {
		m.Link = strings.TrimSuffix(consoleURL, "/") + "/requests/" + m.Request.ID
	}
	return m, nil
}

// eventID is "<request id>.<n>", n the event's place in the request's
// history (1 is requested), which the transition fixed; an event not found
// there is named by its type and time instead.
func eventID(n access.Notice) string {
	for i := len(n.Request.History) - 1; i >= 0; i-- {
		e := n.Request.History[i]
		if e.Type == n.Event.Type && e.At.Equal(n.Event.At) {
			return fmt.Sprintf("%s.%d", n.Request.ID, i+1)
		}
	}
	return fmt.Sprintf("%s.%s.%d", n.Request.ID, n.Event.Type, n.Event.At.UnixNano())
}

// jsonBody is the FormatJSON body: the event, flattened, and the request
// as the transition left it.
type jsonBody struct {
	ID      string           `json:"id"`
	Event   access.EventType `json:"event"`
	Actor   access.Person    `json:"actor"`
	Reason  string           `json:"reason,omitempty"`
	At      time.Time        `json:"at"`
	URL     string           `json:"url,omitempty"`
	Request access.Request   `json:"request"`
}

// render formats m for a target: the body and the headers to send with it.
// JSON bodies are signed at now.
func render(t Target, m message, now time.Time) ([]byte, http.Header, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "trustgate-notify")
	h.Set(HeaderEvent, string(m.Event.Type))
	h.Set(HeaderEventID, m.EventID)
	switch t.Format {
	case FormatSlack:
		body, err := json.Marshal(slackBody(m))
		return body, h, err
	case FormatJSON:
		body, err := json.Marshal(jsonBody{
			ID: m.EventID, Event: m.Event.Type, Actor: m.Event.Actor, Reason: m.Event.Reason,
			At: m.Event.At, URL: m.Link, Request: m.Request,
		})
		if err != nil {
			return nil, nil, err
		}
		ts, sig := Sign(t.Secret, now, body)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		return body, h, nil
	default:
		return nil, nil, fmt.Errorf("unknown format %q", t.Format)
	}
}
