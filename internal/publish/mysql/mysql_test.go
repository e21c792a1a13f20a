package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"qvt/internal/assess"
	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/gen"
	"qvt/internal/load"
	"qvt/internal/owners"
	"qvt/internal/publish"
	"qvt/internal/publish/mysql/mysqltest"
	"qvt/internal/publish/publishtest"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The tests run against a real MariaDB or MySQL, each in a database of
// its own (mysqltest).

// testDSN returns the DSN of a fresh database for the test (mysqltest),
// and a connection to it.
func testDSN(t testing.TB) (dsn string, db *sql.DB) {
	t.Helper()
	dsn = mysqltest.Database(t, "qvt_test")
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return dsn, db
}

func newTarget(t testing.TB, cfg Config) *Target {
	t.Helper()
	tg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// openStore opens a new store on be and imports files into it.
func openStore(t testing.TB, be storetest.Backend, paths ...string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), be.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	importFiles(t, st, paths...)
	return st
}

func importFiles(t testing.TB, st *store.Store, paths ...string) {
	t.Helper()
	if len(paths) == 0 {
		return
	}
	if _, err := (&load.Loader{Policy: assess.DefaultPolicy()}).Files(context.Background(), st, paths); err != nil {
		t.Fatal(err)
	}
}

func workedFiles() []string {
	return []string{
		"../../app/testdata/worked/kb.xml",
		"../../app/testdata/worked/detections.xml",
		"../../qualys/testdata/kb_demisto_2qids.xml",
		"../../qualys/testdata/hld_demisto_2hosts.xml",
	}
}

func publishOK(t testing.TB, tg *Target, st *store.Store) publish.Report {
	t.Helper()
	rep, err := tg.Publish(context.Background(), st, publish.Options{})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return rep
}

// dump reads a table as text rows (NULL as "NULL"), sorted by its key.
func dump(t testing.TB, db *sql.DB, table, orderBy string) []map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT * FROM " + quote(table) + " ORDER BY " + orderBy)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for i, c := range cols {
			if vals[i].Valid {
				m[c] = vals[i].String
			} else {
				m[c] = "NULL"
			}
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// expected is a finding as the table should hold it, written out here
// independently of the code under test.
func expected(p *store.Published) map[string]string {
	f := p.Finding
	ts := func(s *string) string {
		if s == nil {
			return "NULL"
		}
		tm, err := time.Parse(time.RFC3339, *s)
		if err != nil {
			return "bad time " + *s
		}
		return tm.UTC().Format("2006-01-02 15:04:05")
	}
	unix := func(s int64) string {
		if s == 0 {
			return "NULL"
		}
		return time.Unix(s, 0).UTC().Format("2006-01-02 15:04:05")
	}
	dec := func(v *float64) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%.1f", *v)
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	list := func(l []string) string {
		if l == nil {
			l = []string{}
		}
		j, _ := json.Marshal(l)
		return string(j)
	}
	orNull := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return s
	}
	bd := orNull(f.BreachDate)
	until := func(d string) string {
		if d == store.NoExpiry {
			return "NULL"
		}
		return orNull(d)
	}
	frac := func(v *float64) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%.5f", *v)
	}
	qds := "NULL"
	if f.QDS != nil {
		qds = strconv.Itoa(*f.QDS)
	}
	return map[string]string{
		"kev": b(f.KEV), "kev_cves": list(f.KEVCVEs), "kev_date_added": orNull(f.KEVDateAdded), "kev_due_date": orNull(f.KEVDueDate),
		"kev_ransomware": b(f.KEVRansomware), "epss": frac(f.EPSS), "epss_percentile": frac(f.EPSSPercentile), "epss_cve": f.EPSSCVE,
		"qds": qds, "threat_intel": list(f.ThreatIntel), "priority": f.Priority, "priority_reason": f.PriorityReason, "due_date": orNull(f.DueDate),
		"finding_key": f.Key, "ip": f.IP, "host_id": strconv.FormatInt(f.HostID, 10), "hostname": f.Hostname, "os": f.OS,
		"qid": strconv.Itoa(f.QID), "port": strconv.Itoa(f.Port), "protocol": f.Protocol, "type": f.Type,
		"severity": strconv.Itoa(f.Severity), "status": f.Status, "times_found": strconv.Itoa(f.TimesFound),
		"first_found": ts(f.FirstFound), "last_found": ts(f.LastFound), "last_fixed": ts(f.LastFixed),
		"results": f.Results, "title": f.Title, "category": f.Category, "vuln_type": f.VulnType,
		"diagnosis": f.Diagnosis, "consequence": f.Consequence, "solution": f.Solution,
		"patchable": b(f.Patchable), "remote": b(f.Remote), "vendor_refs": list(f.VendorRefs), "cves": list(f.CVEs),
		"cve_id": f.CVEID, "cvss_version": f.CVSSVersion, "cvss_vector": f.CVSSVector,
		"base": dec(f.Base), "temporal": dec(f.Temporal), "env_score": dec(f.EnvScore),
		"vuln_score": f.VulnScore, "breach_date": bd, "closed": p.Closed,
		"first_seen": unix(p.FirstSeen), "last_seen": unix(p.LastSeen), "times_reopened": strconv.Itoa(p.TimesReopened),
		"last_reopened": unix(p.LastReopened), "tags": list(p.Tags), "qvt_rev": strconv.FormatInt(p.Rev, 10),
		"owner": f.Owner, "excepted": b(f.Excepted), "exception": f.Exception, "excepted_until": until(f.ExceptedUntil),
	}
}

