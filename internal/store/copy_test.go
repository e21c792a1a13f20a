package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/store/storetest"
)

// recorder is a CopyProgress that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	totals map[string]int
	added  map[string]int
	done   map[string]error
	onAdd  func()
}

func newRecorder() *recorder {
	return &recorder{totals: map[string]int{}, added: map[string]int{}, done: map[string]error{}}
}

func (r *recorder) Start(t string, total int) { r.mu.Lock(); r.totals[t] = total; r.mu.Unlock() }
func (r *recorder) Add(t string, n int) {
	r.mu.Lock()
	r.added[t] += n
	r.mu.Unlock()
	if r.onAdd != nil {
		r.onAdd()
	}
}
func (r *recorder) Done(t string, err error) { r.mu.Lock(); r.done[t] = err; r.mu.Unlock() }

// mappings fills the store at loc with n publish mappings, more than one
// batch of a copy.
func mappings(t *testing.T, loc string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := OpenWith(ctx, loc, Options{Create: true, Maker: "import", Writer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms := make([]Mapping, n)
	for i := range ms {
		ms[i] = Mapping{Item: fmt.Sprintf("10.0.%d.%d:%d:0", i/250, i%250, 38000+i), Remote: fmt.Sprintf("SEC-%d", i), State: "open", Hash: "h", Updated: time.Unix(int64(1_700_000_000+i), 0)}
	}
	if err := st.SetMappings(ctx, "jira", ms); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPublishState(ctx, "jira", map[string]string{"rev": "3"}); err != nil {
		t.Fatal(err)
	}
}

// Rows go across in batches, each heard by the progress, and all of them
// arrive; from and to each engine.
func TestCopyBatches(t *testing.T) {
	const n = 2*copyBatch + 7
	for _, from := range storetest.Backends() {
		for _, to := range storetest.Backends() {
			t.Run(from.Name+"_to_"+to.Name, func(t *testing.T) {
				ctx := context.Background()
				src, dst := from.New(t), to.New(t)
				mappings(t, src, n)
				rec := newRecorder()
				res, err := Copy(ctx, src, dst, CopyOptions{Progress: rec})
				if err != nil {
					t.Fatal(err)
				}
				if rec.totals["publish_map"] != n || rec.added["publish_map"] != n || rec.done["publish_map"] != nil {
					t.Errorf("progress of publish_map: total %d, added %d, done %v; want %d", rec.totals["publish_map"], rec.added["publish_map"], rec.done["publish_map"], n)
				}
				filled := 0
				for _, tb := range res.Tables {
					if tb.Rows > 0 {
						filled++
					}
				}
				if len(rec.done) != filled {
					t.Errorf("progress heard of %d tables, the copy filled %d", len(rec.done), filled)
				}
				st, err := OpenWith(ctx, dst, Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				got, err := st.Mappings(ctx, "jira")
				if err != nil {
					t.Fatal(err)
				}
				m := got["10.0.8.7:40007:0"]
				if len(got) != n || m.Remote != "SEC-2007" || m.Updated.Unix() != 1_700_002_007 {
					t.Errorf("%d mappings, SEC-2007 as %+v", len(got), m)
				}
				if o, err := st.Origin(ctx); err != nil || o.By != "import" {
					t.Errorf("the copy's maker: %+v, %v; want the source's", o, err)
				}
				// The detection indexes, dropped while the rows arrive, are
				// those of a new store again.
				fresh, err := Open(ctx, to.New(t))
				if err != nil {
					t.Fatal(err)
				}
				want := detectionIndexes(t, fresh)
				fresh.Close()
				if got := detectionIndexes(t, st); !slices.Equal(got, want) || len(want) < 5 {
					t.Errorf("detection indexes after a copy: %q, a new store's: %q", got, want)
				}
				if st.Engine() == "postgres" {
					// Vacuumed as well as analyzed: the dashboard's
					// index-only scans need the pages marked all-visible.
					var vacuums int
					if err := st.DB().QueryRow(`SELECT vacuum_count FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = 'publish_map'`).Scan(&vacuums); err != nil {
						t.Fatal(err)
					} else if vacuums == 0 {
						t.Error("the copy's target was not vacuumed")
					}
				}
			})
		}
	}
}

// A copy that fails midway (here: interrupted) leaves the target exactly
// as it was, even with --force: one transaction.
func TestCopyIsOneTransaction(t *testing.T) {
	storetest.Run(t, func(t *testing.T, dst string) {
		ctx := context.Background()
		dir := t.TempDir()
		old, src := filepath.Join(dir, "old.db"), filepath.Join(dir, "src.db")
		mappings(t, old, 10)
		mappings(t, src, 3*copyBatch)
		if _, err := Copy(ctx, old, dst, CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		rec := newRecorder()
		rec.onAdd = cancel // after the first batch
		if _, err := Copy(cctx, src, dst, CopyOptions{Force: true, Progress: rec}); err == nil {
			t.Fatalf("interrupted copy: %v", err)
		}
		st, err := OpenWith(ctx, dst, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got, err := st.Mappings(ctx, "jira")
		if err != nil || len(got) != 10 {
			t.Errorf("after an interrupted copy the target has %d mappings (%v), want its 10", len(got), err)
		}
		if v, _ := st.Meta(ctx, "copy_mark"); v != "" {
			t.Errorf("the interrupted copy left its mark %q", v)
		}
		if got := detectionIndexes(t, st); len(got) < 5 {
			t.Errorf("after an interrupted copy the target's detection indexes are %q", got)
		}
	})
}

// A source whose schema is not this qvt's is refused, and never
// upgraded: the copy does not write it.
func TestCopyRefusesAnOlderSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	mappings(t, src, 1)
	st, err := OpenWith(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := latestMigration()
	if _, err := st.db.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = ?", latest); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = Copy(ctx, src, filepath.Join(dir, "dst.db"), CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "older than this qvt's") {
		t.Fatalf("copy of an older store: %v", err)
	}
	in, err := ReadInfo(ctx, src)
	if err != nil || in.Schema != latest-1 {
		t.Errorf("the source's schema after the copy: %+v, %v", in, err)
	}
	if ok, _ := Exists(filepath.Join(dir, "dst.db")); ok {
		t.Error("a refused copy left a new target behind")
	}
}

// Empty leaves a store without a row, its schema in place.
func TestEmpty(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		mappings(t, loc, 5)
		if err := Empty(ctx, loc); err != nil {
			t.Fatal(err)
		}
		in, err := ReadInfo(ctx, loc)
		if IsPostgres(loc) {
			// No meta row: no store, until a maker opens it again.
			if err == nil {
				t.Fatalf("an emptied PostgreSQL store still reads as one: %+v", in)
			}
			st, err := OpenWith(ctx, loc, Options{Create: true, Maker: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			if in, err = ReadInfo(ctx, loc); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		for _, tb := range in.Tables {
			if tb.Rows != 0 && tb.Name != "meta" {
				t.Errorf("%s has %d rows after Empty", tb.Name, tb.Rows)
			}
		}
	})
}
