package server

// RouteMethods is each route of the router, by path (a template for
// /v1/access/requests/{id}...), with its methods, for the OpenAPI test.
func (s *Server) RouteMethods() map[string][]string {
	out := make(map[string][]string, len(s.routes))
	for _, rt := range s.routes {
		out[rt.path] = rt.methods
	}
	return out
}
