package state

import (
	"io/fs"
	"strings"
	"testing"
)

func TestEachDialectsMigrationsSpellItsOwnColumnTypes(t *testing.T) {
	tests := []struct {
		name    string
		types   columnTypes
		want    []string
		notWant []string
	}{
		{name: "postgres", types: postgresTypes,
			want:    []string{"key        BYTEA", "expires_at BIGINT", "BIGSERIAL PRIMARY KEY"},
			notWant: []string{"BLOB", "AUTOINCREMENT"}},
		{name: "sqlite", types: sqliteTypes,
			want:    []string{"key        BLOB", "expires_at INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT"},
			notWant: []string{"BIGINT", "BYTEA", "BIGSERIAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys, err := renderMigrations(tt.types)
			if err != nil {
				t.Fatal(err)
			}
			names, err := fs.Glob(fsys, "*.sql")
			embedded, _ := fs.Glob(migrationFiles, "migrations/*.sql")
			if err != nil || len(names) != len(embedded) || len(names) < 4 {
				t.Fatalf("rendered %v, %v; want every migration", names, err)
			}
			var all strings.Builder
			for _, name := range names {
				b, err := fs.ReadFile(fsys, name)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(b), "-- +goose Up\n") {
					t.Errorf("%s does not open with goose's Up annotation", name)
				}
				all.Write(b)
			}
			sql := all.String()
			if strings.Contains(sql, "{{") || strings.Contains(sql, "}}") {
				t.Errorf("template text left in the rendered migrations")
			}
			for _, w := range tt.want {
				if !strings.Contains(sql, w) {
					t.Errorf("the migrations lack %q", w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(sql, w) {
					t.Errorf("the migrations hold the other dialect's %q", w)
				}
			}
		})
	}
}
