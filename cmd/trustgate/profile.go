package main

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profiles are the Go profiles `serve --cpuprofile/--mutexprofile/
// --blockprofile` write: the CPU one over the whole serve, the mutex and
// block ones at its end. They are files on the server's own disk, for an
// operator measuring it; nothing is served over HTTP.
type profiles struct {
	cpu, mutex, block string
	cpuFile           *os.File
}

// start begins the CPU profile and turns on the sampling of contention.
func (p *profiles) start() error {
	if p.mutex != "" {
		runtime.SetMutexProfileFraction(5)
	}
	if p.block != "" {
		runtime.SetBlockProfileRate(10_000) // one sample per 10 µs blocked
	}
	if p.cpu == "" {
		return nil
	}
	f, err := os.Create(filepath.Clean(p.cpu))
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return errors.Join(err, f.Close())
	}
	p.cpuFile = f
	return nil
}

// stop ends the CPU profile and writes the others.
func (p *profiles) stop() error {
	var errs []error
	if p.cpuFile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, p.cpuFile.Close())
	}
	for name, path := range map[string]string{"mutex": p.mutex, "block": p.block} {
		if path != "" {
			errs = append(errs, writeProfile(name, path))
		}
	}
	return errors.Join(errs...)
}

func writeProfile(name, path string) error {
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup(name).WriteTo(f, 0), f.Close())
}
