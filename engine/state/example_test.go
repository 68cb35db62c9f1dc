package state_test

import (
	"context"
	"fmt"
	"time"

	"github.com/trustgate/trustgate/engine/state"
)

// A one-time-use token is fresh once; a revoked token id stays revoked
// until the token would have expired.
func ExampleStore() {
	ctx := context.Background()
	s, err := state.Open(ctx, "memory:", state.Options{}) // sqlite:PATH or postgres://… in production
	if err != nil {
		panic(err)
	}
	defer func() { _ = s.Close() }()
	exp := time.Now().Add(5 * time.Minute)
	first, _ := s.Use(ctx, "https://gitlab.com", "job-42", exp)
	again, _ := s.Use(ctx, "https://gitlab.com", "job-42", exp)
	_ = s.Revoke(ctx, "issued-jti", exp)
	revoked, _ := s.Revoked(ctx, "issued-jti")
	fmt.Println(first, again, revoked)
	// Output: true false true
}
