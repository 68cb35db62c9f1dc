package state

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.uber.org/zap"
)

//go:embed migrations
var migrationFiles embed.FS

// versionTable is the table goose records applied migrations in.
const versionTable = "trustgate_schema_version"

// migrationLockID is the PostgreSQL advisory lock that serialises
// migrations of replicas starting together (an arbitrary constant).
const migrationLockID = 0x7472757374676174 // "trustgat"

// migrate applies the embedded migrations of c's dialect that the database
// lacks, once even when several processes migrate one fresh database
// together, then refuses a database newer than this binary.
func migrate(ctx context.Context, c *conn, log *zap.Logger) error {
	p, err := newProvider(c)
	if err != nil {
		return err
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range applied {
		log.Info("state schema migrated", zap.Int64("version", r.Source.Version), zap.Duration("duration", r.Duration))
	}
	db, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if binary := latest(p); db > binary {
		return &SchemaTooNewError{Database: db, Binary: binary}
	}
	return nil
}

func newProvider(c *conn) (*goose.Provider, error) {
	dialect, dir := goose.DialectSQLite3, "migrations/sqlite"
	opts := []goose.ProviderOption{
		goose.WithTableName(versionTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	}
	if c.backend == backendPostgres {
		dialect, dir = goose.DialectPostgres, "migrations/postgres"
		// Poll the advisory lock every second, for up to two minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 120))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, c.db, fsys, opts...)
}

// latest is the newest schema version this binary knows.
func latest(p *goose.Provider) int64 {
	var v int64
	for _, s := range p.ListSources() {
		v = max(v, s.Version)
	}
	return v
}