// normJSON rewrites a JSON column as compact JSON: MySQL's JSON type
// returns its own spacing.
func normJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// storeRows reads what the table should hold: every finding (the export's
// choice when hosts share an address) with its life.
func storeRows(t testing.TB, st *store.Store) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	life := map[string]*store.Published{}
	err := st.Changed(ctx, 0, func(p *store.Published) error {
		life[strconv.FormatInt(p.HostID, 10)+" "+p.Key] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	err = st.Findings(ctx, store.Filter{}, func(r *store.Row) error {
		p := life[strconv.FormatInt(r.HostID, 10)+" "+r.Key]
		if p == nil {
			return fmt.Errorf("finding %s of host %d not in the change feed", r.Key, r.HostID)
		}
		out[r.Key] = expected(p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkTable compares the table with the store, column by column.
func checkTable(t testing.TB, db *sql.DB, table string, st *store.Store) {
	t.Helper()
	want := storeRows(t, st)
	got := dump(t, db, table, "finding_key")
	if len(got) != len(want) {
		t.Errorf("table %s has %d rows, the store %d findings", table, len(got), len(want))
	}
	for _, row := range got {
		w, ok := want[row["finding_key"]]
		if !ok {
			t.Errorf("table has %s, the store does not", row["finding_key"])
			continue
		}
		for _, c := range findingColumns {
			if c.name == "last_seen" {
				// As of the finding's last change: the store does not
				// count a sighting as one (TestFirstPublish checks it).
				continue
			}
			g := row[c.name]
			if strings.HasPrefix(c.ddl, "JSON") {
				g = normJSON(g)
			}
			if g != w[c.name] {
				t.Errorf("%s: column %s = %q, want %q", row["finding_key"], c.name, g, w[c.name])
			}
		}
	}
}

func TestFirstPublish(t *testing.T) { storetest.Each(t, testFirstPublish) }

func testFirstPublish(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	tg := newTarget(t, Config{DSN: dsn})
	rep := publishOK(t, tg, st)
	n := len(storeRows(t, st))
	if n < 8 {
		t.Fatalf("fixture has only %d findings", n)
	}
	if rep.Created != n || rep.Updated != 0 || rep.Unchanged != 0 {
		t.Errorf("report %v, want %d created", rep, n)
	}
	checkTable(t, db, "qvt_findings", st)

	// The worked example of docs/findings.md, literally.
	rows := dump(t, db, "qvt_findings", "finding_key")
	var w map[string]string
	for _, r := range rows {
		if r["finding_key"] == "172.16.168.67:105936:0" {
			w = r
		}
	}
	if w == nil {
		t.Fatal("no row 172.16.168.67:105936:0")
	}
	for c, v := range map[string]string{
		"ip": "172.16.168.67", "qid": "105936", "port": "0", "status": "Active", "times_found": "10",
		"first_found": "2022-04-26 04:00:51", "last_found": "2022-06-21 07:27:04", "last_fixed": "NULL",
		"base": "7.8", "temporal": "7.6", "env_score": "7.6", "vuln_score": "High", "breach_date": "2022-05-26",
		"cve_id": "CVE-2020-15778", "cvss_vector": "CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H/E:F/RL:U/RC:C",
		"title": "OpenSSH Command Injection Vulnerability (Generic)", "closed": "", "hostname": "build-01.corp.example",
	} {
		if w[c] != v {
			t.Errorf("worked example: %s = %q, want %q", c, w[c], v)
		}
	}
	if !strings.Contains(w["diagnosis"], "scp in OpenSSH") {
		t.Errorf("worked example: diagnosis %.60q", w["diagnosis"])
	}

	// The schema: the contract's columns, the indexes of the usual
	// filters, the version in the comment.
	var comment string
	db.QueryRow("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings'").Scan(&comment)
	if comment != "qvt findings, schema 3" {
		t.Errorf("table comment %q", comment)
	}
	for _, ix := range []string{"status", "vuln_score", "breach_date", "qid", "host_id", "closed", "priority", "kev", "owner"} {
		if count(t, db, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings' AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1", ix) == 0 {
			t.Errorf("no index on %s", ix)
		}
	}

	// One done run, whose watermark is the store's.
	runs := dump(t, db, "qvt_findings_runs", "id")
	rev, _ := st.Revision(context.Background())
	if len(runs) != 1 || runs[0]["status"] != "done" || runs[0]["rev"] != fmt.Sprint(rev) || runs[0]["rows_written"] != fmt.Sprint(n) {
		t.Errorf("runs: %v (store revision %d)", runs, rev)
	}
	if v, _ := st.PublishState(context.Background(), "mysql", "rev"); v != fmt.Sprint(rev) {
		t.Errorf("store watermark %q, want %d", v, rev)
	}
}

// Without LOAD DATA LOCAL and without MyISAM (MySQL 8 as shipped, or a
// cluster that allows only InnoDB), rows are staged with multi-row
// INSERTs in InnoDB temporary tables: the same table results.
func TestFallbacks(t *testing.T) { storetest.Each(t, testFallbacks) }

func testFallbacks(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, append(workedFiles(), genFiles(t, 10, 20)...)...)
	tg := newTarget(t, Config{DSN: dsn, Batch: 70})
	tg.noLoad, tg.engines = true, []string{"NoSuchEngine", "InnoDB"}
	rep := publishOK(t, tg, st)
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "INSERT") {
		t.Errorf("no note of the INSERT fallback: %v", rep.Notes)
	}
	checkTable(t, db, "qvt_findings", st)
}

// Text that LOAD DATA's format escapes (tabs, newlines, backslashes, a
// literal \N) and text beyond the BMP arrive as the store holds them,
// through LOAD DATA and through INSERT.
func TestAwkwardText(t *testing.T) { storetest.Each(t, testAwkwardText) }

func testAwkwardText(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	path := filepath.Join(t.TempDir(), "hld.xml")
	d := det(3001, 443, "Active", "2025-12-20T10:00:00Z", "2025-12-31T10:00:00Z")
	d.Results = "tab\there\nnew line \\N not null \\ back\\slash \\t ü 🙂 <b>&amp;</b>\n\n"
	writeHLD(t, path, "2026-01-01T00:00:00Z",
		&qualys.Host{ID: 9, IP: "10.0.0.9", OS: "Windows\tServer", DNS: "näme", LastVMScanned: "2025-12-31T10:00:00Z", Detections: []qualys.Detection{d}})
	st := openStore(t, be, path)
	publishOK(t, newTarget(t, Config{DSN: dsn}), st)
	checkTable(t, db, "qvt_findings", st)
	tg := newTarget(t, Config{DSN: dsn, Table: "by_insert"})
	tg.noLoad = true
	publishOK(t, tg, st)
	checkTable(t, db, "by_insert", st)
	var res string
	db.QueryRow("SELECT results FROM qvt_findings").Scan(&res)
	if !strings.Contains(res, "\\N not null") || !strings.Contains(res, "🙂") {
		t.Errorf("results %q", res)
	}
}

func TestTSV(t *testing.T) { storetest.Each(t, testTSV) }

func testTSV(t *testing.T, be storetest.Backend) {
	var e tsv
	in := []string{"", "plain", "a\tb", "x\ny", "back\\slash", `\N`, "nul\x00byte", "cr\r", "ü🙂"}
	for _, s := range in {
		e.str(s)
	}
	e.null()
	e.int(-42)
	e.end()
	got, err := e.decode(len(in) + 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range in {
		if got[i] != s {
			t.Errorf("field %d: %q, want %q", i, got[i], s)
		}
	}
	if got[len(in)] != nil || got[len(in)+1] != "-42" {
		t.Errorf("null, int: %v %v", got[len(in)], got[len(in)+1])
	}
	if clip("ääää", 2) != "ää" || clip("abc", 5) != "abc" || text("a\xffb") != "a\uFFFDb" {
		t.Error("clip or text")
	}
}

// writeHLD writes a host list detection file of hosts.
func writeHLD(t testing.TB, path, datetime string, hosts ...*qualys.Host) {
	t.Helper()
	var buf bytes.Buffer
	w := qualys.NewHostListDetectionWriter(&buf, datetime)
	for _, h := range hosts {
		if err := w.Host(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func det(qid, port int, status, first, last string) qualys.Detection {
	d := qualys.Detection{QID: qid, Port: port, Type: "Confirmed", Severity: 4, Status: status, FirstFound: first, LastFound: last, TimesFound: 3, Results: "found on " + strconv.Itoa(port)}
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

// lifecycleFiles are two scans of one host (as in internal/app's
// lifecycle test): the second fixes, reopens, drops, adds and ignores.
func lifecycleFiles(t testing.TB) (a, b string) {
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml")
	first := "2025-12-20T10:00:00Z"
	ignored := det(1006, 8080, "Active", first, "2025-12-31T10:00:00Z")
	host := func(scanned string, dets ...qualys.Detection) *qualys.Host {
		return &qualys.Host{ID: 42, IP: "10.0.0.1", OS: "Linux", DNS: "app-01", LastVMScanned: scanned, Detections: dets}
	}
	writeHLD(t, a, "2026-01-01T00:00:00Z", host("2025-12-31T10:00:00Z",
		det(1001, 443, "New", "2025-12-31T10:00:00Z", "2025-12-31T10:00:00Z"),
		det(1002, 0, "Active", first, "2025-12-31T10:00:00Z"),
		det(1003, 22, "Active", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Fixed", first, "2025-12-24T10:00:00Z"),
		det(1007, 25, "Active", first, "2025-12-31T10:00:00Z"),
		ignored,
	))
	ignored.Ignored = true
	ignored.LastFound = "2026-01-07T10:00:00Z"
	unchanged := det(1007, 25, "Active", first, "2025-12-31T10:00:00Z")
	writeHLD(t, b, "2026-01-08T00:00:00Z", host("2026-01-07T10:00:00Z",
		det(1001, 443, "Active", "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"),
		det(1002, 0, "Fixed", first, "2025-12-31T10:00:00Z"),
		det(1004, 80, "Re-Opened", first, "2026-01-07T10:00:00Z"),
		det(1005, 443, "New", "2026-01-07T10:00:00Z", "2026-01-07T10:00:00Z"),
		unchanged,
		ignored,
	))
	return a, b
}

func TestNoChangeRerun(t *testing.T) { storetest.Each(t, testNoChangeRerun) }

func testNoChangeRerun(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	tg := newTarget(t, Config{DSN: dsn})
	publishOK(t, tg, st)
	before := dump(t, db, "qvt_findings", "finding_key")
	start := time.Now()
	rep := publishOK(t, tg, st)
	took := time.Since(start)
	if rep.Created+rep.Updated+rep.Unchanged+rep.Closed+rep.Reopened != 0 {
		t.Errorf("rerun with no change: %v", rep)
	}
	runs := dump(t, db, "qvt_findings_runs", "id")
	if len(runs) != 2 || runs[1]["status"] != "done" || runs[1]["rows_written"] != "0" || runs[1]["history_written"] != "0" {
		t.Errorf("runs after a rerun: %v", runs)
	}
	if runs[1]["from_rev"] != runs[0]["rev"] {
		t.Errorf("rerun started from revision %s, want %s", runs[1]["from_rev"], runs[0]["rev"])
	}
	if after := dump(t, db, "qvt_findings", "finding_key"); !slices.EqualFunc(before, after, mapsEqual) {
		t.Error("a rerun with no change changed the table")
	}
	if took > 5*time.Second {
		t.Errorf("rerun with no change took %v", took)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSecondImport(t *testing.T) { storetest.Each(t, testSecondImport) }

func testSecondImport(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	a, b := lifecycleFiles(t)
	st := openStore(t, be, a)
	tg := newTarget(t, Config{DSN: dsn})
	ctx := context.Background()
	rep := publishOK(t, tg, st)
	if rep.Created != 6 {
		t.Errorf("first publish: %v", rep)
	}
	rev1, _ := st.Revision(ctx)
	importFiles(t, st, b)
	rev2, _ := st.Revision(ctx)
	var changed []string
	st.Changed(ctx, rev1, func(p *store.Published) error { changed = append(changed, p.Key); return nil })
	slices.Sort(changed)
	rep = publishOK(t, tg, st)
	checkTable(t, db, "qvt_findings", st)

	// Exactly the changed rows were written: they carry the new
	// revision, the others the old one.
	var written []string
	rows, err := db.Query("SELECT finding_key FROM qvt_findings WHERE qvt_rev = ? ORDER BY finding_key", rev2)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		rows.Scan(&k)
		written = append(written, k)
	}
	rows.Close()
	if !slices.Equal(written, changed) || len(changed) != 6 {
		t.Errorf("rows at revision %d: %v, want the changed ones %v", rev2, written, changed)
	}
	if rep.Created != 1 || rep.Updated != 5 || rep.Closed != 3 || rep.Reopened != 1 {
		t.Errorf("second publish: %v, want 1 created, 5 updated, 3 closed (fixed, gone, ignored), 1 reopened", rep)
	}
	closed := map[string]string{}
	for _, r := range dump(t, db, "qvt_findings", "finding_key") {
		closed[r["qid"]] = r["closed"] + "/" + r["status"]
	}
	for q, want := range map[string]string{"1001": "/Active", "1002": "fixed/Fixed", "1003": "gone/Active", "1004": "/Re-Opened",
		"1005": "/New", "1006": "ignored/Active", "1007": "/Active"} {
		if closed[q] != want {
			t.Errorf("qid %s: closed/status %q, want %q", q, closed[q], want)
		}
	}

	// History: the store's rows, once, keyed by the store's ids.
	var storeHist []string
	st.HistoryAfter(ctx, 0, func(h store.HistoryRow) error {
		storeHist = append(storeHist, fmt.Sprintf("%d %s %s %s %s %s", h.ID, h.Key, time.Unix(h.At, 0).UTC().Format(time.DateTime), h.Event, h.Old, h.New))
		return nil
	})
	histRows := func() []string {
		var out []string
		for _, r := range dump(t, db, "qvt_findings_history", "id") {
			out = append(out, strings.Join([]string{r["id"], r["finding_key"], r["at"], r["event"], r["old"], r["new"]}, " "))
		}
		return out
	}
	if got := histRows(); len(storeHist) < 5 || !slices.Equal(got, storeHist) {
		t.Errorf("history table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(storeHist, "\n"))
	}
	if !slices.ContainsFunc(histRows(), func(h string) bool { return strings.HasSuffix(h, " 10.0.0.1:1003:22 2026-01-08 00:00:00 closed  gone") }) {
		t.Errorf("history lacks the gone event of 1003:\n%s", strings.Join(histRows(), "\n"))
	}

	// The same data again, and a publish: nothing more.
	importFiles(t, st, b)
	rep = publishOK(t, tg, st)
	if rep.Created+rep.Updated != 0 || !slices.Equal(histRows(), storeHist) {
		t.Errorf("re-import and publish: %v; history %d rows, want %d", rep, len(histRows()), len(storeHist))
	}
}

// genFiles writes a small generated data set.
func genFiles(t testing.TB, hosts, perHost int) []string {
	t.Helper()
	d := gen.New(gen.Config{Seed: 7, QIDs: 400, Hosts: hosts, DetectionsPerHost: perHost, CVEs: 800})
	kb, hld, nvd, err := gen.WriteFiles(t.TempDir(), d, false)
	if err != nil {
		t.Fatal(err)
	}
	return []string{kb, nvd, hld}
}

func TestInterruptedPublish(t *testing.T) { storetest.Each(t, testInterruptedPublish) }

func testInterruptedPublish(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, genFiles(t, 30, 20)...)
	total := len(storeRows(t, st))
	if total < 300 {
		t.Fatalf("fixture has %d findings", total)
	}
	ctx := context.Background()

	// A clean run into another table, for reference.
	publishOK(t, newTarget(t, Config{DSN: dsn, Table: "clean", Batch: 50}), st)
	st.SetPublishState(ctx, "mysql", map[string]string{"rev": "", "history": ""})

	tg := newTarget(t, Config{DSN: dsn, Batch: 50})
	cctx, cancel := context.WithCancel(ctx)
	tg.afterBatch = func(int) { cancel() }
	_, err := tg.Publish(cctx, st, publish.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted publish: %v, want context.Canceled", err)
	}
	// The first batch, rows identical to the clean run's; no watermark.
	kept := count(t, db, "SELECT COUNT(*) FROM qvt_findings")
	if kept != 50 {
		t.Errorf("after the interruption the table has %d rows, want the first batch (50)", kept)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings f JOIN clean c USING (finding_key) WHERE NOT (f.results <=> c.results AND f.status <=> c.status AND f.diagnosis <=> c.diagnosis AND f.breach_date <=> c.breach_date AND f.base <=> c.base AND f.qvt_rev <=> c.qvt_rev)"); n != 0 {
		t.Errorf("%d rows differ from the clean run's", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings_runs WHERE status = 'done'"); n != 0 {
		t.Errorf("%d done runs after the interruption", n)
	}
	if s := dump(t, db, "qvt_findings_runs", "id"); len(s) != 1 || s[0]["status"] != "failed" || !strings.Contains(s[0]["error"], "canceled") {
		t.Errorf("runs after the interruption: %v", s)
	}
	if v, _ := st.PublishState(ctx, "mysql", "rev"); v != "" {
		t.Errorf("store watermark moved to %q", v)
	}

	// The next publish completes it.
	tg.afterBatch = nil
	rep := publishOK(t, tg, st)
	if rep.Created != total-kept || rep.Unchanged != kept {
		t.Errorf("resumed publish: %v, want %d created and %d unchanged", rep, total-kept, kept)
	}
	got, want := dump(t, db, "qvt_findings", "finding_key"), dump(t, db, "clean", "finding_key")
	if !slices.EqualFunc(got, want, mapsEqual) {
		t.Errorf("after the resumed publish the table differs from a clean run's (%d rows, want %d)", len(got), len(want))
	}
	checkTable(t, db, "qvt_findings", st)
}

func TestDryRun(t *testing.T) { storetest.Each(t, testDryRun) }

func testDryRun(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	a, b := lifecycleFiles(t)
	st := openStore(t, be, a)
	tg := newTarget(t, Config{DSN: dsn})
	ctx := context.Background()
	var out bytes.Buffer
	rep, err := tg.Publish(ctx, st, publish.Options{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 6 || !strings.Contains(out.String(), "findings to write: 6 (6 new") ||
		!strings.Contains(out.String(), "would create tables: qvt_findings, qvt_findings_history, qvt_findings_runs") ||
		!strings.Contains(out.String(), "first keys: 10.0.0.1:1001:443") {
		t.Errorf("dry run on an empty database: %v\n%s", rep, out.String())
	}
	if n := count(t, db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"); n != 0 {
		t.Errorf("dry run created %d tables", n)
	}
	for _, k := range []string{"store_id", "rev", "history"} {
		if v, _ := st.PublishState(ctx, "mysql", k); v != "" {
			t.Errorf("dry run set the store's %s to %q", k, v)
		}
	}

	publishOK(t, tg, st)
	importFiles(t, st, b)
	before := dump(t, db, "qvt_findings", "finding_key")
	runs := count(t, db, "SELECT COUNT(*) FROM qvt_findings_runs")
	rev, _ := st.PublishState(ctx, "mysql", "rev")
	out.Reset()
	rep, err = tg.Publish(ctx, st, publish.Options{DryRun: true, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || rep.Updated != 5 || rep.Closed != 3 || rep.Reopened != 1 || !strings.Contains(out.String(), "history rows to write: 7") {
		t.Errorf("dry run after a second import: %v\n%s", rep, out.String())
	}
	if after := dump(t, db, "qvt_findings", "finding_key"); !slices.EqualFunc(before, after, mapsEqual) {
		t.Error("dry run changed the table")
	}
	if count(t, db, "SELECT COUNT(*) FROM qvt_findings_runs") != runs || count(t, db, "SELECT COUNT(*) FROM qvt_findings_history") != 0 {
		t.Error("dry run wrote runs or history")
	}
	if v, _ := st.PublishState(ctx, "mysql", "rev"); v != rev {
		t.Errorf("dry run moved the store watermark from %q to %q", rev, v)
	}
}

func TestErrorsHidePassword(t *testing.T) { storetest.Each(t, testErrorsHidePassword) }

func testErrorsHidePassword(t *testing.T, be storetest.Backend) {
	const pw = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"qvt:" + pw + "@tcp(db:3306)",                       // no database
		"qvt:" + pw + "@tcp(db:3306/vulns",                  // unterminated address
		"qvt:" + pw + "@tcp(db:3306)/vulns?parseTime=maybe", // bad parameter
		"mysql://qvt:" + pw + "@db:3306/vulns",              // a URL
	} {
		_, err := New(Config{DSN: dsn})
		if err == nil {
			t.Errorf("New(%q) accepted it", dsn)
			continue
		}
		if strings.Contains(err.Error(), pw) || !strings.HasPrefix(err.Error(), "mysql: ") {
			t.Errorf("New: %v", err)
		}
	}
	if _, err := New(Config{DSN: "qvt:x@tcp(db)/vulns", Table: "bad-name"}); err == nil {
		t.Error("bad table name accepted")
	}
	if _, err := New(Config{DSN: "qvt:x@tcp(db)/vulns", Batch: 5000}); err == nil || !strings.Contains(err.Error(), "65,535") {
		t.Errorf("batch over the placeholder limit: %v", err)
	}

	// Nothing listens on port 1.
	st := openStore(t, be)
	tg := newTarget(t, Config{DSN: "qvt:" + pw + "@tcp(127.0.0.1:1)/vulns?timeout=2s"})
	_, err := tg.Publish(context.Background(), st, publish.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach MySQL at 127.0.0.1:1") || strings.Contains(err.Error(), pw) {
		t.Errorf("unreachable server: %v", err)
	}

	// A real server, the wrong password.
	dsn, _ := testDSN(t)
	cfg, _ := mysql.ParseDSN(dsn)
	cfg.User, cfg.Passwd = "qvt_nobody", pw
	tg = newTarget(t, Config{DSN: cfg.FormatDSN()})
	_, err = tg.Publish(context.Background(), st, publish.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot log in to MySQL at "+cfg.Addr) || strings.Contains(err.Error(), pw) {
		t.Errorf("wrong password: %v", err)
	}
}

func TestTableShape(t *testing.T) { storetest.Each(t, testTableShape) }

func testTableShape(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	tg := newTarget(t, Config{DSN: dsn})
	for _, c := range []struct{ setup, want string }{
		{"CREATE TABLE qvt_findings (id INT PRIMARY KEY, name TEXT)", "was not created by qvt"},
		{"CREATE TABLE qvt_findings (finding_key VARCHAR(255) PRIMARY KEY) COMMENT='qvt findings, schema 9'", "schema 9, newer"},
		{"CREATE TABLE qvt_findings (finding_key VARCHAR(255) PRIMARY KEY, ip INT) COMMENT='qvt findings, schema 1'", "column ip is int, want varchar"},
	} {
		db.Exec("DROP TABLE IF EXISTS qvt_findings")
		if _, err := db.Exec(c.setup); err != nil {
			t.Fatal(err)
		}
		_, err := tg.Publish(context.Background(), st, publish.Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "qvt_findings") {
			t.Errorf("%s: %v, want %q", c.setup, err, c.want)
		}
	}
	// A column a user added is left alone.
	db.Exec("DROP TABLE IF EXISTS qvt_findings")
	publishOK(t, tg, st)
	if _, err := db.Exec("ALTER TABLE qvt_findings ADD COLUMN team VARCHAR(64) NULL"); err != nil {
		t.Fatal(err)
	}
	db.Exec("UPDATE qvt_findings SET team = 'ops'")
	st.SetPublishState(context.Background(), "mysql", map[string]string{"rev": "0"})
	publishOK(t, tg, st)
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE team = 'ops'"); n != len(storeRows(t, st)) {
		t.Errorf("user column lost: %d rows keep it", n)
	}
}

// When the two watermarks disagree the lower one wins: a database
// restored to an earlier state gets what it lacks.
func TestWatermarks(t *testing.T) { storetest.Each(t, testWatermarks) }

func testWatermarks(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	a, b := lifecycleFiles(t)
	st := openStore(t, be, a)
	tg := newTarget(t, Config{DSN: dsn})
	publishOK(t, tg, st)
	importFiles(t, st, b)
	publishOK(t, tg, st)
	full := dump(t, db, "qvt_findings", "finding_key")
	hist := count(t, db, "SELECT COUNT(*) FROM qvt_findings_history")

	// The database is restored to before the second publish: rows and
	// runs of the first only.
	db.Exec("DELETE FROM qvt_findings_runs WHERE id = 2")
	db.Exec("DELETE FROM qvt_findings_history")
	db.Exec("UPDATE qvt_findings SET status = 'stale'")
	rep := publishOK(t, tg, st)
	if len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "watermarks disagree") {
		t.Errorf("no note of the disagreement: %v", rep)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings_history"); n != hist {
		t.Errorf("history after the restore: %d rows, want %d", n, hist)
	}
	// Rows changed by the second import are right again; the others were
	// not sent (the store did not change them).
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE status = 'stale'"); n != 1 {
		t.Errorf("%d stale rows, want 1 (the one finding the second import left alone)", n)
	}

	// A database emptied altogether: everything again.
	db.Exec("DELETE FROM qvt_findings_runs")
	db.Exec("DELETE FROM qvt_findings")
	rep = publishOK(t, tg, st)
	if rep.Created != len(full) {
		t.Errorf("publish into an emptied database: %v", rep)
	}
	db.Exec("UPDATE qvt_findings SET status = 'Active' WHERE status = 'stale'")
	checkTable(t, db, "qvt_findings", st)

	// Another store publishing to the same tables starts from scratch.
	st2 := openStore(t, be, a)
	rep = publishOK(t, tg, st2)
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "another store") {
		t.Errorf("publish from another store: %v", rep)
	}
}

// Hosts that share an address share finding keys: the table holds the
// one the export shows (found most recently). A host whose address
// changes leaves no rows under the old one.
func TestSharedAndMovedAddress(t *testing.T) { storetest.Each(t, testSharedAndMovedAddress) }

func testSharedAndMovedAddress(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.xml"), filepath.Join(dir, "b.xml")
	first := "2025-12-20T10:00:00Z"
	older := det(2001, 443, "Active", first, "2025-12-30T10:00:00Z")
	newer := det(2001, 443, "Active", first, "2025-12-31T10:00:00Z")
	newer.Results = "from host 8"
	writeHLD(t, a, "2026-01-01T00:00:00Z",
		&qualys.Host{ID: 7, IP: "10.0.0.5", DNS: "seven", LastVMScanned: "2025-12-31T10:00:00Z", Detections: []qualys.Detection{older, det(2002, 0, "Active", first, first)}},
		&qualys.Host{ID: 8, IP: "10.0.0.5", DNS: "eight", LastVMScanned: "2025-12-31T10:00:00Z", Detections: []qualys.Detection{newer}},
	)
	// Host 8 moves to another address.
	writeHLD(t, b, "2026-01-08T00:00:00Z",
		&qualys.Host{ID: 8, IP: "10.0.0.6", DNS: "eight", LastVMScanned: "2026-01-07T10:00:00Z", Detections: []qualys.Detection{newer}},
	)
	st := openStore(t, be, a)
	tg := newTarget(t, Config{DSN: dsn, Batch: 1})
	publishOK(t, tg, st)
	checkTable(t, db, "qvt_findings", st)
	var res string
	db.QueryRow("SELECT results FROM qvt_findings WHERE finding_key = '10.0.0.5:2001:443'").Scan(&res)
	if res != "from host 8" {
		t.Errorf("shared key holds %q, want host 8's (found last)", res)
	}
	importFiles(t, st, b)
	rep := publishOK(t, tg, st)
	// 10.0.0.5:2001:443 is host 8's no more; host 7's did not change, so
	// the row is gone until host 7's finding changes.
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE host_id = 8 AND ip = '10.0.0.5'"); n != 0 {
		t.Errorf("host 8 keeps %d rows under its old address; report %v", n, rep)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE finding_key = '10.0.0.6:2001:443' AND host_id = 8"); n != 1 {
		t.Errorf("host 8's finding not under its new address")
	}
}

// The exploitation evidence and priority reach the table, and change
// with the store: a CVE that leaves KEV makes its findings P3 again.
func TestPriorityColumns(t *testing.T) { storetest.Each(t, testPriorityColumns) }

func testPriorityColumns(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	kev := []store.KEVEntry{publishtest.KEV("CVE-2020-15778", "2022-05-02", true)}
	epss := []store.EPSSScore{{CVE: "CVE-2020-15778", EPSS: 0.23456, Percentile: 0.97001}}
	tg := newTarget(t, Config{DSN: dsn})
	publishtest.Prioritize(t, st, 1_700_000_000, nil, epss)
	publishOK(t, tg, st)
	publishtest.Prioritize(t, st, 1_700_000_050, kev, epss)
	publishOK(t, tg, st)
	checkTable(t, db, "qvt_findings", st)

	row := func(key string) map[string]string {
		t.Helper()
		for _, r := range dump(t, db, "qvt_findings", "finding_key") {
			if r["finding_key"] == key {
				return r
			}
		}
		t.Fatalf("no row %s", key)
		return nil
	}
	// The worked example: first found 2022-04-26, breach date 2022-05-26,
	// its CVE added to KEV 2022-05-02: P1, due 14 days later.
	w := row("172.16.168.67:105936:0")
	for c, v := range map[string]string{
		"kev": "1", "kev_date_added": "2022-05-02", "kev_due_date": "2022-05-23", "kev_ransomware": "1",
		"epss": "0.23456", "epss_percentile": "0.97001", "epss_cve": "CVE-2020-15778", "qds": "NULL",
		"priority": "P1", "priority_reason": "known exploited", "due_date": "2022-05-16",
	} {
		if w[c] != v {
			t.Errorf("worked example: %s = %q, want %q", c, w[c], v)
		}
	}
	if g := normJSON(w["kev_cves"]); g != `["CVE-2020-15778"]` {
		t.Errorf("worked example: kev_cves %s", g)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE priority = ''"); n != 0 {
		t.Errorf("%d rows without a priority", n)
	}

	// The CVE leaves the catalog: the worked example drops to P2 (its
	// EPSS), due at its breach date, and the history records both
	// changes each way.
	publishtest.Prioritize(t, st, 1_700_000_100, nil, epss)
	rep := publishOK(t, tg, st)
	if rep.Updated == 0 {
		t.Errorf("report %v: nothing updated", rep)
	}
	checkTable(t, db, "qvt_findings", st)
	w = row("172.16.168.67:105936:0")
	if w["kev"] != "0" || w["priority"] != "P2" || w["priority_reason"] != "likely exploited" || w["due_date"] != "2022-05-26" || w["kev_date_added"] != "NULL" {
		t.Errorf("after leaving KEV: kev %s, %s (%s), due %s, added %s", w["kev"], w["priority"], w["priority_reason"], w["due_date"], w["kev_date_added"])
	}
	hist := dump(t, db, "qvt_findings_history", "id")
	var got []string
	for _, h := range hist {
		if h["finding_key"] == "172.16.168.67:105936:0" && (h["event"] == "priority" || h["event"] == "due") {
			got = append(got, h["event"]+" "+h["old"]+" → "+h["new"])
		}
	}
	// The import gave it P3 (severe: High) under the default rules.
	want := []string{"priority P3 → P2", "priority P2 → P1", "due 2022-05-26 → 2022-05-16", "priority P1 → P2", "due 2022-05-16 → 2022-05-26"}
	if !slices.Equal(got, want) {
		t.Errorf("history of the worked example's priority:\n got %q\nwant %q", got, want)
	}
}

// A target of schema 1 (before the priority columns) is migrated in
// place: its columns and indexes added with one ALTER TABLE, columns a
// user added kept, and every finding published again to fill them, even
// though the watermark says the table is up to date.
func TestMigrateSchema1(t *testing.T) { storetest.Each(t, testMigrateSchema1) }

func testMigrateSchema1(t *testing.T, be storetest.Backend) {
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	publishtest.Prioritize(t, st, 1_700_000_000, []store.KEVEntry{publishtest.KEV("CVE-2020-15778", "2022-05-02", false)}, nil)
	tg := newTarget(t, Config{DSN: dsn})
	publishOK(t, tg, st)
	n := len(storeRows(t, st))

	// Back to schema 1, as qvt 1 left it, with a user's column.
	for _, q := range []string{
		"ALTER TABLE qvt_findings DROP KEY `priority`, DROP KEY `kev`, DROP COLUMN kev, DROP COLUMN kev_cves, DROP COLUMN kev_date_added, " +
			"DROP COLUMN kev_due_date, DROP COLUMN kev_ransomware, DROP COLUMN epss, DROP COLUMN epss_percentile, DROP COLUMN epss_cve, " +
			"DROP COLUMN qds, DROP COLUMN threat_intel, DROP COLUMN priority, DROP COLUMN priority_reason, DROP COLUMN due_date, " +
			"DROP KEY `owner`, DROP COLUMN owner, DROP COLUMN excepted, DROP COLUMN exception, DROP COLUMN excepted_until, " +
			"ADD COLUMN team VARCHAR(64) NULL, COMMENT='qvt findings, schema 1'",
		"ALTER TABLE qvt_findings_history DROP COLUMN cause, DROP COLUMN actor, COMMENT='qvt history, schema 1'",
		"ALTER TABLE qvt_findings_runs COMMENT='qvt runs, schema 1'",
		"UPDATE qvt_findings SET team = 'ops'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	// A dry run says so and changes nothing.
	var out bytes.Buffer
	if _, err := tg.Publish(context.Background(), st, publish.Options{DryRun: true, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "would migrate table qvt_findings from schema 1 to 3") {
		t.Errorf("dry run:\n%s", out.String())
	}
	if count(t, db, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings' AND COLUMN_NAME = 'priority'") != 0 {
		t.Fatal("the dry run migrated the table")
	}

	rep := publishOK(t, tg, st)
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "migrated from schema 1 to 3") {
		t.Errorf("no note of the migration: %v", rep)
	}
	if rep.Updated != n {
		t.Errorf("report %v, want %d updated", rep, n)
	}
	for _, tb := range []string{"findings", "history", "runs"} {
		name := "qvt_findings"
		if tb != "findings" {
			name += "_" + tb
		}
		var comment string
		db.QueryRow("SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", name).Scan(&comment)
		if comment != "qvt "+tb+", schema 3" {
			t.Errorf("table %s: comment %q", name, comment)
		}
	}
	for _, ix := range []string{"priority", "kev"} {
		if count(t, db, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings' AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1", ix) == 0 {
			t.Errorf("no index on %s after the migration", ix)
		}
	}
	checkTable(t, db, "qvt_findings", st)
	if k := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE team = 'ops'"); k != n {
		t.Errorf("user column lost: %d of %d rows keep it", k, n)
	}
	if k := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE kev = 1 AND priority = 'P1'"); k == 0 {
		t.Error("no KEV row after the migration")
	}
	// The history table takes the cause again.
	if count(t, db, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings_history' AND COLUMN_NAME = 'cause'") != 1 {
		t.Error("history has no cause column after the migration")
	}
	// And the next run is an ordinary incremental one.
	rep = publishOK(t, tg, st)
	if rep.Created+rep.Updated != 0 || len(rep.Notes) != 0 {
		t.Errorf("run after the migration: %v", rep)
	}
}

// A target of schema 2 (before owners and exceptions) is migrated in
// place: the owner, excepted, exception and excepted_until columns and
// the owner index added, the history's actor too, and every finding and
// history row sent again to fill them; they carry the store's values.
func TestMigrateSchema2(t *testing.T) { storetest.Each(t, testMigrateSchema2) }

func testMigrateSchema2(t *testing.T, be storetest.Backend) {
	t.Setenv(clock.Env, "2026-01-10T00:00:00Z")
	dsn, db := testDSN(t)
	st := openStore(t, be, workedFiles()...)
	publishtest.SetOwners(t, st, owners.Set{
		{Name: "Build", Hostnames: []string{"build-*"}},
		{Name: "Ops", Default: true},
	})
	const key = "172.16.168.67:105936:0"
	name := publishtest.Except(t, st, key, exceptions.RiskAccepted, "2026-06-30")
	tg := newTarget(t, Config{DSN: dsn})
	publishOK(t, tg, st)
	n := len(storeRows(t, st))

	check := func(when string) {
		t.Helper()
		checkTable(t, db, "qvt_findings", st)
		var w map[string]string
		for _, r := range dump(t, db, "qvt_findings", "finding_key") {
			if r["finding_key"] == key {
				w = r
			}
		}
		if w["owner"] != "Build" || w["excepted"] != "1" || w["exception"] != name || w["excepted_until"] != "2026-06-30" {
			t.Errorf("%s: %s: owner %q, excepted %q, exception %q, until %q", when, key, w["owner"], w["excepted"], w["exception"], w["excepted_until"])
		}
		if k := count(t, db, "SELECT COUNT(*) FROM qvt_findings WHERE owner = 'Ops' AND excepted = 0 AND exception = '' AND excepted_until IS NULL"); k == 0 {
			t.Errorf("%s: no row of the default owner, not excepted", when)
		}
		if k := count(t, db, "SELECT COUNT(*) FROM qvt_findings_history WHERE event = 'exception' AND new = ? AND actor = ?", name, publishtest.Recorder); k != 1 {
			t.Errorf("%s: %d history rows of the exception with its actor, want 1", when, k)
		}
	}
	check("first publish")

	// Back to schema 2, as the previous qvt left it.
	for _, q := range []string{
		"ALTER TABLE qvt_findings DROP KEY `owner`, DROP COLUMN owner, DROP COLUMN excepted, DROP COLUMN exception, " +
			"DROP COLUMN excepted_until, COMMENT='qvt findings, schema 2'",
		"ALTER TABLE qvt_findings_history DROP COLUMN actor, COMMENT='qvt history, schema 2'",
		"ALTER TABLE qvt_findings_runs COMMENT='qvt runs, schema 2'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	rep := publishOK(t, tg, st)
	notes := strings.Join(rep.Notes, "\n")
	if !strings.Contains(notes, "qvt_findings is migrated from schema 2 to 3") || !strings.Contains(notes, "qvt_findings_history is migrated from schema 2 to 3") {
		t.Errorf("no notes of the migration: %v", rep)
	}
	if rep.Updated != n {
		t.Errorf("report %v, want %d updated", rep, n)
	}
	if count(t, db, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'qvt_findings' AND COLUMN_NAME = 'owner' AND SEQ_IN_INDEX = 1") == 0 {
		t.Error("no index on owner after the migration")
	}
	check("after the migration")
	if rep = publishOK(t, tg, st); rep.Created+rep.Updated != 0 || len(rep.Notes) != 0 {
		t.Errorf("run after the migration: %v", rep)
	}
}
