package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3/driver"
)

// Facts are what Inspect reads from a store, for qvt doctor.
type Facts struct {
	Engine string // e.g. "SQLite 3.50.4"
	// Schema is the version of the store's schema (its last migration
	// applied); Latest is the last one this build knows.
	Schema, Latest int64
	Journal        string            // SQLite's journal mode, "wal" normally; "" on PostgreSQL
	Meta           map[string]string // the meta values asked for that exist
	Runs           []RunFact         // the last sync runs, newest first
}

// RunFact is one sync run.
type RunFact struct {
	ID                int64
	Kind, Status      string
	Started, Finished time.Time // Finished is zero while running
	Error             string
}

// openDiagnosis opens the SQLite store at path for a diagnosis, leaving
// no trace. mode=ro: SQLite neither creates the file nor writes to it.
// But a read-only connection to a WAL store whose writers have all closed
// creates the -wal and -shm files and cannot remove them: when there is
// no -wal, every commit is in the file and it is read as immutable (no
// WAL, no locks). A writer starting at that moment could make a read
// inconsistent, which a diagnosis can afford.
func openDiagnosis(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	mode := "mode=ro"
	if _, err := os.Stat(path + "-wal"); errors.Is(err, os.ErrNotExist) {
		mode = "immutable=1"
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + mode + "&_pragma=busy_timeout(5000)"
	db, err := driver.Open(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s read-only: %w", path, err)
	}
	return db, nil
}

// Inspect reads an existing store without changing it: an SQLite file is
// opened read-only, a PostgreSQL database read in a read-only
// transaction; neither is created nor migrated. It reads the meta values
// named (those absent are left out) and the last runs runs.
func Inspect(ctx context.Context, path string, meta []string, runs int) (*Facts, error) {
	if IsPostgres(path) {
		return inspectPG(ctx, path, meta, runs)
	}
	db, err := openDiagnosis(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path}
	f := &Facts{Meta: map[string]string{}}
	var version string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	f.Engine = "SQLite " + version
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&f.Journal); err != nil {
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	// goose records each migration applied.
	err = db.QueryRowContext(ctx, "SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&f.Schema)
	if err != nil {
		return nil, fmt.Errorf("store: %s: not a qvt store (no schema version: %w)", path, err)
	}
	if f.Latest, err = latestMigration(); err != nil {
		return nil, err
	}
	for _, name := range meta {
		v, err := s.Meta(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("store: %s: meta %s: %w", path, name, err)
		}
		if v != "" {
			f.Meta[name] = v
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT id, kind, status, started_at, finished_at, error
FROM sync_runs ORDER BY id DESC LIMIT ?`, runs)
	if err != nil {
		return nil, fmt.Errorf("store: %s: sync runs: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RunFact
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Status, &started, &finished, &r.Error); err != nil {
			return nil, fmt.Errorf("store: %s: sync runs: %w", path, err)
		}
		r.Started = time.Unix(started, 0)
		if finished != 0 {
			r.Finished = time.Unix(finished, 0)
		}
		f.Runs = append(f.Runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: sync runs: %w", path, err)
	}
	return f, nil
}

// inspectPG is Inspect on PostgreSQL: one connection, no pool, no
// migration, and a read-only transaction so that nothing can change.
func inspectPG(ctx context.Context, loc string, meta []string, runs int) (*Facts, error) {
	shown := Shown(loc)
	var f *Facts
	err := pgReadOnly(ctx, loc, func(tx pgx.Tx) (err error) {
		f, err = inspectPGTx(ctx, tx, shown, meta, runs)
		return err
	})
	return f, err
}

func inspectPGTx(ctx context.Context, tx pgx.Tx, shown string, meta []string, runs int) (*Facts, error) {
	var err error
	f := &Facts{Meta: map[string]string{}}
	var version string
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	// "15.20 (Debian 15.20-0+deb12u1)": the number says it.
	version, _, _ = strings.Cut(version, " ")
	f.Engine = "PostgreSQL " + version
	var goose, metaTable *string
	if err := tx.QueryRow(ctx, "SELECT to_regclass('goose_db_version')::text, to_regclass('meta')::text").Scan(&goose, &metaTable); err != nil {
		return nil, fmt.Errorf("store: %s: %w", shown, err)
	}
	if goose == nil || metaTable == nil {
		return nil, fmt.Errorf("store: %s: not a qvt store (no schema version)", shown)
	}
	// goose records each migration applied.
	if err := tx.QueryRow(ctx, "SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&f.Schema); err != nil {
		return nil, fmt.Errorf("store: %s: not a qvt store (no schema version: %w)", shown, err)
	}
	if f.Latest, err = latestMigration(); err != nil {
		return nil, err
	}
	for _, name := range meta {
		var v string
		err := tx.QueryRow(ctx, "SELECT value FROM meta WHERE name = $1", name).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: %s: meta %s: %w", shown, name, err)
		}
		if v != "" {
			f.Meta[name] = v
		}
	}
	rows, err := tx.Query(ctx, `SELECT id, kind, status, started_at, finished_at, error
FROM sync_runs ORDER BY id DESC LIMIT $1`, runs)
	if err != nil {
		return nil, fmt.Errorf("store: %s: sync runs: %w", shown, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RunFact
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Kind, &r.Status, &started, &finished, &r.Error); err != nil {
			return nil, fmt.Errorf("store: %s: sync runs: %w", shown, err)
		}
		r.Started = time.Unix(started, 0)
		if finished != 0 {
			r.Finished = time.Unix(finished, 0)
		}
		f.Runs = append(f.Runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: sync runs: %w", shown, err)
	}
	return f, nil
}

// latestMigration is the version of the last migration embedded.
func latestMigration() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations/sqlite")
	if err != nil {
		return 0, fmt.Errorf("store: migrations: %w", err)
	}
	var last int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		if v, err := strconv.ParseInt(num, 10, 64); err == nil && v > last {
			last = v
		}
	}
	if last == 0 {
		return 0, errors.New("store: no migrations embedded")
	}
	return last, nil
}
