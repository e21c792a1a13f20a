package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// fillAt opens a new store at loc (a file or a postgres:// URL) filled by
// writes (a transaction each), closed when the test ends. On PostgreSQL the data is written to
// an SQLite store first and copied table by table: the read side's tests
// then read exactly the rows SQLite reads (the same revisions, times and
// history ids), whatever the write side does on PostgreSQL.
func fillAt(tb testing.TB, loc string, writes ...func(tx *Tx) error) *Store {
	tb.Helper()
	ctx := context.Background()
	if !IsPostgres(loc) {
		st := openAt(tb, loc)
		for _, w := range writes {
			if err := st.Write(ctx, w); err != nil {
				tb.Fatal(err)
			}
		}
		return st
	}
	src := openAt(tb, filepath.Join(tb.TempDir(), "source.db"))
	for _, w := range writes {
		if err := src.Write(ctx, w); err != nil {
			tb.Fatal(err)
		}
	}
	st := openAt(tb, loc)
	copyStore(tb, src, st)
	return st
}

// copyStore replaces every table of the PostgreSQL store to with the
// rows of the SQLite store from.
func copyStore(tb testing.TB, from, to *Store) {
	tb.Helper()
	ctx := context.Background()
	var tables []string
	rows, err := from.db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'
AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, table := range tables {
		var cols []string
		crows, err := from.db.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
		if err != nil {
			tb.Fatal(err)
		}
		for crows.Next() {
			var c string
			if err := crows.Scan(&c); err != nil {
				tb.Fatal(err)
			}
			cols = append(cols, c)
		}
		crows.Close()
		var data [][]any
		drows, err := from.db.QueryContext(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table)
		if err != nil {
			tb.Fatal(err)
		}
		for drows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := drows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			data = append(data, vals)
		}
		if err := drows.Err(); err != nil {
			tb.Fatal(err)
		}
		drows.Close()
		if _, err := to.pg.Exec(ctx, "TRUNCATE "+table); err != nil {
			tb.Fatalf("%s: %v", table, err)
		}
		if _, err := to.pg.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(data)); err != nil {
			tb.Fatalf("copying %s: %v", table, err)
		}
	}
	// Rows copied with their ids: the next ones follow them.
	for _, table := range []string{"sync_runs", "history"} {
		_, err := to.pg.Exec(ctx, "SELECT setval(pg_get_serial_sequence('"+table+"', 'id'), COALESCE(max(id), 0) + 1, false) FROM "+table)
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// benchHostsEnv is QVT_BENCH_HOSTS, the number of hosts a benchmark
// generates instead of its own; 0 when unset.
func benchHostsEnv() int {
	n, _ := strconv.Atoi(os.Getenv("QVT_BENCH_HOSTS"))
	return n
}
