// Package outage logs the outages of something Trustgate depends on (the
// state store, a bundle server, an issuer's JWKS endpoint) as events, not as
// one line per refused request: an error line when it stops answering,
// naming it and the first error; while it stays down, a summary at most
// every SummaryEvery (30s by default) with the failures and the requests
// refused, by kind, since the last line; and one line when it answers again,
// with the outage's length. Requests refused meanwhile stay in the decision
// log and the metrics, which is where a per-request record belongs.
package outage
