// Package pgtest starts throwaway PostgreSQL clusters for tests: Debian's
// server binaries (/usr/lib/postgresql/*/bin), a temporary data and socket
// directory, 127.0.0.1 on a free port, a role with a password and a
// database. `make test` installs PostgreSQL when it is missing; where it is
// still missing, tests that need it fail in CI (CI=true) and skip elsewhere.
//
// One cluster per test package, from TestMain:
//
//	var pg *pgtest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }
//
//	func TestX(t *testing.T) {
//		url := pg.Require(t).NewDatabase(t)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Role and Database are the login role and database every cluster has.
const (
	Role     = "trustgate"
	Database = "trustgate"
)

// ErrNotInstalled: no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; `make test` installs them")

// Cluster is one running (or stopped) PostgreSQL server.
type Cluster struct {
	bin      string // the directory of initdb, pg_ctl, postgres
	dir      string // removed by Close
	data     string
	sock     string
	port     int
	password string
	asUser   []string // runuser -u postgres -- when running as root
	missing  error    // set by Main when PostgreSQL is not installed
	dbs      atomic.Int64
}

// Main starts a cluster into *c, runs m and removes the cluster, returning
// the exit code for os.Exit. When PostgreSQL is not installed, *c is a
// Cluster whose Require skips or fails each test that needs it; any other
// failure to start is printed and fails the package.
func Main(m *testing.M, c **Cluster) int {
	cl, err := Start()
	switch {
	case errors.Is(err, ErrNotInstalled):
		*c = &Cluster{missing: err}
		return m.Run()
	case err != nil:
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	*c = cl
	code := m.Run()
	if err := cl.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	return code
}

// Require returns c when it runs; when PostgreSQL is not installed it fails
// the test in CI (CI=true) and skips it elsewhere, naming `make test`.
func (c *Cluster) Require(t testing.TB) *Cluster {
	t.Helper()
	switch {
	case c == nil:
		t.Fatal("pgtest: no cluster: call pgtest.Main from TestMain")
	case c.missing != nil && os.Getenv("CI") == "true":
		t.Fatalf("pgtest: %v (CI must run them)", c.missing)
	case c.missing != nil:
		t.Skipf("pgtest: %v; run `make test` to install PostgreSQL and run these tests", c.missing)
	}
	return c
}

// Start creates and starts a cluster: initdb (as the postgres OS user when
// running as root: initdb refuses root), a server on 127.0.0.1 on a free
// port with its socket in the temporary directory, and the role Role with a
// random password owning the database Database.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, password: randomHex()}
	if err := c.makeDirs(); err != nil {
		return nil, err
	}
	if err := c.initdb(); err != nil {
		_ = os.RemoveAll(c.dir)
		return nil, err
	}
	if err := c.startOnFreePort(); err != nil {
		_ = os.RemoveAll(c.dir)
		return nil, err
	}
	if err := c.createRole(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// findBin is the bin directory of the newest PostgreSQL installed.
func findBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", ErrNotInstalled
	}
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(found[len(found)-1]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// makeDirs makes the temporary directory, owned by postgres when running
// as root.
func (c *Cluster) makeDirs() error {
	dir, err := os.MkdirTemp("", "trustgate-pg-")
	if err != nil {
		return err
	}
	c.dir, c.data, c.sock = dir, filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.Mkdir(c.sock, 0o750); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the postgres OS user (Debian's postgresql package makes it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.asUser = []string{"runuser", "-u", "postgres", "--"}
	for _, d := range []string{c.dir, c.sock} {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// run runs a server binary as the cluster's OS user.
func (c *Cluster) run(name string, args ...string) error {
	argv := append(slices.Clone(c.asUser), append([]string{filepath.Join(c.bin, name)}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

func (c *Cluster) initdb() error {
	return c.run("initdb", "-D", c.data, "-U", "postgres", "-E", "UTF8", "--no-sync",
		"--auth-local=trust", "--auth-host=scram-sha-256")
}

// startOnFreePort starts the server on a port the kernel said was free,
// trying another if someone took it meanwhile.
func (c *Cluster) startOnFreePort() error {
	var err error
	for range 3 {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if err = c.Start(); err == nil {
			return nil
		}
	}
	return err
}

func freePort() (int, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }() // the port is what was wanted
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the server again after Stop, on the same port.
func (c *Cluster) Start() error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.sock)
	return c.run("pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// Stop stops the server (fast shutdown: sessions are ended), for tests of
// a database that goes away; Start brings it back.
func (c *Cluster) Stop() error {
	return c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "-t", "60", "stop")
}

// Close stops the server and removes its directory.
func (c *Cluster) Close() error {
	_ = c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop")
	return os.RemoveAll(c.dir)
}

func (c *Cluster) createRole() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", c.sock, c.port))
	if err != nil {
		return fmt.Errorf("connect as postgres: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD '%s'", Role, c.password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", Database, Role),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// Addr is the server's host:port.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// Password is Role's password.
func (c *Cluster) Password() string { return c.password }

// URL is the URL of database as Role, password included.
func (c *Cluster) URL(database string) string {
	u := c.URLWithoutPassword(database)
	return "postgres://" + Role + ":" + c.password + "@" + u[len("postgres://"+Role+"@"):]
}

// URLWithoutPassword is URL without the password (for password_file).
func (c *Cluster) URLWithoutPassword(database string) string {
	return (&url.URL{Scheme: "postgres", User: url.User(Role), Host: c.Addr(), Path: "/" + database,
		RawQuery: "sslmode=disable"}).String()
}

// NewDatabase creates an empty database owned by Role, dropped when the
// test ends, and returns its URL (password included).
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", c.dbs.Add(1), randomHex()[:8])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(Database))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, c.URL(Database)); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = conn.Close(ctx)
		}
	})
	return c.URL(name)
}
