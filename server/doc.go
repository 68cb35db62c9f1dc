// Package server is Trustgate's HTTP layer: routing (gorilla/mux), request
// parsing, the mapping of engine errors to OAuth error responses (in one
// function, writeError), middleware and HTTP metrics. It knows nothing
// about Rego or go-oidc: it calls the Engine interface it declares.
package server
