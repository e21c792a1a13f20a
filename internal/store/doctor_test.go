package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/store/storetest"
)

// dirState is each file of dir with its size and modification time.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fi.ModTime().String() + " " + fi.Mode().String() + " " + string(rune(fi.Size()))
	}
	return out
}

// Inspect reads the engine, the schema version, the meta values asked for
// and the last runs; an SQLite store's folder is left exactly as it was:
// closed, or open in a writer with its WAL.
func TestInspect(t *testing.T) { storetest.Run(t, testInspect) }

func testInspect(t *testing.T, path string) {
	ctx := context.Background()
	dir := filepath.Dir(path)
	lite := !IsPostgres(path)
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	err = st.Write(ctx, func(tx *Tx) error {
		if err := tx.SetMeta("subscription", "https://qualysapi.qualys.eu demo"); err != nil {
			return err
		}
		id, err := tx.StartRun("full", "{}", now)
		if err != nil {
			return err
		}
		if err := tx.FinishRun(id, nil, now.Add(time.Minute)); err != nil {
			return err
		}
		id, err = tx.StartRun("incremental", "{}", now.Add(time.Hour))
		if err != nil {
			return err
		}
		return tx.FinishRun(id, errors.New("qualys: 401"), now.Add(time.Hour+time.Second))
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		var before map[string]string
		if lite {
			before = dirState(t, dir)
		}
		f, err := Inspect(ctx, path, []string{"subscription", "creator"}, 5)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		// PostgreSQL has no journal mode: the doctor's WAL check is
		// SQLite's.
		engine := "SQLite 3."
		if !lite {
			engine = "PostgreSQL 1"
		}
		if !strings.HasPrefix(f.Engine, engine) || !lite && f.Journal != "" {
			t.Errorf("%s: engine %q, journal %q", when, f.Engine, f.Journal)
		}
		if f.Schema == 0 || f.Schema != f.Latest {
			t.Errorf("%s: schema %d, latest %d", when, f.Schema, f.Latest)
		}
		if f.Meta["subscription"] != "https://qualysapi.qualys.eu demo" {
			t.Errorf("%s: meta %v", when, f.Meta)
		}
		if _, ok := f.Meta["creator"]; ok {
			t.Errorf("%s: an absent meta value is reported: %v", when, f.Meta)
		}
		if len(f.Runs) != 2 || f.Runs[0].Kind != "incremental" || f.Runs[0].Status != "failed" || f.Runs[0].Error != "qualys: 401" ||
			f.Runs[1].Status != "done" || !f.Runs[1].Finished.Equal(now.Add(time.Minute)) {
			t.Errorf("%s: runs %+v", when, f.Runs)
		}
		if !lite {
			return
		}
		if after := dirState(t, dir); len(after) != len(before) {
			t.Errorf("%s: inspecting changed the folder: %v, then %v", when, before, after)
		} else {
			for name, s := range before {
				if after[name] != s && name != "qvt.db-shm" {
					t.Errorf("%s: inspecting changed %s", when, name)
				}
			}
		}
	}
	check("open in a writer")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
}

// A missing store is an error, and Inspect does not create it.
func TestInspectMissing(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		loc := storetest.Postgres(t)
		if _, err := Inspect(ctx, loc, nil, 1); err == nil {
			t.Fatal("no error for a database without a store")
		}
		if _, err := ReadOrigin(ctx, loc); !errors.Is(err, ErrNoStore) {
			t.Errorf("ReadOrigin of a database without a store: %v", err)
		}
		if tables := pgTables(t, loc); len(tables) != 0 {
			t.Errorf("Inspect or ReadOrigin created %v", tables)
		}
	})
	t.Run("sqlite", testInspectMissingFile)
}

func testInspectMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.db")
	if _, err := Inspect(context.Background(), path, nil, 1); err == nil {
		t.Fatal("no error for a missing store")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Inspect created %s (%v)", path, err)
	}
}

// pgTables lists the tables of the schema a test's PostgreSQL URL names.
func pgTables(t *testing.T, loc string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// Inspect reports a PostgreSQL store's schema as it stands, older than
// this build's, and leaves it so, as ReadOrigin does: no migration.
func TestInspectPostgresOlderSchema(t *testing.T) {
	ctx := context.Background()
	loc := storetest.Postgres(t)
	st, err := Open(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := latestMigration()
	if err != nil {
		t.Fatal(err)
	}
	// As if the last migration had not run yet.
	if _, err := st.pg.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = $1", latest); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if o, err := ReadOrigin(ctx, loc); err != nil || o.At.IsZero() {
		t.Errorf("origin %+v, %v", o, err)
	}
	for range 2 {
		f, err := Inspect(ctx, loc, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if f.Schema != latest-1 || f.Latest != latest {
			t.Errorf("schema %d, latest %d; want %d, %d", f.Schema, f.Latest, latest-1, latest)
		}
	}
}
