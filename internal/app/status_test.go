package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"qvt/internal/qualys"
)

// statusStore builds a store with one finding in each state (New,
// Active, Re-Opened, fixed, gone, ignored, disabled) on a host tagged
// DMZ, and open findings overdue, due in 5 days and due in 29 days.
func statusStore(t *testing.T) string {
	db, _ := statusStoreOut(t)
	return db
}

// statusStoreOut is statusStore, with what the second import printed.
func statusStoreOut(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	now := time.Now().UTC().Truncate(time.Second)
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format(time.RFC3339) }
	write := func(name string, at time.Time, dets []qualys.Detection) string {
		var buf bytes.Buffer
		w := qualys.NewHostListDetectionWriter(&buf, at.Format(time.RFC3339))
		h := &qualys.Host{ID: 42, IP: "10.0.0.1", OS: "Linux", DNS: "app-01", LastVMScanned: at.Format(time.RFC3339),
			Tags: []qualys.Tag{{ID: 7, Name: "DMZ"}}, Detections: dets}
		if err := w.Host(h); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	d := func(qid int, status string, first int) qualys.Detection {
		x := det(qid, 443, status, ago(first), ago(0))
		x.LastFound = ago(1)
		return x
	}
	gone := d(2005, "Active", 3)
	ignored := d(2006, "Active", 3)
	disabled := d(2007, "Active", 3)
	day1 := []qualys.Detection{d(2001, "New", 1), d(2002, "Active", 40), d(2003, "Re-Opened", 25), d(2004, "Fixed", 3), gone, ignored, disabled}
	ignored.Ignored, disabled.Disabled = true, true
	day2 := []qualys.Detection{d(2001, "New", 1), d(2002, "Active", 40), d(2003, "Re-Opened", 25), d(2004, "Fixed", 3), ignored, disabled}
	mustRun(t, "--db", db, "import", write("a.xml", now.Add(-2*time.Hour), day1))
	out := mustRun(t, "--db", db, "import", write("b.xml", now.Add(-time.Hour), day2))
	return db, out
}

type exported struct {
	Key           string   `json:"key"`
	QID           int      `json:"qid"`
	Status        string   `json:"status"`
	Closed        *bool    `json:"closed"`
	ClosedReason  *string  `json:"closed_reason"`
	FirstSeen     *string  `json:"first_seen"`
	LastSeen      *string  `json:"last_seen"`
	TimesReopened *int     `json:"times_reopened"`
	Tags          []string `json:"tags"`
}

func exportQIDs(t *testing.T, db string, args ...string) ([]int, []exported) {
	t.Helper()
	out := mustRun(t, append([]string{"--db", db, "export"}, args...)...)
	var fs []exported
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("export %v: %v\n%s", args, err, out)
	}
	var qids []int
	for _, f := range fs {
		qids = append(qids, f.QID)
	}
	slices.Sort(qids)
	return qids, fs
}

// One meaning of open and closed: closed is every closed reason, open is
// the rest, each state is a filter of its own, and every finding says
// whether it is closed and why.
func TestExportStatusVocabulary(t *testing.T) {
	db := statusStore(t)
	for _, tc := range []struct {
		status string
		want   []int
	}{
		{"", []int{2001, 2002, 2003, 2004, 2005, 2006, 2007}},
		{"all", []int{2001, 2002, 2003, 2004, 2005, 2006, 2007}},
		{"open", []int{2001, 2002, 2003}},
		{"closed", []int{2004, 2005, 2006, 2007}},
		{"CLOSED", []int{2004, 2005, 2006, 2007}},
		{"new", []int{2001}},
		{"Active", []int{2002}},
		{"reopened", []int{2003}},
		{"Re-Opened", []int{2003}},
		{"fixed", []int{2004}},
		{"Fixed", []int{2004}},
		{"gone", []int{2005}},
		{"ignored", []int{2006}},
		{"disabled", []int{2007}},
		{"ignored,disabled", []int{2006, 2007}},
		{"open,gone", []int{2001, 2002, 2003, 2005}},
	} {
		args := []string{}
		if tc.status != "" {
			args = append(args, "--status", tc.status)
		}
		if got, _ := exportQIDs(t, db, args...); !slices.Equal(got, tc.want) {
			t.Errorf("--status %q: %v, want %v", tc.status, got, tc.want)
		}
	}
	_, fs := exportQIDs(t, db)
	reasons := map[int]string{2004: "fixed", 2005: "gone", 2006: "ignored", 2007: "disabled"}
	for _, f := range fs {
		if f.Closed == nil || f.ClosedReason == nil || f.TimesReopened == nil || f.FirstSeen == nil || f.LastSeen == nil || f.Tags == nil {
			t.Fatalf("%s lacks a field of the contract: %+v", f.Key, f)
		}
		if *f.ClosedReason != reasons[f.QID] || *f.Closed != (reasons[f.QID] != "") {
			t.Errorf("%s: closed %v, closed_reason %q, want %q", f.Key, *f.Closed, *f.ClosedReason, reasons[f.QID])
		}
		if !slices.Equal(f.Tags, []string{"DMZ"}) {
			t.Errorf("%s: tags %v, want [DMZ]", f.Key, f.Tags)
		}
		if f.QID == 2003 && *f.TimesReopened != 1 {
			t.Errorf("%s: times_reopened %d, want 1", f.Key, *f.TimesReopened)
		}
		if f.QID == 2006 && f.Status != "Active" {
			t.Errorf("%s: the ignored finding's Qualys status is %q, want Active", f.Key, f.Status)
		}
		if _, err := time.Parse(time.RFC3339, *f.FirstSeen); err != nil || *f.LastSeen < *f.FirstSeen {
			t.Errorf("%s: first_seen %q, last_seen %q", f.Key, *f.FirstSeen, *f.LastSeen)
		}
	}
}

