package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres opens a pgx pool (size: the URL's pool_max_conns, default
// max(4, CPUs)) and a database/sql handle over it, so PostgreSQL runs the
// same SQL as SQLite. The password comes from passwordFile when given; it
// is never part of a message (red is the URL redacted).
func openPostgres(ctx context.Context, cfg *pgxpool.Config, red, passwordFile string) (*conn, error) {
	if passwordFile != "" {
		if cfg.ConnConfig.Password != "" {
			return nil, fmt.Errorf("state: %w: %s: the URL has a password and password_file is set: keep it in the file only", ErrBadURL, red)
		}
		pw, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("state: password_file: %w", err)
		}
		cfg.ConnConfig.Password = strings.TrimRight(string(pw), "\r\n")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: %s: %w", red, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("state: %s: %s", red, connectProblem(err, cfg.ConnConfig.User))
	}
	db := stdlib.OpenDBFromPool(pool)
	return &conn{db: db, backend: backendPostgres, redacted: red, closers: []func() error{
		func() error { pool.Close(); return nil },
	}}, nil
}

// parseProblem is pgx's reason for refusing a URL, without the URL.
func parseProblem(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) && pe.Unwrap() != nil {
		return pe.Unwrap()
	}
	return errors.New("cannot parse the URL")
}

// connectProblem says in words why PostgreSQL could not be used.
func connectProblem(err error, user string) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "28P01", "28000":
			return fmt.Sprintf("PostgreSQL refused the password of user %q (SQLSTATE %s)", user, pg.Code)
		case "3D000":
			return fmt.Sprintf("the database does not exist (SQLSTATE %s)", pg.Code)
		}
		return fmt.Sprintf("PostgreSQL refused the connection: %s (SQLSTATE %s)", pg.Message, pg.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "cannot reach PostgreSQL: timed out"
	}
	return "cannot reach PostgreSQL: " + lastLine(err.Error())
}

// lastLine is the innermost cause of a pgx connect error, which repeats
// host and user before it.
func lastLine(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
}
