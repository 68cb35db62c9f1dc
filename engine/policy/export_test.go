package policy

// PollDelay exposes pollDelay to the external tests.
var PollDelay = pollDelay
