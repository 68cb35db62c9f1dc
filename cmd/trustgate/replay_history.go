package main

import (
	"context"
	"errors"

	"github.com/trustgate/trustgate/engine/replay"
)

// openHistory opens the decision history of the state store at url.
func openHistory(context.Context, string, string) (replay.Source, func(), error) {
	return nil, nil, errors.New("--state: the decision history is not available in this build")
}
