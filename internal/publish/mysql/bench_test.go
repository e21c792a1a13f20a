package mysql

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/publish"
	"qvt/internal/store"
)

// TestPublishMillion measures the targets of the issue: a first publish
// of 1,000,000 findings under 60 s, and a rerun with nothing changed
// under 10 s; then a publish after a day's import. gen's hosts have 40
// detections on average, some of them Info: 27,000 hosts make 1,020,966
// findings (25,000 make 945,000). It needs a big store, so it runs only
// when asked:
//
//	QVT_MYSQL_BENCH=1 go test -count=1 -run TestPublishMillion -v -timeout 60m ./internal/publish/mysql/
//
// The store is built once with gen and kept in os.TempDir() (0.9 GB,
// about 35 s to build); QVT_MYSQL_BENCH_HOSTS sizes it differently and
// QVT_MYSQL_BENCH_BATCH tries another batch size.
func TestPublishMillion(t *testing.T) {
	if os.Getenv("QVT_MYSQL_BENCH") == "" {
		t.Skip("set QVT_MYSQL_BENCH=1 to publish a 1,000,000-finding store (see the comment)")
	}
	hosts := 27000
	if v := os.Getenv("QVT_MYSQL_BENCH_HOSTS"); v != "" {
		hosts, _ = strconv.Atoi(v)
	}
	dsn, db := testDSN(t)
	st, path, data := benchStore(t, hosts, 40)
	ctx := context.Background()
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM detections WHERE type <> 'Info'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	batch, _ := strconv.Atoi(os.Getenv("QVT_MYSQL_BENCH_BATCH"))
	tg := newTarget(t, Config{DSN: dsn})
	if batch > 0 {
		tg.batch = batch
	}
	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep, err := tg.Publish(ctx, st, publish.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	db.Exec("ANALYZE TABLE qvt_findings")
	var dataMB, indexMB float64
	db.QueryRow(`SELECT DATA_LENGTH/1048576, INDEX_LENGTH/1048576 FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings'`).Scan(&dataMB, &indexMB)
	var textMB float64
	db.QueryRow("SELECT SUM(LENGTH(diagnosis) + LENGTH(consequence) + LENGTH(solution) + LENGTH(results))/1048576 FROM qvt_findings").Scan(&textMB)
	t.Logf("first publish of %d findings: %v (%.0f findings/s); %v", n, first.Round(time.Millisecond), float64(n)/first.Seconds(), rep)
	t.Logf("table: %.0f MB of text columns, InnoDB data %.0f MB, indexes %.0f MB", textMB, dataMB, indexMB)
	if rows := count(t, db, "SELECT COUNT(*) FROM qvt_findings"); rows != rep.Created {
		t.Errorf("table has %d rows, report says %d created", rows, rep.Created)
	}

	start = time.Now()
	rep, err = tg.Publish(ctx, st, publish.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rerun := time.Since(start)
	t.Logf("rerun with no change: %v; %v", rerun.Round(time.Millisecond), rep)
	if rep.Created+rep.Updated+rep.Unchanged != 0 {
		t.Errorf("rerun wrote findings: %v", rep)
	}

	// A day later: the next epoch's detections, imported into a copy of
	// the store (the cached one stays at epoch 0), then an incremental
	// publish into the same table.
	dir := t.TempDir()
	hld := filepath.Join(dir, "day1.xml")
	f, err := os.Create(hld)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.WriteHostListDetection(f, data, data.HostIDs(1), 1, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st.Close() // checkpoints the WAL into the file copied next
	day := filepath.Join(dir, "day1.db")
	if err := copyFile(day, path); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	rev, _ := st2.Revision(ctx)
	importFiles(t, st2, hld)
	changed := 0
	st2.Changed(ctx, rev, func(*store.Published) error { changed++; return nil })
	hist := 0
	st2.HistoryAfter(ctx, 0, func(store.HistoryRow) error { hist++; return nil })
	start = time.Now()
	rep, err = tg.Publish(ctx, st2, publish.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("publish after a day's import (%d findings changed, %d history rows): %v; %v", changed, hist, time.Since(start).Round(time.Millisecond), rep)
	if got := rep.Created + rep.Updated + rep.Unchanged; got != changed {
		t.Errorf("day publish sent %d findings, %d changed", got, changed)
	}

	if n >= 1000000 {
		if first > 60*time.Second {
			t.Errorf("first publish took %v, target 60 s", first)
		}
		if rerun > 10*time.Second {
			t.Errorf("rerun took %v, target 10 s", rerun)
		}
	}
}

// benchStore opens (building it the first time) a generated store of
// hosts × perHost detections, kept under os.TempDir() between runs.
func benchStore(t *testing.T, hosts, perHost int) (*store.Store, string, *gen.Dataset) {
	t.Helper()
	ctx := context.Background()
	cfg := gen.Config{Seed: 1, QIDs: 20000, Hosts: hosts, DetectionsPerHost: perHost, CVEs: 40000}
	// The name carries a hash of the store's migrations: a store built by
	// an older schema is not reused.
	h := fnv.New32a()
	migrations, _ := filepath.Glob("../../store/migrations/sqlite/*.sql")
	for _, m := range migrations {
		b, _ := os.ReadFile(m)
		h.Write(b)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("qvt-mysql-bench-%dx%d-%08x.db", hosts, perHost, h.Sum32()))
	done := path + ".done"
	if _, err := os.Stat(done); err != nil {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(p)
		}
		dir := t.TempDir()
		start := time.Now()
		kb, hld, nvd, err := gen.WriteFiles(dir, gen.New(cfg), false)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		importFiles(t, st, kb, nvd, hld)
		st.Close()
		os.WriteFile(done, nil, 0o644)
		t.Logf("built %s in %v", path, time.Since(start).Round(time.Second))
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path, gen.New(cfg)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
