// Package policy loads Trustgate's policy: OPA bundles (directories or
// .tar.gz files) holding data.trustgate.{providers,identities} and custom
// rules, compiled together with the embedded Rego library (package
// trustgate) under restricted capabilities.
//
// A Policy is immutable once loaded: its providers and identities are
// validated into typed values and indexed, and data.trustgate.decision and
// data.trustgate.explain are prepared once. Evaluation runs under a deadline
// and any result that is not exactly a Decision is an error, never an allow.
// The queries read the identities and the candidate index through
// dataStore, which builds only the entries an evaluation reads, so that a
// bundle of 100,000 identities does not sit in OPA's store (store.go).
//
// Check reports every problem of a set of bundles at once (what
// `trustgate check` prints); Load refuses bundles with any problem. A Watcher
// reloads the bundles when they change and keeps the last good policy when a
// reload fails: local bundles are watched with engine/filewatch; bundles
// given as https URLs are polled from a bundle server with OPA's bundle
// protocol (remote.go), and their last good download is cached on disk.
package policy
