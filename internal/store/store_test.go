package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// What a rescan writes: a detection found again with its status, rating
// and deadline unchanged takes the narrow update (no index entry, no
// history); anything else takes the full upsert. Either way the row,
// its revision and the history must be what the finding's change says.
func TestRescan(t *testing.T) {
	const (
		day1 = int64(1_700_000_000)
		day2 = day1 + 86400
	)
	base := func() qualys.Detection {
		return qualys.Detection{
			QID: 38170, Type: "Confirmed", Severity: 3, Port: 443, Protocol: "tcp",
			Results: "TLSv1.0 is enabled", Status: "New",
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1,
			LastTest: "2023-11-14T22:00:00Z",
		}
	}
	cases := []struct {
		name    string
		seen    int64
		change  func(d *qualys.Detection, dv *Derived)
		revMove bool     // the finding counts as changed (publish sends it)
		history []string // event:old>new rows the second write adds
		check   string   // SQL expression over the row that must be true
	}{
		{
			name: "found again",
			seen: day2,
			change: func(d *qualys.Detection, _ *Derived) {
				d.LastFound, d.TimesFound, d.LastTest = "2023-11-15T22:00:00Z", 2, "2023-11-15T22:00:00Z"
			},
			revMove: true,
			check:   "times_found = 2 AND last_seen = " + itoa(day2) + " AND extra LIKE '%2023-11-15T22:00:00Z%'",
		},
		{
			name:    "only the last test moved",
			seen:    day2,
			change:  func(d *qualys.Detection, _ *Derived) { d.LastTest = "2023-11-15T22:00:00Z" },
			revMove: false,
			check:   "last_seen = " + itoa(day2) + " AND extra LIKE '%2023-11-15T22:00:00Z%'",
		},
		{
			name:    "results changed",
			seen:    day2,
			change:  func(d *qualys.Detection, _ *Derived) { d.Results = "TLSv1.0 and TLSv1.1 are enabled" },
			revMove: true,
			check:   "results = 'TLSv1.0 and TLSv1.1 are enabled'",
		},
		{
			name: "status New to Active",
			seen: day2,
			change: func(d *qualys.Detection, _ *Derived) {
				d.Status, d.LastFound, d.TimesFound = "Active", "2023-11-15T22:00:00Z", 2
			},
			revMove: true,
			history: []string{"status:New>Active"},
			check:   "status = 'Active' AND times_found = 2",
		},
		{
			name: "fixed",
			seen: day2,
			change: func(d *qualys.Detection, _ *Derived) {
				d.Status, d.LastFixed = "Fixed", "2023-11-15T22:00:00Z"
			},
			revMove: true,
			history: []string{"status:New>Fixed", "closed:>fixed"},
			check:   "status = 'Fixed' AND closed = 'fixed' AND last_fixed > 0",
		},
		{
			name:    "rerated",
			seen:    day2,
			change:  func(_ *qualys.Detection, dv *Derived) { dv.VulnScore, dv.BreachDate = "Critical", "2023-11-29" },
			revMove: true,
			history: []string{"rating:High>Critical", "deadline:2023-12-14>2023-11-29"},
			check:   "vuln_score = 'Critical' AND breach_date = '2023-11-29'",
		},
		{
			name:    "the same data again",
			seen:    day1,
			change:  func(*qualys.Detection, *Derived) {},
			revMove: false,
			check:   "last_seen = " + itoa(day1),
		},
		{
			name: "older data",
			seen: day1 - 86400,
			change: func(d *qualys.Detection, _ *Derived) {
				d.Status, d.LastFixed = "Fixed", "2023-11-13T22:00:00Z"
			},
			revMove: false,
			check:   "status = 'New' AND last_seen = " + itoa(day1),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, loc string) {
				ctx := context.Background()
				st := openStore(t, loc)
				put := func(d qualys.Detection, dv Derived, seen int64) {
					t.Helper()
					h := &qualys.Host{ID: 101, IP: "10.0.0.1", LastVMScanned: "2023-11-14T22:00:00Z", Detections: []qualys.Detection{d}}
					if seen > day1 {
						h.LastVMScanned = "2023-11-15T22:00:00Z"
					}
					err := st.Write(ctx, func(tx *Tx) error {
						return tx.PutHosts([]HostRecord{{Host: h, Derived: []Derived{dv}}}, seen)
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				row := func() (rev int64) {
					t.Helper()
					if err := st.DB().QueryRow("SELECT rev FROM detections").Scan(&rev); err != nil {
						t.Fatal(err)
					}
					return rev
				}
				d, dv := base(), Derived{VulnScore: "High", BreachDate: "2023-12-14"}
				put(d, dv, day1)
				rev1 := row()
				var hist1 int64
				if err := st.DB().QueryRow("SELECT COALESCE(max(id), 0) FROM history").Scan(&hist1); err != nil {
					t.Fatal(err)
				}

				c.change(&d, &dv)
				put(d, dv, c.seen)
				if moved := row() != rev1; moved != c.revMove {
					t.Errorf("revision moved: %v, want %v", moved, c.revMove)
				}
				var ok bool
				if err := st.DB().QueryRow("SELECT " + c.check + " FROM detections").Scan(&ok); err != nil {
					t.Fatal(err)
				} else if !ok {
					t.Errorf("the row does not satisfy %s", c.check)
				}
				rows, err := st.DB().Query("SELECT event, old, new FROM history WHERE id > ? ORDER BY id", hist1)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for rows.Next() {
					var e, o, n string
					rows.Scan(&e, &o, &n)
					got = append(got, e+":"+o+">"+n)
				}
				rows.Close()
				if strings.Join(got, " ") != strings.Join(c.history, " ") {
					t.Errorf("history %q, want %q", got, c.history)
				}
			})
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A first write transaction builds the detection indexes it dropped at
// commit; one that fails leaves them as they were. SQLite only: a
// PostgreSQL transaction never drops an index, which would lock readers
// out until it ends (DeferIndexes does, ahead of a load).
func TestFirstImportIndexes(t *testing.T) {
	ctx := context.Background()
	st := tempStore(t)
	indexes := func() string {
		t.Helper()
		rows, err := st.DB().Query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL ORDER BY name")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		return strings.Join(names, ",")
	}
	want := indexes()
	if want == "" {
		t.Fatal("the schema has no secondary index on detections")
	}
	host := func(id int64) []HostRecord {
		d := qualys.Detection{QID: 38170, Type: "Confirmed", Severity: 3, Status: "New",
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1}
		return []HostRecord{{Host: &qualys.Host{ID: id, IP: "10.0.0.1", Detections: []qualys.Detection{d}}}}
	}
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutHosts(host(1), 1_700_000_000); err != nil {
			return err
		}
		return context.Canceled // fails after writing
	})
	if err == nil {
		t.Fatal("the failing write succeeded")
	}
	if got := indexes(); got != want {
		t.Errorf("after a failed first import the indexes are %q, want %q", got, want)
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts(host(1), 1_700_000_000) }); err != nil {
		t.Fatal(err)
	}
	if got := indexes(); got != want {
		t.Errorf("after a first import the indexes are %q, want %q", got, want)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM detections INDEXED BY detections_qid WHERE qid = 38170").Scan(&n)
	if n != 1 {
		t.Errorf("the rebuilt QID index finds %d detections, want 1", n)
	}
}

// A read cancelled midway ends its snapshot: the pooled connection it used
// serves the next read and write.
func TestCancelledRead(t *testing.T) { storetest.Run(t, testCancelledRead) }

func testCancelledRead(t *testing.T, loc string) {
	ctx := context.Background()
	st := openStore(t, loc)
	needReaders(t, st)
	st.DB().SetMaxOpenConns(1) // the next use gets the same connection
	var hs []HostRecord
	for id := int64(1); id <= 3; id++ {
		d := qualys.Detection{QID: 38170, Type: "Confirmed", Severity: 3, Status: "New",
			FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1}
		hs = append(hs, HostRecord{Host: &qualys.Host{ID: id, IP: "10.0.0." + itoa(id), Detections: []qualys.Detection{d}}})
	}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts(hs, 1_700_000_000) }); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(context.Context, func() error) error{
		"Findings": func(ctx context.Context, f func() error) error {
			return st.Findings(ctx, Filter{}, func(*Row) error { return f() })
		},
		"Changed": func(ctx context.Context, f func() error) error {
			return st.Changed(ctx, 0, func(*Published) error { return f() })
		},
	} {
		cctx, cancel := context.WithCancel(ctx)
		read(cctx, func() error { cancel(); return nil })
		n := 0
		if err := read(ctx, func() error { n++; return nil }); err != nil {
			t.Errorf("%s after a cancelled %s: %v", name, name, err)
		} else if n != 3 {
			t.Errorf("%s after a cancelled one: %d findings, want 3", name, n)
		}
		if err := st.Write(ctx, func(tx *Tx) error { return tx.SetMeta("probe", name) }); err != nil {
			t.Errorf("a write after a cancelled %s: %v", name, err)
		}
	}
}

