package load

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// writeHosts writes a host list detection file of one host.
func writeHosts(t *testing.T, path, datetime, scanned string, dets ...qualys.Detection) {
	t.Helper()
	var buf bytes.Buffer
	w := qualys.NewHostListDetectionWriter(&buf, datetime)
	h := &qualys.Host{ID: 42, IP: "10.0.0.1", LastVMScanned: scanned, Detections: dets}
	if err := w.Host(h); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ldet(qid, port int, status, last string) qualys.Detection {
	d := qualys.Detection{QID: qid, Port: port, Protocol: "tcp", Type: "Confirmed", Severity: 4, Status: status,
		FirstFound: "2025-12-20T10:00:00Z", LastFound: last, TimesFound: 2}
	if status == "Fixed" {
		d.LastFixed = last
	}
	if status == "Re-Opened" {
		d.LastReopened, d.TimesReopened = last, 1
	}
	return d
}

func importFiles(t *testing.T, st *store.Store, paths ...string) Result {
	t.Helper()
	l := &Loader{Now: func() time.Time { return time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC) }}
	res, err := l.Files(context.Background(), st, paths)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// What an import reports is what it changed: the same file again changes
// nothing and says so; a later scan counts each kind of change once.
func TestImportCountsThisRun(t *testing.T) { storetest.Each(t, testImportCountsThisRun) }

func testImportCountsThisRun(t *testing.T, be storetest.Backend) {
	dir := t.TempDir()
	st := openStore(t, be)
	const s1, s2 = "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"
	info := ldet(45017, 0, "Active", s1)
	info.Type = "Info" // not a finding
	udp := ldet(1001, 443, "New", "2025-12-30T10:00:00Z")
	udp.Protocol = "udp" // the same finding as 1001/tcp
	a := filepath.Join(dir, "a.xml")
	writeHosts(t, a, "2026-01-01T00:00:00Z", s1,
		ldet(1001, 443, "New", s1), udp, ldet(1002, 0, "Active", s1), ldet(1003, 22, "Active", s1),
		ldet(1004, 80, "Fixed", s1), ldet(1006, 8080, "Active", s1), ldet(1007, 8081, "Active", s1), info)

	type counts struct{ New, Fixed, Reopened, Gone, Ignored, Disabled, Unchanged int }
	got := func(r Result) counts {
		t.Helper()
		if len(r.Files) != 1 {
			t.Fatalf("%d files", len(r.Files))
		}
		c := r.Files[0].Changes
		return counts{c.New, c.Fixed, c.Reopened, c.Gone, c.Ignored, c.Disabled, c.Unchanged}
	}
	if c := got(importFiles(t, st, a)); c != (counts{New: 6}) {
		t.Errorf("first import: %+v, want 6 new", c)
	}
	for i := range 2 {
		if c := got(importFiles(t, st, a)); c != (counts{Unchanged: 6}) {
			t.Errorf("the same file again (%d): %+v, want 6 unchanged and nothing else", i+1, c)
		}
	}

	// A later scan: 1001 found again, 1002 fixed, 1003 not reported
	// (gone), 1004 reopened, 1005 new, 1006 ignored, 1007 disabled.
	ignored, disabled := ldet(1006, 8080, "Active", s2), ldet(1007, 8081, "Active", s2)
	ignored.Ignored, disabled.Disabled = true, true
	b := filepath.Join(dir, "b.xml")
	writeHosts(t, b, "2026-01-08T00:00:00Z", s2,
		ldet(1001, 443, "Active", s2), ldet(1002, 0, "Fixed", s2), ldet(1004, 80, "Re-Opened", s2),
		ldet(1005, 443, "New", s2), ignored, disabled)
	want := counts{New: 1, Fixed: 1, Reopened: 1, Gone: 1, Ignored: 1, Disabled: 1, Unchanged: 1}
	if c := got(importFiles(t, st, b)); c != want {
		t.Errorf("later scan: %+v, want %+v", c, want)
	}
	if c := got(importFiles(t, st, b)); c != (counts{Unchanged: 6}) {
		t.Errorf("the later file again: %+v, want 6 unchanged", c)
	}
	// An older file changes nothing.
	if c := got(importFiles(t, st, a)); c.New+c.Fixed+c.Reopened+c.Gone+c.Ignored+c.Disabled != 0 {
		t.Errorf("the older file after the newer: %+v", c)
	}

	// The store's summary adds up: open and every closed reason.
	sum, err := st.Summarize(context.Background(), time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	wantClosed := map[string]int{"fixed": 1, "gone": 1, "ignored": 1, "disabled": 1}
	if sum.Total != 7 || sum.Open != 3 || len(sum.ByClosed) != len(wantClosed) {
		t.Errorf("summary: total %d, open %d, closed %v; want 7, 3, %v", sum.Total, sum.Open, sum.ByClosed, wantClosed)
	}
	for r, n := range wantClosed {
		if sum.ByClosed[r] != n {
			t.Errorf("summary: %d closed %s, want %d", sum.ByClosed[r], r, n)
		}
	}
}

// IS_IGNORED and IS_DISABLED, as Qualys writes them, close a detection
// as ignored and as disabled.
func TestImportIgnoredAndDisabled(t *testing.T) { storetest.Each(t, testImportIgnoredAndDisabled) }

func testImportIgnoredAndDisabled(t *testing.T, be storetest.Backend) {
	dir := t.TempDir()
	st := openStore(t, be)
	const s1 = "2025-12-31T10:00:00Z"
	ig, dis, both := ldet(2001, 1, "Active", s1), ldet(2002, 2, "Active", s1), ldet(2003, 3, "Active", s1)
	ig.Ignored, dis.Disabled, both.Ignored, both.Disabled = true, true, true, true
	a := filepath.Join(dir, "a.xml")
	writeHosts(t, a, "2026-01-01T00:00:00Z", s1, ig, dis, both, ldet(2004, 4, "Active", s1))
	raw, _ := os.ReadFile(a)
	for _, tag := range []string{"<IS_IGNORED>1</IS_IGNORED>", "<IS_DISABLED>1</IS_DISABLED>"} {
		if !bytes.Contains(raw, []byte(tag)) {
			t.Fatalf("the file lacks %s", tag)
		}
	}
	importFiles(t, st, a)
	want := map[int]string{2001: "ignored", 2002: "disabled", 2003: "disabled", 2004: ""}
	for q, reason := range want {
		var closed string
		if err := st.DB().QueryRow("SELECT closed FROM detections WHERE qid = ?", q).Scan(&closed); err != nil {
			t.Fatal(err)
		}
		if closed != reason {
			t.Errorf("qid %d: closed %q, want %q", q, closed, reason)
		}
	}
}
