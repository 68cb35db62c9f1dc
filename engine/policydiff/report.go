package policydiff

// Effect is what a change does to access: it widens it, narrows it, both,
// or neither.
type Effect int

// Effects combine as bits: Widens|Narrows is both.
const (
	None    Effect = 0
	Widens  Effect = 1
	Narrows Effect = 2
	Both           = Widens | Narrows
)

func (e Effect) String() string {
	switch e {
	case Widens:
		return "widens"
	case Narrows:
		return "narrows"
	case Both:
		return "widens and narrows"
	}
	return "no effect"
}

// MarshalText writes the effect as its words.
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// Change is one thing that differs between base and head.
type Change struct {
	// What names what changed: "scopes", "federation 1 (provider gitlab)",
	// "claim project_path".
	What   string `json:"what"`
	Kind   string `json:"kind"` // added, removed or changed
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Effect Effect `json:"effect"`
	// Why says how the effect was decided, when it is not plain.
	Why string `json:"why,omitempty"`
	// Example is something head accepts that base refused, for a widening
	// that has one: project_path=my-group/x.
	Example string `json:"example,omitempty"`
	// Conditions are a changed federation's changed conditions.
	Conditions []Change `json:"conditions,omitempty"`
}

// The kinds of change.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Section is one provider or identity that differs.
type Section struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Effect  Effect   `json:"effect"`
	Changes []Change `json:"changes"`
}

// Report is everything that differs between base and head.
type Report struct {
	// Effect is every change's effect together; NewAccess says whether it
	// widens.
	Effect     Effect    `json:"effect"`
	NewAccess  bool      `json:"new_access"`
	Providers  []Section `json:"providers"`
	Identities []Section `json:"identities"`
	// Policy are the changes outside any one provider or identity: risk
	// levels, Rego, other data, and identities chosen anew when none is
	// named.
	Policy []Change `json:"policy"`
}

// effectOf combines the effects of changes.
func effectOf(changes []Change) Effect {
	var e Effect
	for _, c := range changes {
		e |= c.Effect
	}
	return e
}

func (r *Report) finish() {
	for _, s := range append(r.Providers, r.Identities...) {
		r.Effect |= s.Effect
	}
	r.Effect |= effectOf(r.Policy)
	r.NewAccess = r.Effect&Widens != 0
}
