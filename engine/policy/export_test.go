package policy

// PollDelay exposes pollDelay to the external tests.
var PollDelay = pollDelay

// SpoilIdentity replaces the JSON the store keeps of identity name with
// text that does not parse, so that a test sees whether an evaluation reads
// that identity: reading it is then an error.
func SpoilIdentity(p *Policy, name string) { p.index.identities[name].data = []byte("{") }

// SpoilIndex puts a value that cannot be read as AST in the candidate
// index under emails and under provider's by, keyed "spoilt", so that a
// test sees whether an evaluation reads those mappings whole.
func SpoilIndex(p *Policy, provider string) {
	c := p.index.candidates
	c["emails"].(map[string]any)["spoilt"] = make(chan int)
	c["providers"].(map[string]any)[provider].(map[string]any)["by"].(map[string]any)["spoilt"] = make(chan int)
}
