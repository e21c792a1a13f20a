package app

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/qualys"
)

// The import's summary says what this run changed, and its totals add
// up: re-importing a file reports nothing new, and open plus each closed
// reason is the total.
func TestImportSummary(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	a, b := filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml")
	first := "2025-12-20T10:00:00Z"
	ignored := det(1006, 8080, "Active", first, "2025-12-31T10:00:00Z")
	disabled := det(1007, 8081, "Active", first, "2025-12-31T10:00:00Z")
	writeHLD(t, a, "2026-01-01T00:00:00Z", "2025-12-31T10:00:00Z", []qualys.Detection{
		det(1001, 443, "New", "2025-12-31T10:00:00Z", "2025-12-31T10:00:00Z"),
		det(1002, 0, "Active", first, "2025-12-31T10:00:00Z"),
		det(1003, 22, "Active", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Fixed", first, "2025-12-24T10:00:00Z"),
		ignored, disabled,
	})
	ignored.Ignored, disabled.Disabled = true, true
	ignored.LastFound, disabled.LastFound = "2026-01-07T10:00:00Z", "2026-01-07T10:00:00Z"
	writeHLD(t, b, "2026-01-08T00:00:00Z", "2026-01-07T10:00:00Z", []qualys.Detection{
		det(1001, 443, "Active", "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"),
		det(1002, 0, "Fixed", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Re-Opened", first, "2026-01-07T10:00:00Z"),
		ignored, disabled,
	})
	out := mustRun(t, "--db", db, "import", a)
	if !strings.Contains(out, ": 6 new, 0 fixed, 0 reopened, 0 gone, 0 unchanged") {
		t.Errorf("first import:\n%s", out)
	}
	checkTotals(t, out, 6)
	out = mustRun(t, "--db", db, "import", a)
	if !strings.Contains(out, ": 0 new, 0 fixed, 0 reopened, 0 gone, 6 unchanged") {
		t.Errorf("the same file again does not say it changed nothing:\n%s", out)
	}
	out = mustRun(t, "--db", db, "import", b)
	if !strings.Contains(out, ": 0 new, 1 fixed, 1 reopened, 1 gone, 1 ignored, 1 disabled, 1 unchanged") {
		t.Errorf("the later scan:\n%s", out)
	}
	checkTotals(t, out, 6)
	if !strings.Contains(out, "findings: 6: 2 open, 4 closed (1 fixed, 1 gone, 1 ignored, 1 disabled)") {
		t.Errorf("summary does not name each closed reason:\n%s", out)
	}
}

var reTotals = regexp.MustCompile(`findings: (\d+): (\d+) open, (\d+) closed \((\d+) fixed, (\d+) gone, (\d+) ignored, (\d+) disabled\)`)

// checkTotals checks that the summary's parts add up to its total.
func checkTotals(t *testing.T, out string, total int) {
	t.Helper()
	m := reTotals.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no findings summary:\n%s", out)
	}
	n := make([]int, len(m))
	for i := 1; i < len(m); i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	if n[1] != total || n[2]+n[3] != n[1] || n[4]+n[5]+n[6]+n[7] != n[3] {
		t.Errorf("the summary does not add up: %s", m[0])
	}
}
