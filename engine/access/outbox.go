package access

import (
	"context"
	"time"
)

// Outbox is what a notifier needs of the store: the notifications that
// transitions wrote in their own transactions, claimed for delivery and
// then marked delivered or failed. engine/state implements it.
type Outbox interface {
	// DueNotifications claims at most limit undelivered notifications due
	// by now, oldest first, counting an attempt for each and making it due
	// again only after lease: two replicas never hold one at once, and one
	// that dies while delivering gives it back when the lease ends.
	DueNotifications(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Notification, error)
	// NotificationDelivered marks notification id delivered; it is never
	// claimed again.
	NotificationDelivered(ctx context.Context, id int64) error
	// NotificationFailed records why delivering notification id failed
	// (errText must hold no secret: no URL, no token) and makes it due
	// again at next.
	NotificationFailed(ctx context.Context, id int64, next time.Time, errText string) error
}

// Notification is one outbox entry claimed for delivery to Target.
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
