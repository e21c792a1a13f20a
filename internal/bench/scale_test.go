package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"qvt/internal/publish/mysql/mysqltest"
	"qvt/internal/store/storetest"
)

// qvtBinary builds the qvt command once for the tests: the benchmark runs
// it as separate processes.
func qvtBinary(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "qvt")
	out, err := exec.Command("go", "build", "-o", exe, "qvt/cmd/qvt").CombinedOutput()
	if err != nil {
		t.Fatalf("building qvt: %v\n%s", err, out)
	}
	return exe
}

// mysqlServer is the MySQL server the publish part uses, or "" when none
// is reachable (a failure with QVT_MYSQL_REQUIRED).
func mysqlServer(t *testing.T) string {
	cfg, ok := mysqltest.Reach(t)
	if !ok {
		t.Log("the publish part is skipped")
		return ""
	}
	c := cfg.Clone()
	c.DBName = "" // the benchmark makes a database of its own
	return c.FormatDSN()
}

func number(t *testing.T, out, pattern string) int {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the report has no %q:\n%s", pattern, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// The scale benchmark at a tiny size, on both engines: every part runs and
// reports, the figures agree with each other, and it leaves nothing
// behind.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds qvt and runs it a dozen times")
	}
	exe := qvtBinary(t)
	dsn := mysqlServer(t)
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			var loc string
			if b.Name == "postgres" {
				loc = b.New(t) // skips without a server; the benchmark makes its own schema on it
			}
			dir := t.TempDir()
			var out strings.Builder
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			err := Scale(ctx, ScaleConfig{Dir: dir, Store: loc, MySQL: dsn, Hosts: 200, Detections: 10, QIDs: 500, CVEs: 500,
				Runs: 2, Exe: exe, Out: &out})
			report := out.String()
			if err != nil {
				t.Fatalf("%v\n%s", err, report)
			}
			t.Log(report)
			if n := number(t, report, `first detection import: (\d+) detections`); n < 200*10/2 {
				t.Errorf("the import read %d detections of 200 hosts × 10", n)
			}
			// The export writes every finding the import counted.
			if imported, exported := number(t, report, `\n\s+findings: (\d+) \(`), number(t, report, `ndjson of every finding: (\d+) findings`); imported != exported {
				t.Errorf("the import counted %d findings, the export wrote %d", imported, exported)
			}
			if n := number(t, report, `incremental sync, (\d+) hosts changed`); n < 1 || n > 20 {
				t.Errorf("the incremental sync fetched %d hosts; 1%% of 200 plus the week's new hosts is under 20", n)
			}
			for _, want := range []string{"KB import:", "NVD import:", "dashboard overview: built from the store", "dashboard findings list, a page of 100:"} {
				if !strings.Contains(report, want) {
					t.Errorf("the report has no %q", want)
				}
			}
			if dsn != "" {
				for _, want := range []string{"first publish to MySQL (every finding):", "publish to MySQL of the day's changes:"} {
					if !strings.Contains(report, want) {
						t.Errorf("the report has no %q", want)
					}
				}
			}
			// Nothing left behind: the SQLite file, the FIFOs, the schema.
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
				t.Errorf("left in --dir: %v", left)
			}
			if b.Name == "postgres" {
				schema := regexp.MustCompile(`search_path=(qvt_bench_[0-9a-f]+)`).FindStringSubmatch(report)
				if schema == nil {
					t.Fatalf("the report names no schema:\n%s", report)
				}
				c, err := pgx.Connect(ctx, loc)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(ctx)
				var n int
				if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema[1]).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("the benchmark left its schema %s", schema[1])
				}
			}
		})
	}
}
