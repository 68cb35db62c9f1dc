// Package server is Trustgate's HTTP layer: routing (gorilla/mux), strict
// request parsing, the mapping of engine errors to OAuth 2.0 error
// responses, per-client rate limiting, and the metrics of the HTTP layer.
//
// It knows nothing about Rego or OIDC verification: it declares the Engine
// it consumes and turns HTTP requests into engine calls. Every handler reads
// the same way: parse the request, call the engine, write the response.
// Errors become responses in exactly one function, writeError; client-facing
// messages are constants and never contain any part of the request.
package server
