package mysql

import (
	"context"
	"fmt"
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
// of 1,000,000 findings (25,000 hosts × 40 detections) under 60 s, and a
// rerun with nothing changed under 10 s. It needs a big store, so it runs
// only when asked:
//
//	QVT_MYSQL_BENCH=1 go test -count=1 -run TestPublishMillion -v -timeout 60m ./internal/publish/mysql/
//
// The store is built once with gen and kept in os.TempDir() (about 3 GB;
// building it takes several minutes); QVT_MYSQL_BENCH_HOSTS sizes it
// differently.
func TestPublishMillion(t *testing.T) {
	if os.Getenv("QVT_MYSQL_BENCH") == "" {
		t.Skip("set QVT_MYSQL_BENCH=1 to publish a 1,000,000-finding store (see the comment)")
	}
	hosts := 27000
	if v := os.Getenv("QVT_MYSQL_BENCH_HOSTS"); v != "" {
		hosts, _ = strconv.Atoi(v)
	}
	dsn, db := testDSN(t)
	st := benchStore(t, hosts, 40)
	ctx := context.Background()
	var n int
	if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM detections WHERE type <> 'Info'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	tg := newTarget(t, Config{DSN: dsn})
	if os.Getenv("QVT_MYSQL_BENCH_NOIDX") != "" {
		tb := tg.tables()[0]
		tb.indexes = "PRIMARY KEY (finding_key)"
		if _, err := db.Exec(tb.createSQL()); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rep, err := tg.Publish(ctx, st, publish.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	db.Exec("ANALYZE TABLE qvt_findings")
	if os.Getenv("QVT_MYSQL_BENCH_NOIDX") != "" {
		s := time.Now()
		if _, err := db.Exec("ALTER TABLE qvt_findings ADD KEY status (status), ADD KEY vuln_score (vuln_score), ADD KEY breach_date (breach_date), ADD KEY qid (qid), ADD KEY host_id (host_id, ip), ADD KEY closed (closed)"); err != nil {
			t.Fatal(err)
		}
		t.Logf("adding the indexes took %v", time.Since(s))
	}
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
func benchStore(t *testing.T, hosts, perHost int) *store.Store {
	t.Helper()
	ctx := context.Background()
	cfg := gen.Config{Seed: 1, QIDs: 20000, Hosts: hosts, DetectionsPerHost: perHost, CVEs: 40000}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("qvt-mysql-bench-%dx%d.db", hosts, perHost))
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
	return st
}
