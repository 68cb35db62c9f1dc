package server

import "strings"

// lookup finds the route of a request path: by its exact path, or by a
// path template (/v1/access/requests/{id}) whose {name} segments each match
// one non-empty segment, as gorilla/mux's default pattern does. Metrics and
// logs label a request by the route's path, never by the raw path.
func (s *Server) lookup(path string) (*route, bool) {
	if rt, ok := s.known[path]; ok {
		return rt, true
	}
	for _, rt := range s.templated {
		if matchTemplate(rt.path, path) {
			return rt, true
		}
	}
	return nil, false
}

// matchTemplate reports whether path has template's segments, a {name}
// segment standing for any non-empty one.
func matchTemplate(template, path string) bool {
	want, got := strings.Split(template, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		isVar := strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}")
		if isVar && got[i] == "" || !isVar && w != got[i] {
			return false
		}
	}
	return true
}
