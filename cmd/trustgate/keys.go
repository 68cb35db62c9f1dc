package main

import (
	"context"
	"fmt"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/trustgate/trustgate/cmd/trustgate/config"
	"github.com/trustgate/trustgate/engine/filewatch"
	"github.com/trustgate/trustgate/engine/mint"
)

// keySource loads the signing key ring from signing config and reloads it
// when a key file changes (rotation without restart).
type keySource struct {
	cfg     config.Signing
	log     *zap.Logger
	current *mint.KeyRing
}

func newKeySource(cfg config.Signing, log *zap.Logger) (*keySource, error) {
	ks := &keySource{cfg: cfg, log: log}
	if cfg.KeyFile == "" {
		k, err := mint.Generate(cfg.Algorithm)
		if err != nil {
			return nil, err
		}
		ks.current, err = mint.NewKeyRing(k)
		if err != nil {
			return nil, err
		}
		log.Warn("EPHEMERAL SIGNING KEY: signing.key_file is not set; issued tokens stop verifying when this process stops "+
			"and replicas will not trust each other's tokens", zap.String("kid", k.ID), zap.String("algorithm", k.Algorithm))
		return ks, nil
	}
	ring, err := ks.load()
	if err != nil {
		return nil, err
	}
	ks.current = ring
	return ks, nil
}

func (ks *keySource) ring() *mint.KeyRing { return ks.current }

func (ks *keySource) load() (*mint.KeyRing, error) {
	cur, err := mint.LoadKeyFile(ks.cfg.KeyFile, ks.cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("signing.key_file: %w", err)
	}
	prev := make([]mint.Key, 0, len(ks.cfg.PreviousKeyFiles))
	for i, path := range ks.cfg.PreviousKeyFiles {
		k, err := loadAnyKey(path)
		if err != nil {
			return nil, fmt.Errorf("signing.previous_key_files[%d]: %w", i, err)
		}
		prev = append(prev, k)
	}
	return mint.NewKeyRing(cur, prev...)
}

// loadAnyKey loads a previous key, whatever algorithm it was used with.
func loadAnyKey(path string) (mint.Key, error) {
	var firstErr error
	for _, alg := range []string{mint.ES256, mint.EdDSA, mint.RS256} {
		k, err := mint.LoadKeyFile(path, alg)
		if err == nil {
			return k, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return mint.Key{}, firstErr
}

// watch reloads the ring when a key file changes (written in place,
// replaced by rename, a Kubernetes Secret's ..data swap) and hands it to
// set. A ring that fails to load is logged and the current one keeps
// signing. It returns nil when ctx ends, an error if the file watcher
// stops: a key watcher that sees nothing must not pass for one that sees no
// change.
func (ks *keySource) watch(ctx context.Context, set func(*mint.KeyRing)) error {
	if ks.cfg.KeyFile == "" {
		<-ctx.Done()
		return nil
	}
	fw, err := filewatch.New(filewatch.Config{
		Paths:  append([]string{ks.cfg.KeyFile}, ks.cfg.PreviousKeyFiles...),
		Logger: ks.log,
	})
	if err != nil {
		return fmt.Errorf("watch signing keys: %w", err)
	}
	return ks.follow(ctx, fw, set)
}

// follow runs fw, reloading the ring after every change.
func (ks *keySource) follow(ctx context.Context, fw *filewatch.Watcher, set func(*mint.KeyRing)) error {
	if err := fw.Run(ctx, func() { ks.reload(set) }); err != nil {
		return fmt.Errorf("watch signing keys: %w", err)
	}
	return nil
}

// reload loads the key files and hands the ring to set unless it holds
// exactly the keys of the current one.
func (ks *keySource) reload(set func(*mint.KeyRing)) {
	ring, err := ks.load()
	if err != nil {
		ks.log.Error("signing keys reload refused; the current key keeps signing", zap.Error(err))
		return
	}
	if sameKeys(ring, ks.current) {
		return
	}
	ks.current = ring
	set(ring)
	ks.log.Info("signing keys reloaded", zap.String("kid", ring.CurrentKeyID()), zap.Int("published", len(ring.JWKS().Keys)))
}

// sameKeys reports whether a and b sign with the same key and publish the
// same keys in the same order. A kid is the RFC 7638 thumbprint of the
// public key, so equal kids and algorithms are equal key material.
func sameKeys(a, b *mint.KeyRing) bool {
	if a.CurrentKeyID() != b.CurrentKeyID() {
		return false
	}
	return slices.EqualFunc(a.JWKS().Keys, b.JWKS().Keys, func(x, y jose.JSONWebKey) bool {
		return x.KeyID == y.KeyID && x.Algorithm == y.Algorithm
	})
}

func runKeys(_ context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(io.stderr, "Usage: trustgate keys generate [--algorithm ES256|EdDSA|RS256] --out FILE")
		return exitUsage
	}
	fs := newFlags("keys generate", io)
	alg := fs.String("algorithm", mint.ES256, "ES256, EdDSA or RS256")
	out := fs.String("out", "", "file to write the PKCS#8 PEM private key to (mode 0600; never overwritten)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *out == "" {
		fmt.Fprintln(io.stderr, "trustgate keys generate: --out is required")
		return exitUsage
	}
	k, err := mint.Generate(*alg)
	if err != nil {
		return fail(io, "keys generate", err)
	}
	if err := mint.WriteKeyFile(*out, k); err != nil {
		return fail(io, "keys generate", err)
	}
	fmt.Fprintf(io.stdout, "wrote %s key %s to %s\n", k.Algorithm, k.ID, *out)
	return exitOK
}
