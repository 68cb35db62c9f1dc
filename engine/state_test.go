package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/trustgate/trustgate/engine"
	"github.com/trustgate/trustgate/engine/state"
)

// newStore is an in-memory state store, closed when t ends.
func newStore(t testing.TB) *state.Store {
	t.Helper()
	s, err := state.Open(context.Background(), "memory:", state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// oneTimeUse makes f's provider one-time-use and loads that policy.
func (f *fixture) oneTimeUse(t *testing.T) {
	t.Helper()
	data := strings.Replace(bundleData(f.issuer.URL()), "platform: gitlab", "platform: gitlab\n      one_time_use: true", 1)
	f.reload(t, map[string]string{"data.yaml": data})
}

func TestAOneTimeUseTokenIsExchangedOnce(t *testing.T) {
	f := newFixture(t)
	f.oneTimeUse(t)
	raw := f.token(t, map[string]any{"jti": "job-1"})
	if _, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw}); err != nil {
		t.Fatal(err)
	}
	if tok, err := f.eng.Exchange(context.Background(), engine.Request{SubjectToken: raw}); tok != nil || !errors.Is(err, engine.ErrInvalidToken) {
		t.Fatalf("the second exchange: %v, %v; want ErrInvalidToken", tok, err)
	}
}

func TestWithTheStoreDownOnlyWhatNeedsStateFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	live, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	// A provider without one_time_use never touches the store.
	if _, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, nil)}); err != nil {
		t.Fatalf("a plain exchange with the store down: %v", err)
	}
	if in, err := f.eng.Inspect(ctx, live.AccessToken); in != nil || !errors.Is(err, engine.ErrStateUnavailable) || errors.Is(err, engine.ErrInactive) {
		t.Fatalf("Inspect with the store down: %v, %v; want ErrStateUnavailable", in, err)
	}
	if err := f.eng.Revoke(ctx, live.AccessToken); !errors.Is(err, engine.ErrStateUnavailable) {
		t.Fatalf("Revoke with the store down: %v; want ErrStateUnavailable, not a silent success", err)
	}
	f.oneTimeUse(t)
	tok, err := f.eng.Exchange(ctx, engine.Request{SubjectToken: f.token(t, map[string]any{"jti": "job-2"})})
	if tok != nil || !errors.Is(err, engine.ErrStateUnavailable) || errors.Is(err, engine.ErrInvalidToken) {
		t.Fatalf("a one-time-use exchange with the store down: %v, %v; want ErrStateUnavailable", tok, err)
	}
}
