package store

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
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
	fillFrom(tb, src, st)
	return st
}

// fillFrom replaces the store to's data with the store from's, through
// the store copy users run.
func fillFrom(tb testing.TB, from, to *Store) {
	tb.Helper()
	if _, err := copyStore(context.Background(), from, to, CopyOptions{Force: true}); err != nil {
		tb.Fatal(err)
	}
}

// benchHostsEnv is QVT_BENCH_HOSTS, the number of hosts a benchmark
// generates instead of its own; 0 when unset.
func benchHostsEnv() int {
	n, _ := strconv.Atoi(os.Getenv("QVT_BENCH_HOSTS"))
	return n
}
