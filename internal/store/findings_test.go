package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ncruces/go-sqlite3"

	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// openAt opens a new store at loc (a file or a postgres:// URL), closed
// when the test ends.
func openAt(tb testing.TB, loc string) *Store {
	tb.Helper()
	st, err := Open(context.Background(), loc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// pairStore is a store of 40 hosts, each with QIDs 1 to 5, at loc.
func pairStore(t *testing.T, loc string) *Store {
	t.Helper()
	var hs []HostRecord
	for id := int64(1); id <= 40; id++ {
		h := &qualys.Host{ID: id, IP: "10.0.1." + itoa(id)}
		for q := 1; q <= 5; q++ {
			h.Detections = append(h.Detections, qualys.Detection{QID: q, Type: "Confirmed", Severity: 3, Status: "Active",
				FirstFound: "2023-11-14T22:00:00Z", LastFound: "2023-11-14T22:00:00Z", Port: 443})
		}
		hs = append(hs, HostRecord{Host: h})
	}
	return fillAt(t, loc, func(tx *Tx) error {
		if err := tx.PutVulns(titled("old")); err != nil {
			return err
		}
		return tx.PutHosts(hs, 1_700_000_000)
	})
}

func titled(version string) []*qualys.Vuln {
	var vs []*qualys.Vuln
	for q := 1; q <= 5; q++ {
		vs = append(vs, &qualys.Vuln{QID: q, Title: version + " title of " + itoa(int64(q)), Severity: 3})
	}
	return vs
}

// A whole list reads one snapshot: the KB entries it loads (on SQLite on a
// second connection, on PostgreSQL between fetches of its cursor) are
// those of the detections' moment, even when the KB changes midway.
func TestFindingsOneSnapshot(t *testing.T) { storetest.Run(t, testFindingsOneSnapshot) }

func testFindingsOneSnapshot(t *testing.T, loc string) {
	ctx := context.Background()
	st := pairStore(t, loc)
	defer func(b, f int) { kbCacheBytes, pgFetch = b, f }(kbCacheBytes, pgFetch)
	kbCacheBytes = 300 // about one entry: most rows load theirs
	pgFetch = 16       // PostgreSQL loads a batch's entries after the change
	n := 0
	err := st.Findings(ctx, Filter{}, func(r *Row) error {
		if n == 0 {
			err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(titled("new")) })
			if err != nil {
				return err
			}
		}
		n++
		if !strings.HasPrefix(r.Title, "old ") {
			t.Errorf("%s has the title %q, from after the read began", r.Key, r.Title)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Errorf("%d findings, want 200", n)
	}
	err = st.Findings(ctx, Filter{}, func(r *Row) error {
		if !strings.HasPrefix(r.Title, "new ") {
			t.Fatalf("%s has the title %q after the change", r.Key, r.Title)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// While a writer holds the store (a long import), a whole list is read
// without waiting for the writer, and without its uncommitted changes.
func TestFindingsBesideAWriter(t *testing.T) { storetest.Run(t, testFindingsBesideAWriter) }

func testFindingsBesideAWriter(t *testing.T, loc string) {
	ctx := context.Background()
	st := pairStore(t, loc)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- st.Write(ctx, func(tx *Tx) error {
			if err := tx.PutVulns(titled("new")); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	start := time.Now()
	n := 0
	err := st.Findings(ctx, Filter{}, func(r *Row) error {
		n++
		if !strings.HasPrefix(r.Title, "old ") {
			t.Errorf("%s has the uncommitted title %q", r.Key, r.Title)
		}
		return nil
	})
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if n != 200 {
		t.Errorf("%d findings, want 200", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the read took %v beside the writer", d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// When the consumer fails, the read stops and returns its error.
func TestFindingsConsumerFails(t *testing.T) { storetest.Run(t, testFindingsConsumerFails) }

func testFindingsConsumerFails(t *testing.T, loc string) {
	ctx := context.Background()
	st := pairStore(t, loc)
	boom := errors.New("disk full")
	n := 0
	err := st.Findings(ctx, Filter{}, func(r *Row) error {
		if n++; n == 7 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Findings returned %v, want the consumer's error", err)
	}
	if n != 7 {
		t.Errorf("the consumer was called %d times after failing at the 7th", n)
	}
	// The store serves the next read and write, after a failed read and
	// after a cancelled one.
	for _, what := range []string{"failed", "cancelled"} {
		if what == "cancelled" {
			cctx, cancel := context.WithCancel(ctx)
			st.Findings(cctx, Filter{}, func(*Row) error { cancel(); return nil })
		}
		n = 0
		if err := st.Findings(ctx, Filter{}, func(*Row) error { n++; return nil }); err != nil || n != 200 {
			t.Errorf("the read after a %s one gave %d findings, %v", what, n, err)
		}
		if err := st.Write(ctx, func(tx *Tx) error { return tx.SetMeta("probe", what) }); err != nil {
			t.Errorf("a write after a %s read: %v", what, err)
		}
	}
}

// The second connection's snapshot starts with the first's, not at its
// own first read. (SQLite's: PostgreSQL reads on one connection.)
func TestReadPairStartsTogether(t *testing.T) {
	ctx := context.Background()
	st := pairStore(t, filepath.Join(t.TempDir(), "qvt.db"))
	err := st.readPair(ctx, func(a, b *sqlite3.Conn) error {
		if b == nil {
			t.Fatal("no second connection, with no writer about")
		}
		if err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(titled("new")) }); err != nil {
			return err
		}
		for name, c := range map[string]*sqlite3.Conn{"first": a, "second": b} {
			q, _, err := c.Prepare("SELECT title FROM kb_vulns WHERE qid = 1")
			if err != nil {
				return err
			}
			q.Step()
			if got := q.ColumnText(0); got != "old title of 1" {
				t.Errorf("the %s connection reads %q, committed after the read began", name, got)
			}
			if err := q.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// On PostgreSQL the second connection's snapshot is the first's, even
// when a change commits before the second begins.
func TestPGReadPairStartsTogether(t *testing.T) {
	ctx := context.Background()
	st := pairStore(t, storetest.Postgres(t))
	defer func(f func()) { pgPairExported = f }(pgPairExported)
	pgPairExported = func() {
		if err := st.Write(ctx, func(tx *Tx) error { return tx.PutVulns(titled("new")) }); err != nil {
			t.Error(err)
		}
	}
	err := st.pgReadPair(ctx, func(a, b pgx.Tx) error {
		if b == nil {
			t.Fatal("no second connection, with the pool idle")
		}
		for name, tx := range map[string]pgx.Tx{"first": a, "second": b} {
			var title string
			if err := tx.QueryRow(ctx, "SELECT title FROM kb_vulns WHERE qid = 1").Scan(&title); err != nil {
				return err
			}
			if title != "old title of 1" {
				t.Errorf("the %s connection reads %q, committed after the read began", name, title)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
