package app

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// syncedStore makes an SQLite store at db with every kind of row: two
// syncs from the API double a day apart (history, sync runs, batches and
// watermarks, NVD data, tags), and publish mappings and state.
func syncedStore(t *testing.T, db string) {
	t.Helper()
	s := startSim(t, 0)
	env := simEnv(s, db, "demo")
	if code, _, errs := qvt(t, env, "sync"); code != 0 {
		t.Fatalf("first sync: exit %d\n%s", code, errs)
	}
	s.Advance()
	if code, _, errs := qvt(t, env, "sync"); code != 0 {
		t.Fatalf("second sync: exit %d\n%s", code, errs)
	}
	ctx := context.Background()
	st, err := store.OpenWith(ctx, db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Unix(1_700_000_000, 0)
	if err := st.SetMappings(ctx, "jira", []store.Mapping{
		{Item: "10.0.0.1:38170:0", Remote: "SEC-1", State: "open", Hash: "h1", Updated: at},
		{Item: "10.0.0.2:38170:443", Remote: "SEC-2", State: "closed", Hash: "h2", Updated: at.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPublishState(ctx, "mysql", map[string]string{"rev": "7", "history": "12"}); err != nil {
		t.Fatal(err)
	}
}

// dumpStore is every row of every table of the store at loc, as text,
// with the table names and row counts: two stores that hold the same
// dump the same.
func dumpStore(t *testing.T, loc string) (string, map[string]int64) {
	t.Helper()
	ctx := context.Background()
	info, err := store.ReadInfo(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenWith(ctx, loc, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	counts := map[string]int64{}
	for _, tb := range info.Tables {
		counts[tb.Name] = tb.Rows
		rows, err := st.DB().QueryContext(ctx, "SELECT * FROM "+tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			lines = append(lines, fmt.Sprintf("%q", vals))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "%s %v (%d rows)\n%s\n", tb.Name, cols, len(lines), strings.Join(lines, "\n"))
	}
	return b.String(), counts
}

// A store copied from SQLite to PostgreSQL and back holds every row it
// held, to the ids of its history, the revision and the subscription:
// the tables dump the same, the exports are the same bytes, and the
// PostgreSQL copy's sequences continue past the copied ids.
func TestStoreCopyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	pg := storetest.Postgres(t)
	syncedStore(t, a)
	want, counts := dumpStore(t, a)
	for _, tb := range []string{"hosts", "detections", "kb_vulns", "nvd_cves", "history", "sync_runs", "sync_batches", "sync_state", "publish_map", "publish_state", "meta", "qid_scores", "host_tags", "kev_entries", "kev_catalog", "epss_scores", "epss_meta", "qid_risk"} {
		if counts[tb] == 0 {
			t.Errorf("the source's %s is empty: the test proves nothing of it", tb)
		}
	}
	code, out, errs := qvt(t, nil, "store", "copy", "--from", a, "--to", pg)
	if code != 0 {
		t.Fatalf("copy to PostgreSQL: exit %d\n%s", code, errs)
	}
	if !strings.HasPrefix(out, "copied ") || !strings.Contains(out, " in 26 tables from "+a+" to "+store.Shown(pg)) {
		t.Errorf("copy said %q", out)
	}
	if got, gotCounts := dumpStore(t, pg); got != want {
		t.Errorf("PostgreSQL's tables differ from the source's:\n%s", firstDiff(want, got))
		t.Logf("counts: %v, want %v", gotCounts, counts)
	}
	if code, _, errs := qvt(t, nil, "store", "copy", "--from", pg, "--to", b); code != 0 {
		t.Fatalf("copy back to SQLite: exit %d\n%s", code, errs)
	}
	got, gotCounts := dumpStore(t, b)
	if got != want {
		t.Errorf("the round trip's tables differ from the source's:\n%s", firstDiff(want, got))
	}
	if !maps.Equal(gotCounts, counts) {
		t.Errorf("rows per table: %v, want %v", gotCounts, counts)
	}
	for _, format := range []string{"json", "ndjson", "csv", "legacy"} {
		ea := mustRun(t, "--db", a, "export", "--format", format)
		if eb := mustRun(t, "--db", b, "export", "--format", format); eb != ea || len(ea) < 1000 {
			t.Errorf("export --format %s after the round trip: %d bytes, want the source's %d", format, len(eb), len(ea))
		}
		// This needs the findings reader on PostgreSQL.
		if code, ep, errs := qvt(t, nil, "--db", pg, "export", "--format", format); code != 0 || ep != ea {
			t.Errorf("export --format %s of the PostgreSQL copy: exit %d, %d bytes, want the source's %d\n%.300s", format, code, len(ep), len(ea), errs)
		}
	}
	// The next history row and sync run on PostgreSQL get new ids.
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, tb := range []string{"history", "sync_runs"} {
		var next, max int64
		err := c.QueryRow(ctx, fmt.Sprintf("SELECT nextval(pg_get_serial_sequence('%s', 'id')), (SELECT max(id) FROM %[1]s)", tb)).Scan(&next, &max)
		if err != nil {
			t.Fatal(err)
		}
		if next != max+1 {
			t.Errorf("%s: the next id is %d, want %d", tb, next, max+1)
		}
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) && i < len(g); i++ {
		if w[i] != g[i] {
			return fmt.Sprintf("line %d:\n want %s\n got  %s", i+1, w[i], g[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// A target that holds data is refused and left as it was; --force
// replaces what it holds. A store is never copied onto itself, under
// whatever name.
func TestStoreCopyTarget(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		a, c := filepath.Join(dir, "a.db"), filepath.Join(dir, "c.db")
		importWorked(t, a)
		syncedStore(t, c)
		if code, _, errs := qvt(t, nil, "store", "copy", "--from", c, "--to", loc); code != 0 {
			t.Fatalf("copy: exit %d\n%s", code, errs)
		}
		before, _ := dumpStore(t, loc)
		code, _, errs := qvt(t, nil, "store", "copy", "--from", a, "--to", loc)
		if code != 1 || !strings.Contains(errs, "the target store holds data") || !strings.Contains(errs, "--force") {
			t.Errorf("copy onto a store with data: exit %d, %q", code, errs)
		}
		if after, _ := dumpStore(t, loc); after != before {
			t.Errorf("a refused copy changed the target:\n%s", firstDiff(before, after))
		}
		if code, _, errs := qvt(t, nil, "store", "copy", "--from", a, "--to", loc, "--force"); code != 0 {
			t.Fatalf("copy --force: exit %d\n%s", code, errs)
		}
		want, _ := dumpStore(t, a)
		if got, _ := dumpStore(t, loc); got != want {
			t.Errorf("after --force the target is not the source:\n%s", firstDiff(want, got))
		}
		code, _, errs = qvt(t, nil, "store", "copy", "--from", loc, "--to", loc, "--force")
		if code != 1 || !strings.Contains(errs, "are one store") {
			t.Errorf("copy onto itself: exit %d, %q", code, errs)
		}
		if got, _ := dumpStore(t, loc); got != want {
			t.Errorf("copy onto itself changed it:\n%s", firstDiff(want, got))
		}
		// From a store that does not exist: nothing is created.
		code, _, errs = qvt(t, nil, "store", "copy", "--from", filepath.Join(dir, "none.db"), "--to", filepath.Join(dir, "new.db"))
		if code != 1 || !strings.Contains(errs, "no store") {
			t.Errorf("copy from nothing: exit %d, %q", code, errs)
		}
		if ok, _ := store.Exists(filepath.Join(dir, "new.db")); ok {
			t.Error("a copy from nothing created its target")
		}
	})
}

// store info reads the engine, the schema and the rows of each table, in
// text and JSON.
func TestStoreInfo(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		a := filepath.Join(t.TempDir(), "a.db")
		importWorked(t, a)
		if code, _, errs := qvt(t, nil, "store", "copy", "--from", a, "--to", loc, "--force"); code != 0 {
			t.Fatalf("copy: exit %d\n%s", code, errs)
		}
		out := mustRun(t, "--db", loc, "store", "info")
		engine := "SQLite 3."
		if store.IsPostgres(loc) {
			engine = "PostgreSQL 1"
		}
		for _, want := range []string{"store:   " + store.Shown(loc) + "\n", "engine:  " + engine, "(the latest)", "detections     3", "kb_vulns     1"} {
			if !strings.Contains(out, want) {
				t.Errorf("store info lacks %q:\n%s", want, out)
			}
		}
		var in store.Info
		if err := json.Unmarshal([]byte(mustRun(t, "--db", loc, "store", "info", "--json")), &in); err != nil {
			t.Fatal(err)
		}
		if in.Schema == 0 || in.Schema != in.Latest || in.Bytes == 0 || len(in.Tables) < 16 {
			t.Errorf("store info --json: %+v", in)
		}
		code, _, errs := qvt(t, nil, "--db", filepath.Join(t.TempDir(), "none.db"), "store", "info")
		if code != 1 || !strings.Contains(errs, "no store at") {
			t.Errorf("info of no store: exit %d, %q", code, errs)
		}
	})
}
