// Package notify delivers the notifications of just-in-time access (DESIGN
// §13) from the store's outbox to webhooks: Slack incoming webhooks and
// signed JSON.
//
// A transition writes its notifications in its own transaction, one row per
// subscribed target; a Notifier polls the outbox, claims due rows for a
// lease (so two replicas never deliver one row at once, and a row claimed by
// a replica that died is retried once its lease ends), posts each and marks
// it delivered, or failed with a retry time that backs off exponentially
// with jitter. Delivery is at least once and never on a request's path;
// the outbox is the only state, so a restart loses nothing.
//
// A webhook URL is a credential (Slack's is): it is never logged and never
// kept in an error. No notification carries a token: requests hold none.
package notify
