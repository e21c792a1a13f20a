package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/unixtime"
)

// writeHLD writes a host list detection file for one host.
func writeHLD(t *testing.T, path, datetime, scanned string, dets []qualys.Detection) {
	t.Helper()
	var buf bytes.Buffer
	w := qualys.NewHostListDetectionWriter(&buf, datetime)
	h := &qualys.Host{ID: 42, IP: "10.0.0.1", OS: "Linux", DNS: "app-01", LastVMScanned: scanned, Detections: dets}
	if err := w.Host(h); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func det(qid, port int, status, first, last string) qualys.Detection {
	d := qualys.Detection{QID: qid, Port: port, Type: "Confirmed", Severity: 4, Status: status, FirstFound: first, LastFound: last, TimesFound: 3}
	if port != 0 {
		d.Protocol = "tcp"
	}
	if status == "Fixed" {
		d.LastFixed = "2026-01-07T10:00:00Z"
	}
	if status == "Re-Opened" {
		d.LastReopened = "2026-01-07T10:00:00Z"
		d.TimesReopened = 1
	}
	return d
}

// A second scan fixes, reopens, drops and adds detections: each change is
// recorded once, with the time of the data, and re-importing or importing
// older data changes nothing.
func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	a, b := filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml")
	first := "2025-12-20T10:00:00Z"
	ignored := det(1006, 8080, "Active", first, "2025-12-31T10:00:00Z")
	writeHLD(t, a, "2026-01-01T00:00:00Z", "2025-12-31T10:00:00Z", []qualys.Detection{
		det(1001, 443, "New", "2025-12-31T10:00:00Z", "2025-12-31T10:00:00Z"),
		det(1002, 0, "Active", first, "2025-12-31T10:00:00Z"),
		det(1003, 22, "Active", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Fixed", first, "2025-12-24T10:00:00Z"),
		ignored,
	})
	ignored.Ignored = true
	ignored.LastFound = "2026-01-07T10:00:00Z"
	writeHLD(t, b, "2026-01-08T00:00:00Z", "2026-01-07T10:00:00Z", []qualys.Detection{
		det(1001, 443, "Active", "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"),
		det(1002, 0, "Fixed", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Re-Opened", first, "2026-01-07T10:00:00Z"),
		det(1005, 443, "New", "2026-01-07T10:00:00Z", "2026-01-07T10:00:00Z"),
		ignored,
	})
	mustRun(t, "--db", db, "import", a)
	out := mustRun(t, "--db", db, "import", b)
	if !strings.Contains(out, "1 new, 1 fixed, 1 reopened, 1 gone") {
		t.Errorf("import summary does not count the changes:\n%s", out)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	closed := map[int]string{}
	rows, err := st.DB().Query("SELECT qid, closed, first_seen, last_seen FROM detections ORDER BY qid")
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := unixtime.Parse("2026-01-01T00:00:00Z")
	tb, _ := unixtime.Parse("2026-01-08T00:00:00Z")
	for rows.Next() {
		var qid int
		var c string
		var fs, ls int64
		rows.Scan(&qid, &c, &fs, &ls)
		closed[qid] = c
		wantFirst, wantLast := ta, tb
		if qid == 1005 {
			wantFirst = tb
		}
		if qid == 1003 {
			wantLast = ta
		}
		if fs != wantFirst || ls != wantLast {
			t.Errorf("qid %d: first/last seen %d/%d, want %d/%d", qid, fs, ls, wantFirst, wantLast)
		}
	}
	rows.Close()
	want := map[int]string{1001: "", 1002: "fixed", 1003: "gone", 1004: "", 1005: "", 1006: "ignored"}
	for q, c := range want {
		if closed[q] != c {
			t.Errorf("qid %d closed = %q, want %q", q, closed[q], c)
		}
	}
	history := func() string {
		var sb strings.Builder
		rows, err := st.DB().Query("SELECT qid, at, event, old, new FROM history ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var qid int
			var at int64
			var ev, o, n string
			rows.Scan(&qid, &at, &ev, &o, &n)
			sb.WriteString(strings.Join([]string{strconv.Itoa(qid), unixtime.Format(at), ev, o, n}, " ") + "\n")
		}
		return sb.String()
	}
	h := history()
	for _, line := range []string{
		"1001 2026-01-08T00:00:00Z status New Active",
		"1002 2026-01-08T00:00:00Z status Active Fixed",
		"1002 2026-01-08T00:00:00Z closed  fixed",
		"1004 2026-01-08T00:00:00Z status Fixed Re-Opened",
		"1004 2026-01-08T00:00:00Z closed fixed ",
		"1003 2026-01-08T00:00:00Z closed  gone",
		"1006 2026-01-08T00:00:00Z closed  ignored",
	} {
		if !strings.Contains(h, line+"\n") {
			t.Errorf("history lacks %q:\n%s", line, h)
		}
	}
	// The same file again, then the older one: nothing changes.
	mustRun(t, "--db", db, "import", b)
	mustRun(t, "--db", db, "import", a)
	if h2 := history(); h2 != h {
		t.Errorf("re-import changed history:\n%s\nwas:\n%s", h2, h)
	}
	// Open means not closed, whatever the last Qualys status.
	open := mustRun(t, "--db", db, "export", "--format", "csv", "--status", "open")
	for _, k := range []string{"10.0.0.1:1001:443", "10.0.0.1:1004:80", "10.0.0.1:1005:443"} {
		if !strings.Contains(open, k) {
			t.Errorf("open export lacks %s", k)
		}
	}
	for _, k := range []string{"10.0.0.1:1002:0", "10.0.0.1:1003:22", "10.0.0.1:1006:8080"} {
		if strings.Contains(open, k) {
			t.Errorf("open export has closed %s", k)
		}
	}
	life := mustRun(t, "--db", db, "history", "10.0.0.1:1003:22")
	for _, s := range []string{"closed: gone", "2026-01-08T00:00:00Z  closed: gone", "first seen by qvt", "Active, closed: gone"} {
		if !strings.Contains(life, s) {
			t.Errorf("history output lacks %q:\n%s", s, life)
		}
	}
	if code, _, errs := qvt(t, nil, "--db", db, "history", "10.0.0.9:1:1"); code != 1 || !strings.Contains(errs, "no finding") {
		t.Errorf("unknown key: exit %d %q", code, errs)
	}
	if code, _, _ := qvt(t, nil, "--db", db, "history", "not-a-key"); code != 1 {
		t.Errorf("bad key: exit %d", code)
	}
}

// Publishers ask for what changed since their last run: a revision moves
// only when a finding changes, and a re-import moves nothing.
func TestRevisions(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	a, b := filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml")
	first := "2025-12-20T10:00:00Z"
	writeHLD(t, a, "2026-01-01T00:00:00Z", "2025-12-31T10:00:00Z", []qualys.Detection{
		det(1001, 443, "Active", first, "2025-12-31T10:00:00Z"),
		det(1002, 0, "Active", first, "2025-12-31T10:00:00Z"),
	})
	writeHLD(t, b, "2026-01-08T00:00:00Z", "2026-01-07T10:00:00Z", []qualys.Detection{
		det(1001, 443, "Fixed", first, "2025-12-31T10:00:00Z"),
		det(1002, 0, "Active", first, "2025-12-31T10:00:00Z"),
	})
	mustRun(t, "--db", db, "import", a)
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	changed := func(since int64) []string {
		var keys []string
		if err := st.Changed(ctx, since, func(p *store.Published) error {
			keys = append(keys, p.Key+" "+p.Status+" "+p.Closed)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	r1, _ := st.Revision(ctx)
	if got := changed(0); r1 == 0 || len(got) != 2 {
		t.Fatalf("after the first import: revision %d, changed %v", r1, got)
	}
	mustRun(t, "--db", db, "import", a)
	if r, _ := st.Revision(ctx); r != r1 {
		t.Errorf("re-import moved the revision %d → %d", r1, r)
	}
	mustRun(t, "--db", db, "import", b)
	r2, _ := st.Revision(ctx)
	got := changed(r1)
	if r2 != r1+1 || len(got) != 1 || got[0] != "10.0.0.1:1001:443 Fixed fixed" {
		t.Errorf("after the second file: revision %d → %d, changed %v", r1, r2, got)
	}
	var hist []string
	last, err := st.HistoryAfter(ctx, 0, func(h store.HistoryRow) error {
		hist = append(hist, h.Key+" "+h.Event+" "+h.New)
		return nil
	})
	if err != nil || last == 0 || strings.Join(hist, "|") != "10.0.0.1:1001:443 status Fixed|10.0.0.1:1001:443 closed fixed" {
		t.Errorf("history after 0: %v (last %d, %v)", hist, last, err)
	}
}

// A QID reported on tcp and udp of one port is one finding: the most
// recently found report, whether the host is new or known, and whatever
// order the reports come in.
func TestTwinReports(t *testing.T) {
	dir := t.TempDir()
	twin := func(proto, last string) qualys.Detection {
		d := det(2001, 53, "Active", "2025-12-01T00:00:00Z", last)
		d.Protocol = proto
		d.Results = proto + " report"
		return d
	}
	protocolOf := func(db string) string {
		out := mustRun(t, "--db", db, "export", "--format", "ndjson")
		if strings.Count(out, "\n") != 1 {
			t.Fatalf("want one finding, got:\n%s", out)
		}
		if strings.Contains(out, `"protocol":"udp"`) {
			return "udp"
		}
		return "tcp"
	}
	for i, tc := range []struct {
		dets []qualys.Detection
		want string
	}{
		{[]qualys.Detection{twin("tcp", "2025-12-30T00:00:00Z"), twin("udp", "2025-12-31T00:00:00Z")}, "udp"},
		{[]qualys.Detection{twin("udp", "2025-12-31T00:00:00Z"), twin("tcp", "2025-12-30T00:00:00Z")}, "udp"},
		{[]qualys.Detection{twin("udp", "2025-12-31T00:00:00Z"), twin("tcp", "2025-12-31T00:00:00Z")}, "tcp"},
	} {
		db := filepath.Join(dir, fmt.Sprintf("new-%d.db", i))
		a := filepath.Join(dir, fmt.Sprintf("a-%d.xml", i))
		writeHLD(t, a, "2026-01-01T00:00:00Z", "2025-12-31T10:00:00Z", tc.dets)
		mustRun(t, "--db", db, "import", a)
		if got := protocolOf(db); got != tc.want {
			t.Errorf("case %d, new host: kept %s, want %s", i, got, tc.want)
		}
		// The same reports in a later scan of the known host.
		b := filepath.Join(dir, fmt.Sprintf("b-%d.xml", i))
		writeHLD(t, b, "2026-01-08T00:00:00Z", "2026-01-07T10:00:00Z", tc.dets)
		mustRun(t, "--db", db, "import", b)
		mustRun(t, "--db", db, "import", b)
		if got := protocolOf(db); got != tc.want {
			t.Errorf("case %d, known host: kept %s, want %s", i, got, tc.want)
		}
	}
}

// Environment policies score a finding for where it is; changing them
// rescores the stored findings without fetching anything.
func TestEnvironmentPolicy(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "qvt.db")
	cfg := filepath.Join(dir, "qvt.yaml")
	os.WriteFile(cfg, []byte(`
environments:
  - name: internet-facing
    cidrs: [172.16.0.0/12]
    metrics: {MAV: N, CR: H}
`), 0o644)
	mustRun(t, "--config", cfg, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	score := func() map[string]any {
		var fs []map[string]any
		if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "--config", cfg, "export", "--qid", "105936")), &fs); err != nil || len(fs) != 1 {
			t.Fatalf("export: %v %v", fs, err)
		}
		return fs[0]
	}
	// CVSS 3.0 environmental: MISS = min(1-(1-1.5·0.56)(1-0.56)², 0.915)
	// = 0.915, impact 6.42·0.915 = 5.874, exploitability with MAV:N
	// 8.22·0.85·0.77·0.85·0.62 = 2.835: Roundup(8.710) = 8.8, ×E:F 0.97
	// = 8.536, Roundup 8.6. Base and temporal do not change.
	f := score()
	if f["base"] != 7.8 || f["temporal"] != 7.6 || f["env_score"] != 8.6 || f["vuln_score"] != "High" {
		t.Errorf("internet-facing: base %v temporal %v env %v rating %v, want 7.8/7.6/8.6 High", f["base"], f["temporal"], f["env_score"], f["vuln_score"])
	}
	// A stricter policy changes the rating and the deadline.
	os.WriteFile(cfg, []byte(`
environments:
  - name: internet-facing
    cidrs: [172.16.0.0/12]
    metrics: {MAV: N, MPR: N, MUI: N, CR: H, IR: H, AR: H}
`), 0o644)
	out := mustRun(t, "--config", cfg, "--db", db, "rescore")
	if !strings.Contains(out, "1 findings changed") {
		t.Errorf("rescore: %s", out)
	}
	// MUI:N: exploitability 8.22·0.85·0.77·0.85·0.85 = 3.887, Roundup(9.761)
	// = 9.8, ×0.97 = 9.506, Roundup 9.6: Critical, 15 days.
	f = score()
	if f["env_score"] != 9.6 || f["vuln_score"] != "Critical" || f["breach_date"] != "2022-05-11" {
		t.Errorf("stricter: env %v rating %v deadline %v, want 9.6 Critical 2022-05-11", f["env_score"], f["vuln_score"], f["breach_date"])
	}
	life := mustRun(t, "--db", db, "history", "172.16.168.67:105936:0")
	if !strings.Contains(life, "rating High → Critical") || !strings.Contains(life, "deadline 2022-05-26 → 2022-05-11") {
		t.Errorf("history lacks the rescoring:\n%s", life)
	}
	// No policy: the contract's example again.
	os.WriteFile(cfg, []byte("environments: []\n"), 0o644)
	mustRun(t, "--config", cfg, "--db", db, "rescore")
	if f = score(); f["env_score"] != 7.6 || f["vuln_score"] != "High" {
		t.Errorf("no policy: env %v rating %v", f["env_score"], f["vuln_score"])
	}
}

// The SLA options: a reopened finding's clock restarts; a clock can count
// from the QID's publication in the KB.
func TestSLAOptions(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "qvt.yaml")
	db := filepath.Join(dir, "qvt.db")
	hld := filepath.Join(dir, "d.xml")
	d := det(105936, 0, "Re-Opened", "2022-04-26T04:00:51Z", "2022-08-01T10:00:00Z")
	d.LastReopened = "2022-08-01T10:00:00Z"
	writeHLD(t, hld, "2022-08-02T00:00:00Z", "2022-08-01T10:00:00Z", []qualys.Detection{d})
	deadline := func() string {
		var fs []map[string]any
		json.Unmarshal([]byte(mustRun(t, "--config", cfg, "--db", db, "export")), &fs)
		if len(fs) != 1 {
			t.Fatalf("findings: %v", fs)
		}
		return fs[0]["breach_date"].(string)
	}
	os.WriteFile(cfg, []byte("scoring: {sla_restart_on_reopen: true}\n"), 0o644)
	mustRun(t, "--config", cfg, "--db", db, "import", "testdata/worked/kb.xml", hld)
	if got := deadline(); got != "2022-08-31" {
		t.Errorf("restart on reopen: %s, want 2022-08-31 (30 days from the reopening)", got)
	}
	// The KB says QID 105936 was published on 2020-07-30.
	os.WriteFile(cfg, []byte("scoring: {sla_from: published}\n"), 0o644)
	mustRun(t, "--config", cfg, "--db", db, "rescore")
	if got := deadline(); got != "2020-08-29" {
		t.Errorf("from publication: %s, want 2020-08-29", got)
	}
	os.WriteFile(cfg, []byte("scoring: {}\n"), 0o644)
	mustRun(t, "--config", cfg, "--db", db, "rescore")
	if got := deadline(); got != "2022-05-26" {
		t.Errorf("default: %s, want 2022-05-26", got)
	}
}
