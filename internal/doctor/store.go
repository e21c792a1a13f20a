package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"qvt/internal/store"
)

// metaNames are the meta values shown when the store has them: the
// subscription that filled it and what created it.
var metaNames = []string{"subscription", "creator"}

// exploitable is why the store is its owner's only.
const exploitable = "it holds what is exploitable, and where"

// Store reports on the store at path, read-only: a missing store is a
// warning (nothing is created), then its engine, schema, size,
// permissions, subscription and last sync runs.
func Store(ctx context.Context, path string, now time.Time) []Check {
	if store.IsPostgres(path) {
		return postgresStore(ctx, path, now)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		dir := filepath.Dir(path)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return []Check{warn("store", "mkdir -m 700 "+shellQuote(dir)+", then run qvt sync or qvt import",
				"no store at %s, and no folder %s for it", path, dir)}
		}
		return []Check{warn("store", "run qvt sync or qvt import first", "no store at %s", path)}
	}
	if err != nil {
		return []Check{fail("store", "check --db or QVT_DB and the folder's permissions", "store %s: %v", path, unwrapPath(err))}
	}
	if fi.IsDir() {
		return []Check{fail("store", "point --db or QVT_DB at the store file, e.g. "+path+"/qvt.db", "store %s is a folder", path)}
	}
	f, err := store.Inspect(ctx, path, metaNames, 3)
	if err != nil {
		return []Check{fail("store", "check that "+path+" is a qvt store and readable by this user", "%v", err)}
	}
	size := fi.Size()
	var checks []Check
	wal, werr := os.Stat(path + "-wal")
	if werr == nil {
		size += wal.Size()
	}
	schema := fmt.Sprintf("schema %d", f.Schema)
	level := OK
	fix := ""
	switch {
	case f.Schema < f.Latest:
		schema += fmt.Sprintf(" of %d: the next sync or import upgrades it", f.Latest)
	case f.Schema > f.Latest:
		schema += fmt.Sprintf(", newer than this qvt knows (%d)", f.Latest)
		level, fix = Fail, "run the qvt that made it, or upgrade this one"
	}
	checks = append(checks, Check{Level: level, Area: "store", Fix: fix,
		Message: fmt.Sprintf("%s: %s, %s, %s", path, f.Engine, schema, byteSize(size))})
	checks = append(checks, Permissions("store", "store", path, exploitable, fi.Mode()))
	if werr == nil && wal.Mode().Perm()&0o077 != 0 {
		checks = append(checks, Permissions("store", "write-ahead log", path+"-wal", exploitable, wal.Mode()))
	}
	return append(checks, facts(f, now)...)
}

// postgresStore reports on the PostgreSQL store at loc, read-only: its
// server, schema and size, then what facts says.
func postgresStore(ctx context.Context, loc string, now time.Time) []Check {
	shown := store.Shown(loc)
	in, err := store.ReadInfo(ctx, loc)
	switch {
	case errors.Is(err, store.ErrNoStore):
		return []Check{warn("store", "run qvt sync or qvt import first", "no store at %s (the database answers, and holds no qvt store)", shown)}
	case err != nil:
		return []Check{fail("store", "check the URL in --db or QVT_DB, that the server runs and lets this user in (pg_hba.conf, the password)", "%s", store.HidePassword(err.Error(), loc))}
	}
	schema := fmt.Sprintf("schema %d", in.Schema)
	level := OK
	fix := ""
	switch {
	case in.Schema < in.Latest:
		schema += fmt.Sprintf(" of %d: the next sync or import upgrades it", in.Latest)
	case in.Schema > in.Latest:
		schema += fmt.Sprintf(", newer than this qvt knows (%d)", in.Latest)
		level, fix = Fail, "run the qvt that made it, or upgrade this one"
	}
	checks := []Check{{Level: level, Area: "store", Fix: fix,
		Message: fmt.Sprintf("%s: PostgreSQL %s, %s, %s", shown, in.Version, schema, byteSize(in.Bytes))}}
	if in.Autovacuum != nil {
		checks = append(checks, autovacuum(*in.Autovacuum))
	}
	f, err := store.Inspect(ctx, loc, metaNames, 3)
	if err != nil {
		return append(checks, fail("store", "check that "+shown+" is a qvt store and readable by this user", "%s", store.HidePassword(err.Error(), loc)))
	}
	return append(checks, facts(f, now)...)
}

// autovacuum tells whether the server vacuums and analyzes on its own.
// qvt analyzes the tables its large writes grow, but only vacuum marks a
// table's pages all-visible, and until it does the dashboard's counts
// and index-only scans visit the table for every entry.
func autovacuum(on bool) Check {
	if on {
		return ok("store", "autovacuum is on")
	}
	return warn("store", "turn it on (ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();), or run VACUUM (ANALYZE) on the store's tables after each large import",
		"autovacuum is off on this server: the store's tables are never vacuumed, and the dashboard reads more of them than it needs")
}

// facts reports the meta values and the last sync runs of a store.
func facts(f *store.Facts, now time.Time) []Check {
	var checks []Check
	for _, name := range metaNames {
		if v, found := f.Meta[name]; found {
			checks = append(checks, ok("store", "%s: %s", name, shorten(v)))
		}
	}
	if len(f.Runs) == 0 {
		checks = append(checks, ok("store", "no sync has run (data imported from files, or none yet)"))
	}
	for i, r := range f.Runs {
		c := ok("store", "%s", describeRun(r, now))
		if i == 0 {
			switch r.Status {
			case "failed":
				c.Level, c.Fix = Warn, "run qvt sync again: it resumes where the failed run stopped"
			case "running":
				c.Level, c.Fix = Warn, "if no sync is running now, the last one was interrupted: run qvt sync again to resume it"
			}
		}
		checks = append(checks, c)
	}
	return checks
}

func describeRun(r store.RunFact, now time.Time) string {
	s := fmt.Sprintf("sync run %d (%s): %s, started %s", r.ID, r.Kind, r.Status, when(r.Started, now))
	if !r.Finished.IsZero() {
		s += fmt.Sprintf(", took %s", r.Finished.Sub(r.Started).Round(time.Second))
	}
	if r.Error != "" {
		s += ": " + shorten(r.Error)
	}
	return s
}

// when is a time with how long ago it was.
func when(t, now time.Time) string {
	ago := now.Sub(t).Round(time.Minute)
	s := t.UTC().Format("2006-01-02 15:04 UTC")
	switch {
	case ago < time.Minute:
		return s + " (just now)"
	case ago < 48*time.Hour:
		return fmt.Sprintf("%s (%s ago)", s, strings.TrimSuffix(ago.String(), "0s"))
	}
	return fmt.Sprintf("%s (%d days ago)", s, int(ago.Hours()/24))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
