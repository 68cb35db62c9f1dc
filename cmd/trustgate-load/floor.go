package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// cryptoFloor measures, in this process and on this machine, the CPU
// milliseconds of the cryptography an exchange cannot avoid: parsing and
// verifying an RS256 (2048-bit) ID token and signing an ES256 token. It runs
// for about d on one goroutine and counts the process's CPU time (user +
// system, garbage collection included), as the server's figure does.
func cryptoFloor(d time.Duration) (float64, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0, err
	}
	idSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, nil)
	if err != nil {
		return 0, err
	}
	atSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: ecKey}, nil)
	if err != nil {
		return 0, err
	}
	payload := []byte(`{"iss":"https://gitlab.example.com","sub":"project_path:load-group/project-1:ref_type:branch:ref:main","aud":"https://sts.example.com","exp":1,"iat":1}`)
	obj, err := idSigner.Sign(payload)
	if err != nil {
		return 0, err
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		return 0, err
	}
	once := func() error {
		jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			return err
		}
		if _, err := jws.Verify(&rsaKey.PublicKey); err != nil {
			return err
		}
		sig, err := atSigner.Sign(payload)
		if err != nil {
			return err
		}
		_, err = sig.CompactSerialize()
		return err
	}
	cpu0, err := processCPU()
	if err != nil {
		return 0, err
	}
	n, deadline := 0, time.Now().Add(d)
	for ; n < 10 || time.Now().Before(deadline); n++ {
		if err := once(); err != nil {
			return 0, fmt.Errorf("crypto floor: %w", err)
		}
	}
	cpu1, err := processCPU()
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0).Seconds() * 1000 / float64(n), nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
