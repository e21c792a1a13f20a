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
	if !strings.Contains(out, "findings: 6 (2 open, 4 closed)") || !strings.Contains(out, "closed:  fixed 1  gone 1  ignored 1  disabled 1") {
		t.Errorf("summary does not name each closed reason:\n%s", out)
	}
}

var (
	reTotals = regexp.MustCompile(`findings: (\d+) \((\d+) open, (\d+) closed\)`)
	reOpen   = regexp.MustCompile(`open:  New (\d+)  Active (\d+)  Re-Opened (\d+)`)
	reClosed = regexp.MustCompile(`closed:  fixed (\d+)  gone (\d+)  ignored (\d+)  disabled (\d+)`)
)

// checkTotals checks that the summary's parts add up to its total: open
// and closed, open by Qualys status, closed by reason.
func checkTotals(t *testing.T, out string, total int) {
	t.Helper()
	nums := func(re *regexp.Regexp) []int {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in the summary:\n%s", re, out)
		}
		n := make([]int, len(m)-1)
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+1])
		}
		return n
	}
	sum := func(n []int) (s int) {
		for _, v := range n {
			s += v
		}
		return s
	}
	tot, open, closed := nums(reTotals), nums(reOpen), nums(reClosed)
	if tot[0] != total || tot[1]+tot[2] != tot[0] || sum(open) != tot[1] || sum(closed) != tot[2] {
		t.Errorf("the summary does not add up (total %d, want %d; open %v of %d; closed %v of %d)", tot[0], total, open, tot[1], closed, tot[2])
	}
}
