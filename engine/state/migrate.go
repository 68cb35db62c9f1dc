package state

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"testing/fstest"
	"text/template"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.uber.org/zap"
)

// migrationFiles are the migrations of both dialects: one file per version,
// with the column types the dialects spell differently left as template
// fields ({{.Int64}}, {{.Bytes}}, {{.SerialKey}}, {{.JSON}}) that
// columnTypes fills.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// columnTypes are the spellings of one dialect's column types.
type columnTypes struct {
	Int64     string // a 64-bit integer
	Bytes     string // a byte string
	SerialKey string // an integer primary key the database assigns, ascending
	JSON      string // what makes a TEXT column JSON for ->> (PostgreSQL: a cast)
}

var (
	postgresTypes = columnTypes{Int64: "BIGINT", Bytes: "BYTEA", SerialKey: "BIGSERIAL PRIMARY KEY", JSON: "::json"}
	sqliteTypes   = columnTypes{Int64: "INTEGER", Bytes: "BLOB", SerialKey: "INTEGER PRIMARY KEY AUTOINCREMENT"}
)

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
	dialect, types := goose.DialectSQLite3, sqliteTypes
	opts := []goose.ProviderOption{
		goose.WithTableName(versionTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	}
	if c.backend == backendPostgres {
		dialect, types = goose.DialectPostgres, postgresTypes
		// Poll the advisory lock every second, for up to two minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 120))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	fsys, err := renderMigrations(types)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, c.db, fsys, opts...)
}

// renderMigrations is the embedded migrations with types filled in, as the
// in-memory file system goose reads them from.
func renderMigrations(types columnTypes) (fs.FS, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	rendered := fstest.MapFS{}
	for _, name := range names {
		// A field columnTypes lacks fails Execute (missingkey is for maps).
		t, err := template.ParseFS(migrationFiles, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, types); err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		rendered[path.Base(name)] = &fstest.MapFile{Data: b.Bytes(), Mode: 0o444}
	}
	return rendered, nil
}

// latest is the newest schema version this binary knows.
func latest(p *goose.Provider) int64 {
	var v int64
	for _, s := range p.ListSources() {
		v = max(v, s.Version)
	}
	return v
}

// checkSchema refuses a database whose schema is not this binary's,
// changing nothing: a newer one with a *SchemaTooNewError.
func checkSchema(ctx context.Context, c *conn) error {
	p, err := newProvider(c)
	if err != nil {
		return err
	}
	db, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	switch binary := latest(p); {
	case db > binary:
		return &SchemaTooNewError{Database: db, Binary: binary}
	case db < binary:
		return fmt.Errorf("state database schema version %d is older than this binary's %d: "+
			"start this trustgate's serve on it once to migrate it", db, binary)
	}
	return nil
}