// detectionIndexes names the secondary indexes of detections.
func detectionIndexes(t *testing.T, st *Store) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL ORDER BY name"
	if st.Engine() == "postgres" {
		q = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'detections' AND indexname <> 'detections_pkey' ORDER BY 1"
	}
	rows, err := st.DB().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// A first load defers the detection indexes across its transactions; if
// it dies before building them, the next Open does.
func TestDeferredIndexesSurviveACrash(t *testing.T) {
	storetest.Run(t, testDeferredIndexesSurviveACrash)
}

func testDeferredIndexesSurviveACrash(t *testing.T, loc string) {
	ctx := context.Background()
	st := openStore(t, loc)
	want := detectionIndexes(t, st)
	if err := st.DeferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	// Only the partial indexes of rare rows stay: a first load adds
	// nothing to them.
	if kept := detectionIndexes(t, st); !slices.Equal(kept, []string{"detections_exception", "detections_sla_restart"}) {
		t.Fatalf("indexes left after DeferIndexes on an empty store: %v", kept)
	}
	st.Close() // the load dies here

	st = openStore(t, loc)
	if got := detectionIndexes(t, st); !slices.Equal(got, want) {
		t.Errorf("after reopening: indexes %v, want %v", got, want)
	}
	// With rows in the table there is nothing to defer.
	d := qualys.Detection{QID: 38170, Type: "Confirmed", Status: "New",
		FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z"}
	hs := []HostRecord{{Host: &qualys.Host{ID: 1, IP: "10.0.0.1", Detections: []qualys.Detection{d}}}}
	if err := st.Write(ctx, func(tx *Tx) error { return tx.PutHosts(hs, 1_700_000_000) }); err != nil {
		t.Fatal(err)
	}
	if err := st.DeferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if got := detectionIndexes(t, st); !slices.Equal(got, want) {
		t.Errorf("DeferIndexes on a filled table: indexes %v, want %v", got, want)
	}
}

// On PostgreSQL a first import must not lock the dashboard out: the
// indexes are dropped in a transaction of their own, so readers go on
// while the import writes, and the import's rows and rebuilt indexes
// are committed together. A reader holding the table makes the drop give
// up after a moment; the import then keeps its indexes.
func TestDeferredIndexesLetReadersIn(t *testing.T) {
	loc := storetest.Postgres(t)
	ctx := context.Background()
	st := openStore(t, loc)
	want := detectionIndexes(t, st)

	// A long reader (an export) holds the table: the drop waits for it at
	// most a moment and leaves everything as it was.
	reader, err := st.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM detections").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := st.DeferIndexes(ctx); err != nil {
		t.Fatalf("DeferIndexes beside a reader: %v", err)
	}
	reader.Rollback()
	if got := detectionIndexes(t, st); !slices.Equal(got, want) {
		t.Errorf("DeferIndexes beside a reader: indexes %v, want %v", got, want)
	}

	if err := st.DeferIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	d := qualys.Detection{QID: 38170, Type: "Confirmed", Severity: 3, Status: "New",
		FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", TimesFound: 1}
	hs := []HostRecord{{Host: &qualys.Host{ID: 1, IP: "10.0.0.1", Detections: []qualys.Detection{d}}}}
	err = st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutHosts(hs, 1_700_000_000); err != nil {
			return err
		}
		// The import is under way: a reader is answered at once.
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var n int
		if err := st.DB().QueryRowContext(rctx, "SELECT count(*) FROM detections").Scan(&n); err != nil {
			t.Errorf("a reader during a first import: %v", err)
		} else if n != 0 {
			t.Errorf("a reader during a first import sees %d detections, want 0", n)
		}
		return tx.BuildIndexes()
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := detectionIndexes(t, st); !slices.Equal(got, want) {
		t.Errorf("after the first import: indexes %v, want %v", got, want)
	}
	if v, err := st.Meta(ctx, metaDeferred); err != nil || v != "" {
		t.Errorf("after the first import the deferred indexes are still recorded: %q, %v", v, err)
	}
}

// The KB cache changes how fast findings are read, never what they say:
// with a cache too small for two entries, every finding still carries
// its own QID's KB text.
func TestFindingsSmallCache(t *testing.T) { storetest.Run(t, testFindingsSmallCache) }

func testFindingsSmallCache(t *testing.T, loc string) {
	ctx := context.Background()
	st := openStore(t, loc)
	needReaders(t, st)
	var vulns []*qualys.Vuln
	for q := 1; q <= 6; q++ {
		vulns = append(vulns, &qualys.Vuln{QID: q, Title: "title of " + itoa(int64(q)), Severity: 3,
			Diagnosis: strings.Repeat("diagnosis of "+itoa(int64(q))+" ", 50)})
	}
	var hs []HostRecord
	for id := int64(1); id <= 20; id++ {
		h := &qualys.Host{ID: id, IP: "10.0.0." + itoa(id)}
		// QIDs used once, twice and often, interleaved across hosts.
		for _, q := range []int{1, int(id%3) + 2, int(id%5) + 2, 6} {
			if id%4 != 0 && q == 1 {
				continue
			}
			h.Detections = append(h.Detections, qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Status: "Active",
				FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", Port: q})
		}
		hs = append(hs, HostRecord{Host: h})
	}
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.PutVulns(vulns); err != nil {
			return err
		}
		return tx.PutHosts(hs, 1_700_000_000)
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func() []string {
		var out []string
		err := st.Findings(ctx, Filter{}, func(r *Row) error {
			if !strings.Contains(r.Shared.Diagnosis, "diagnosis of "+itoa(int64(r.QID))+" ") || r.Shared.Title != "title of "+itoa(int64(r.QID)) {
				t.Errorf("%s carries the KB text of another QID: %q", r.Key, r.Shared.Title)
			}
			out = append(out, r.Key+" "+r.Shared.Title)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := read()
	defer func(b int) { kbCacheBytes = b }(kbCacheBytes)
	kbCacheBytes = 1500 // about one entry
	got := read()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("with a small cache:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(want) < 50 {
		t.Errorf("%d findings, want the 55 written", len(want))
	}
}

// tempStore opens a new store in the test's temporary directory, closed
// when the test ends.
func tempStore(tb testing.TB) *Store {
	tb.Helper()
	st, err := Open(context.Background(), filepath.Join(tb.TempDir(), "qvt.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// openStore opens a new store at loc (a file path or a postgres:// URL,
// from storetest), closed when the test ends.
func openStore(tb testing.TB, loc string) *Store {
	tb.Helper()
	st, err := Open(context.Background(), loc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// needReaders skips a test of the findings reader or Changed on an engine
// they cannot read yet: on PostgreSQL they come with the read path's own
// change (findings.go, publish.go). The probe asks Changed of the empty
// store; once it reads PostgreSQL, the test runs there too, unchanged.
func needReaders(t *testing.T, st *Store) {
	t.Helper()
	if st.Engine() != "postgres" {
		return
	}
	ok := func() (ok bool) {
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		return st.Changed(context.Background(), 0, func(*Published) error { return nil }) == nil
	}()
	if !ok {
		t.Skip("Changed does not read PostgreSQL in this tree yet")
	}
}
