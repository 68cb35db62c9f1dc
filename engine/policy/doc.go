// Package policy loads bundles (directories or .tar.gz, optionally signed),
// validates their data against the data model, compiles them with the
// embedded policy library under restricted capabilities, and evaluates
// data.trustgate.decision as a prepared query. A Policy is immutable; the
// Watcher builds a new one when a bundle changes and never hands out a
// broken or empty one.
package policy