// The dashboard's tag and deadline filters, on the command line.
func TestExportTagAndDeadline(t *testing.T) {
	db := statusStore(t)
	for _, tc := range []struct {
		args []string
		want []int
	}{
		{[]string{"--tag", "dmz"}, []int{2001, 2002, 2003, 2004, 2005, 2006, 2007}},
		{[]string{"--tag", "Internal"}, nil},
		{[]string{"--tag", "Internal", "--tag", "DMZ", "--status", "closed"}, []int{2004, 2005, 2006, 2007}},
		{[]string{"--overdue"}, []int{2002}},
		{[]string{"--due-within", "7d"}, []int{2003}},
		{[]string{"--due-within", "7"}, []int{2003}},
		{[]string{"--due-within", "30d"}, []int{2001, 2003}},
		{[]string{"--overdue", "--due-within", "7d"}, []int{2002, 2003}},
	} {
		if got, _ := exportQIDs(t, db, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.args, got, tc.want)
		}
	}
}

// Bad values are refused with exit 2 and the flag named; --format and
// --min-rating read their values without regard to case.
func TestFlagValues(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	out := t.TempDir()
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--db", db, "export", "--cve", "foo"}, "--cve"},
		{[]string{"--db", db, "export", "--status", "closedish"}, "--status"},
		{[]string{"--db", db, "export", "--due-within", "soon"}, "--due-within"},
		{[]string{"--db", db, "export", "--due-within", "-3d"}, "--due-within"},
		{[]string{"--db", db, "export", "--format", "xml"}, "--format"},
		{[]string{"demo", "--no-serve", "--hosts", "-1"}, "--hosts"},
		{[]string{"gen", "-o", out, "--hosts", "-5"}, "--hosts"},
		{[]string{"gen", "-o", out, "--qids", "0"}, "--qids"},
		{[]string{"sim", "--cves", "-1"}, "--cves"},
	} {
		// demo and sim serve until stopped once their flags pass.
		code, _, errs := qvtWithin(t, 15*time.Second, nil, tc.args...)
		if code != ExitUsage || !strings.Contains(errs, tc.flag) {
			t.Errorf("qvt %v: exit %d, want %d naming %s: %s", tc.args, code, ExitUsage, tc.flag, errs)
		}
	}
	db = statusStore(t)
	csv := mustRun(t, "--db", db, "export", "--format", "CSV", "--min-rating", "HIGH")
	if !strings.HasPrefix(csv, "key,ip,") {
		t.Errorf("--format CSV: %.100s", csv)
	}
}

// The summary counts open and closed findings, each by state, and they
// add up to the total.
func TestSummaryAddsUp(t *testing.T) {
	_, out := statusStoreOut(t)
	for _, want := range []string{
		"findings: 7 (3 open, 4 closed)\n",
		"  open:  New 1  Active 1  Re-Opened 1\n",
		"  closed:  fixed 1  gone 1  ignored 1  disabled 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
