package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// Backends.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
	backendMemory   = "memory"
)

// sqliteMaxConns is the SQLite pool: WAL lets readers run beside the one
// writer; more connections would only queue on the write lock.
const sqliteMaxConns = 4

// sqlitePragmas apply to every SQLite connection: WAL, a busy timeout so a
// writer waits for another instead of failing, FULL sync so a revocation
// that was acknowledged survives a power cut.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"

// conn is an open database before migration.
type conn struct {
	db       *sql.DB
	backend  string
	redacted string // the URL without its password, for messages
	closers  []func() error
	// unlock releases the migration lock of SQLite files, taken before the
	// first connection (switching a fresh file to WAL needs it too).
	unlock func()
}

// CheckURL reports what is wrong with a state URL without connecting:
// the scheme, a SQLite path, memory: alone, a postgres URL pgx can parse.
// Its errors match ErrBadURL and never show a password.
func CheckURL(rawURL string) error {
	_, err := parseURL(rawURL)
	return err
}

// target is a checked state URL.
type target struct {
	scheme string // sqlite, memory or postgres
	rest   string // sqlite: the path
	pg     *pgxpool.Config
}

func parseURL(rawURL string) (target, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok {
		return target{}, fmt.Errorf("%w: want sqlite:PATH, postgres://… or memory:, not %q", ErrBadURL, redact(rawURL))
	}
	switch scheme {
	case "sqlite":
		if rest == "" || strings.ContainsAny(rest, "?#") {
			return target{}, fmt.Errorf("%w: want sqlite:PATH with a file path without ? or #, not %q", ErrBadURL, rawURL)
		}
	case "memory":
		if rest != "" {
			return target{}, fmt.Errorf("%w: want memory: with nothing after it", ErrBadURL)
		}
	case "postgres", "postgresql":
		cfg, err := pgxpool.ParseConfig(rawURL)
		if err != nil {
			return target{}, fmt.Errorf("%w: %s: %w", ErrBadURL, redact(rawURL), parseProblem(err))
		}
		return target{scheme: backendPostgres, pg: cfg}, nil
	default:
		return target{}, fmt.Errorf("%w: unknown scheme %q: want sqlite:PATH, postgres://… or memory:", ErrBadURL, scheme)
	}
	return target{scheme: scheme, rest: rest}, nil
}

// connect opens and pings the database rawURL names.
func connect(ctx context.Context, rawURL string, opts Options) (*conn, error) {
	tg, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if opts.PasswordFile != "" && tg.scheme != backendPostgres {
		return nil, fmt.Errorf("state: %w: password_file is only for postgres URLs", ErrBadURL)
	}
	switch tg.scheme {
	case backendSQLite:
		if opts.ReadOnly {
			if _, err := os.Stat(tg.rest); err != nil {
				return nil, fmt.Errorf("state: sqlite:%s: %w", tg.rest, err)
			}
		}
		return openSQLite(ctx, tg.rest)
	case backendMemory:
		return openMemory(ctx)
	default:
		return openPostgres(ctx, tg.pg, redact(rawURL), opts.PasswordFile)
	}
}

func openSQLite(ctx context.Context, path string) (*conn, error) {
	unlock, err := lockFile(path + "-lock")
	if err != nil {
		return nil, fmt.Errorf("state: cannot open SQLite database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+sqlitePragmas)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("state: sqlite:%s: %w", path, err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		unlock()
		return nil, fmt.Errorf("state: cannot open SQLite database %s: %w", path, err)
	}
	return &conn{db: db, backend: backendSQLite, redacted: "sqlite:" + path, unlock: unlock}, nil
}

// openMemory opens a SQLite database in memory, private to this Store: a
// random name in SQLite's memdb VFS, kept alive by one pinned connection.
func openMemory(ctx context.Context) (*conn, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	db, err := sql.Open("sqlite", "file:/trustgate-"+hex.EncodeToString(b[:])+"?vfs=memdb&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("state: memory: %w", err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	keep, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state: memory: %w", err)
	}
	return &conn{db: db, backend: backendMemory, redacted: "memory:", closers: []func() error{keep.Close}}, nil
}

// redact is rawURL with any password replaced, for messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		if strings.Contains(rawURL, "@") {
			return "(unparsable URL, not shown)"
		}
		return rawURL
	}
	return u.Redacted()
}

// lockFile takes an exclusive flock(2) on path, the SQLite file's sidecar,
// so two processes (or two Stores) opening one fresh SQLite file set it up
// and migrate it once; the kernel drops the lock if the process dies.
// SQLite's own locks cannot serve: goose runs its transactions on the
// connection it migrates with.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil // closing releases the lock
}
