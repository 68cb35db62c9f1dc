// Package scope owns the syntax of OAuth scopes (RFC 6749 §3.3): what a
// bundle may grant and what a caller may ask for.
package scope

// Valid reports whether s is one RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), printable ASCII without space, '"' or '\'.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
