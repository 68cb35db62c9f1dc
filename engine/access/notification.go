package access

// Notification is one outbox entry claimed for delivery to Target: the
// store writes one per target and event in the transition's transaction
// (Subscribers names the targets), and a notifier (engine/access/notify)
// claims, delivers and marks it.
type Notification struct {
	ID     int64
	Target string
	// Attempts counts the claims of this notification, this one included.
	Attempts int
	// Payload is the JSON of a Notice.
	Payload []byte
}

// Notice is what a notification tells: the event and the request as they
// were at the transition.
type Notice struct {
	Event   Event   `json:"event"`
	Request Request `json:"request"`
}
