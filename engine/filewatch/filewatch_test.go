package filewatch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustgate/trustgate/engine/filewatch"
)

// wait is how long a test waits for a report: the watcher's own bound is
// about 1s; -race on a busy machine needs slack.
const wait = 10 * time.Second

// run starts a Watcher over paths and returns its reports and Run's result.
func run(t *testing.T, cfg filewatch.Config) (*filewatch.Watcher, <-chan struct{}, <-chan error) {
	t.Helper()
	cfg.Debounce = 20 * time.Millisecond
	w, err := filewatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan struct{}, 16)
	done := make(chan error, 1)
	finished := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- w.Run(ctx, func() { changes <- struct{}{} })
		close(finished)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(wait):
			t.Error("Run did not return when its context ended")
		}
	})
	return w, changes, done
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func expectChange(t *testing.T, changes <-chan struct{}) {
	t.Helper()
	select {
	case <-changes:
	case <-time.After(wait):
		t.Fatal("the change was not reported")
	}
}

func TestRunReportsAFileReplacedByRename(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	write(t, key, "one")
	_, changes, _ := run(t, filewatch.Config{Paths: []string{key}})
	write(t, key+".new", "two")
	if err := os.Rename(key+".new", key); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes)
}

func TestRunReportsASecretMountsDataSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"..v1", "..v2"} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, v, "key.pem"), v)
	}
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key.pem")
	if err := os.Symlink(filepath.Join("..data", "key.pem"), key); err != nil {
		t.Fatal(err)
	}
	_, changes, _ := run(t, filewatch.Config{Paths: []string{key}})
	// Kubernetes swaps ..data by renaming a new symlink over it.
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes)
}

func TestRunReportsOnlyWantedFilesOfADirectory(t *testing.T) {
	dir := t.TempDir()
	_, changes, _ := run(t, filewatch.Config{
		Paths:  []string{dir},
		Wanted: func(base string) bool { return base == "data.yaml" },
	})
	write(t, filepath.Join(dir, "README.md"), "not wanted")
	select {
	case <-changes:
		t.Fatal("a file that is not wanted was reported")
	case <-time.After(300 * time.Millisecond): // well past the 20ms debounce
	}
	write(t, filepath.Join(dir, "data.yaml"), "wanted")
	expectChange(t, changes)
}

func TestRunWatchesANewSubdirectoryOfADirectory(t *testing.T) {
	dir := t.TempDir()
	_, changes, _ := run(t, filewatch.Config{Paths: []string{dir}})
	sub := filepath.Join(dir, "team")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes)
	write(t, filepath.Join(sub, "data.yaml"), "x")
	expectChange(t, changes)
}

func TestRunReturnsErrStoppedWhenTheWatcherStops(t *testing.T) {
	dir := t.TempDir()
	w, changes, done := run(t, filewatch.Config{Paths: []string{filepath.Join(dir, "key.pem")}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, filewatch.ErrStopped) {
			t.Fatalf("Run returned %v, want ErrStopped", err)
		}
	case <-time.After(wait):
		t.Fatal("Run kept going after its event channel closed")
	}
	if len(changes) != 0 {
		t.Fatal("a stopped watcher reported a change")
	}
}

func TestNewRefusesAPathInADirectoryThatDoesNotExist(t *testing.T) {
	if _, err := filewatch.New(filewatch.Config{Paths: []string{filepath.Join(t.TempDir(), "no", "key.pem")}}); err == nil {
		t.Fatal("New accepted a path whose directory does not exist")
	}
}
