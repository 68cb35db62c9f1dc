package notify

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/trustgate/trustgate/engine/access"
)

// markTimeout bounds marking a notification after its delivery, which
// happens even when Run's context has just ended.
const markTimeout = 5 * time.Second

// UnknownTargetGrace is how long a notification for a target this replica
// does not know is left for another replica: during a rolling deploy that
// adds a target, replicas on the old config must not drop what the new
// ones queued. After it, the target counts as no longer configured.
const UnknownTargetGrace = time.Hour

// unknownTargetRetry is when such a notification is offered again.
const unknownTargetRetry = time.Minute

// deliver posts one claimed notification and marks the outcome: delivered,
// failed (due again after a backoff), or dropped when its target is no
// longer configured or its payload does not parse.
func (n *Notifier) deliver(ctx context.Context, note access.Notification) {
	m, err := newMessage(note.Payload, n.cfg.ConsoleURL)
	if err != nil {
		n.drop(ctx, note, "unreadable", zap.String("target", note.Target), zap.Error(err))
		return
	}
	t, ok := n.targets[note.Target]
	if !ok {
		n.unknownTarget(ctx, note, m)
		return
	}
	fields := []zap.Field{
		zap.String("target", t.Name), zap.Int64("notification_id", note.ID), zap.String("event_id", m.EventID),
		zap.String("event", string(m.Event.Type)), zap.String("request_id", m.Request.ID), zap.Int("attempt", note.Attempts),
	}
	body, h, err := render(t, m, n.cfg.Now())
	if err == nil {
		err = post(ctx, n.cfg.Client, t.URL, body, h)
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err == nil {
		n.metrics.delivered.WithLabelValues(t.Name).Inc()
		if merr := n.cfg.Outbox.NotificationDelivered(mctx, note.ID); merr != nil {
			n.log.Warn("notification delivered but not marked: it may be delivered again", append(fields, zap.Error(merr))...)
			return
		}
		n.log.Info("notification delivered", fields...)
		return
	}
	n.failed(mctx, ctx, note, fields, err)
}

// failed records a failed delivery. A delivery cut short by Run's end is
// due again at once, for another replica or the next start.
func (n *Notifier) failed(mctx, runCtx context.Context, note access.Notification, fields []zap.Field, err error) {
	next := n.cfg.Now()
	if runCtx.Err() == nil {
		n.metrics.failed.WithLabelValues(note.Target).Inc()
		next = next.Add(n.backoff(note.Attempts))
	}
	if merr := n.cfg.Outbox.NotificationFailed(mctx, note.ID, next, err.Error()); merr != nil && !errors.Is(merr, access.ErrNotFound) {
		n.log.Warn("notification failed and not marked: it is retried when its lease ends", append(fields, zap.Error(err), zap.NamedError("mark_error", merr))...)
		return
	}
	n.log.Warn("notification failed; retrying", append(fields, zap.Error(err), zap.Time("next_attempt", next))...)
}

// unknownTarget leaves a recent notification for a target this replica
// does not know to a replica that does, and drops an older one.
func (n *Notifier) unknownTarget(ctx context.Context, note access.Notification, m message) {
	if n.cfg.Now().Sub(m.Event.At) >= UnknownTargetGrace {
		n.drop(ctx, note, "unconfigured", zap.String("target", note.Target), zap.String("event_id", m.EventID))
		return
	}
	next := n.cfg.Now().Add(unknownTargetRetry)
	if err := n.cfg.Outbox.NotificationFailed(ctx, note.ID, next, "target not configured on this replica"); err != nil {
		n.log.Warn("notification for a target this replica does not know not released: it is retried when its lease ends",
			zap.String("target", note.Target), zap.Int64("notification_id", note.ID), zap.Error(err))
		return
	}
	n.log.Info("notification left to another replica: its target is not configured here",
		zap.String("target", note.Target), zap.Int64("notification_id", note.ID), zap.Time("next_attempt", next))
}

// drop marks a notification that can never be delivered as done, saying
// why in the log.
func (n *Notifier) drop(ctx context.Context, note access.Notification, reason string, fields ...zap.Field) {
	n.metrics.dropped.WithLabelValues(reason).Inc()
	fields = append(fields, zap.Int64("notification_id", note.ID), zap.String("reason", reason))
	if err := n.cfg.Outbox.NotificationDelivered(ctx, note.ID); err != nil {
		n.log.Warn("notification dropped but not marked", append(fields, zap.Error(err))...)
		return
	}
	n.log.Warn("notification dropped: its target is no longer configured or its payload is unreadable", fields...)
}
