// Package replay re-evaluates recorded decisions (decision-log records or
// the state store's decision history) under a candidate policy and reports
// what would change: decisions newly allowed, newly denied, grants that
// changed, grouped by identity and change, each group with one example
// input (DESIGN §14, `trustgate replay`).
//
// Every input is rebuilt and evaluated through engine.Evaluate, the path
// exchanges take, at the `now` it was recorded with and with the grants it
// saw. Records are read one at a time, so a history larger than memory
// replays in constant space: only the counts and one example per group are
// kept.
package replay
