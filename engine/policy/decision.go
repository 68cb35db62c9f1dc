package policy

// Decision is what data.trustgate.decision evaluates to. A result that does not
// decode into it strictly is an evaluation error, never an allow.
type Decision struct {
	Allow      bool     `json:"allow"`
	Identity   string   `json:"identity"`
	Subject    string   `json:"subject"`
	Roles      []string `json:"roles"`
	Scopes     []string `json:"scopes"`
	Audiences  []string `json:"audiences"`
	TTLSeconds int64    `json:"ttl_seconds"`
	Reasons    []string `json:"reasons"`
	// Grant is the id of the approved request a just-in-time identity is
	// granted through ("" for a standing identity): the issued token ends
	// no later than the grant and names it.
	Grant string `json:"grant,omitempty"`
	// Error classifies a deny for the caller: "invalid_scope" when the
	// requested scopes are not all granted, "invalid_target" when a requested
	// audience is not allowed, empty for any other deny.
	Error string `json:"error,omitempty"`
}
