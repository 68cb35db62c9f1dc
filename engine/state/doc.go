// Package state owns everything Trustgate keeps beyond one request
// (DESIGN §11): the (iss, jti) pairs of one-time-use subject tokens until
// they expire (replay.go), the ids of revoked access tokens until they expire
// (revocation.go), the just-in-time requests with their reviews and history
// (access.go, transition.go, grants.go: access.Store) and the notification
// outbox (outbox.go, for engine/access/notify). Each table comes with one
// migration under migrations/ for both dialects; the column types they spell
// differently are filled in per dialect (migrate.go).
//
// One Store serves three backends with the same SQL and the same code paths:
//
//	sqlite:PATH                 an embedded SQLite file (modernc.org/sqlite, no cgo), the default
//	postgres://… postgresql://… PostgreSQL through a pgx/v5 pool, for many replicas
//	memory:                     a private in-memory SQLite database, for tests
//
// Open applies the embedded goose migrations, once even when
// several processes open a fresh database together, and refuses a database
// whose schema is newer than this binary's. A background sweeper deletes
// expired rows in small batches until Close.
//
// Every failure of the database at run time is an error that matches
// ErrUnavailable: callers fail closed on it (no token, never "active").
package state
