package policy

// PollDelay exposes pollDelay to the external tests.
var PollDelay = pollDelay

// SpoilIdentity replaces the JSON the store keeps of identity name with
// text that does not parse, so that a test sees whether an evaluation reads
// that identity: reading it is then an error.
func SpoilIdentity(p *Policy, name string) { p.index.identities[name].data = []byte("{") }
