// Package policydiff compares two policies statically: what a change to
// bundles opens and closes, per provider and identity, without traffic
// (`trustgate diff`, DESIGN §14).
//
// It reads the policies as engine/policy validates them (policy.Model) and
// classifies every change as widening (some token or request is granted
// under head that base refused), narrowing, or both. The classification is
// sound: a change it cannot prove harmless is a widening, with the reason
// said. Glob patterns are compared by their languages (engine/globlang). A
// head federation is covered only by one base federation of the same
// identity and provider that accepts every token it accepts. Rego is not
// analysed beyond recognising added deny rules: any other change of it may
// open access, and replay decides.
package policydiff
