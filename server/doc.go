// Package server is Trustgate's HTTP layer: routing (gorilla/mux), strict
// request parsing, the mapping of engine errors to OAuth 2.0 error
// responses, per-client rate limiting, and the metrics of the HTTP layer.
//
// It knows nothing about Rego or OIDC verification: each handler group
// declares, beside its handlers, the small interface it consumes
// (Exchanger, Inspector, Discovery, Status, Access; *engine.Engine meets
// them all) and turns HTTP requests into calls of it. Every handler reads
// the same way: parse the request, call the engine, write the response.
// Errors become responses in exactly one function, writeError; client-facing
// messages are constants and never contain any part of the request.
package server
