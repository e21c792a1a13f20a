package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// qvt runs the command line in-process and returns its exit code and
// outputs.
func qvt(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	return qvtWithin(t, 2*time.Minute, env, args...)
}

// qvtWithin runs qvt in-process and interrupts it after d, so that a
// command that should have been refused but serves or waits instead
// fails its test in time rather than hanging it until Go's timeout.
func qvtWithin(t *testing.T, d time.Duration, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := Run(ctx, args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := qvt(t, nil, args...)
	if code != 0 {
		t.Fatalf("qvt %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n got: %.2000s\nwant: %.2000s", name, got, want)
	}
}

const (
	qualysData = "../qualys/testdata/"
	nvdData    = "../nvd/testdata/"
)

// The worked example of docs/findings.md, end to end: key, scores, rating
// and deadline, in every export format.
func TestWorkedExample(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	js := mustRun(t, "--db", db, "export", "--format", "json")
	var fs []map[string]any
	if err := json.Unmarshal([]byte(js), &fs); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	// The Info detection is not a finding.
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2", len(fs))
	}
	f := fs[0]
	for k, want := range map[string]any{
		"key": "172.16.168.67:105936:0", "ip": "172.16.168.67", "port": 0.0, "qid": 105936.0,
		"base": 7.8, "temporal": 7.6, "env_score": 7.6, "vuln_score": "High", "breach_date": "2022-05-26",
		"cve_id": "CVE-2020-15778", "cvss_version": "3.0", "hostname": "build-01.corp.example",
		"first_found": "2022-04-26T04:00:51Z", "last_fixed": nil, "status": "Active",
	} {
		if f[k] != want {
			t.Errorf("%s = %#v, want %#v", k, f[k], want)
		}
	}
	// A QID missing from the KB is rated from its severity: 3 is Medium,
	// 90 days from first found.
	if g := fs[1]; g["vuln_score"] != "Medium" || g["breach_date"] != "2022-04-10" || g["base"] != nil {
		t.Errorf("unscored finding = %v", g)
	}
	golden(t, "worked/findings.json", js)
	golden(t, "worked/findings.csv", mustRun(t, "--db", db, "export", "--format", "csv"))
	golden(t, "worked/legacy.json", mustRun(t, "--db", db, "export", "--format", "legacy"))

	// NDJSON carries the same objects, one per line.
	nd := mustRun(t, "--db", db, "export", "--format", "ndjson")
	lines := strings.Split(strings.TrimSuffix(nd, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("ndjson has %d lines", len(lines))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(m) != fmt.Sprint(fs[i]) {
			t.Errorf("ndjson line %d differs from the JSON array element", i)
		}
	}
}

// Every field of the contract is present in every finding, with its type.
func TestExportContractFields(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", qualysData+"kb_demisto_2qids.xml", qualysData+"hld_demisto_2hosts.xml",
		qualysData+"kb_jupiterone_42qids.xml", qualysData+"hld_jupiterone.xml", nvdData+"nvd_api2_response.json")
	var fs []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "--db", db, "export")), &fs); err != nil {
		t.Fatal(err)
	}
	types := map[string]string{
		"key": "string", "ip": "string", "host_id": "number", "hostname": "string", "os": "string",
		"qid": "number", "port": "number", "protocol": "string", "type": "string", "severity": "number",
		"status": "string", "times_found": "number", "first_found": "string|null", "last_found": "string|null",
		"last_fixed": "string|null", "results": "string", "title": "string", "category": "string",
		"vuln_type": "string", "diagnosis": "string", "consequence": "string", "solution": "string",
		"patchable": "bool", "remote": "bool", "vendor_refs": "array", "cves": "array", "cve_id": "string",
		"cvss_version": "string", "cvss_vector": "string", "base": "number|null", "temporal": "number|null",
		"env_score": "number|null", "vuln_score": "string", "breach_date": "string",
		"closed": "bool", "closed_reason": "string", "first_seen": "string|null", "last_seen": "string|null",
		"times_reopened": "number", "tags": "array",
		"kev": "bool", "kev_cves": "array", "kev_date_added": "string", "kev_due_date": "string",
		"kev_ransomware": "bool", "epss": "number|null", "epss_percentile": "number|null", "epss_cve": "string",
		"qds": "number|null", "threat_intel": "array", "priority": "string", "priority_reason": "string",
		"due_date": "string", "owner": "string", "excepted": "bool", "exception": "string", "excepted_until": "string",
	}
	if len(fs) != 11 {
		t.Errorf("%d findings, want 11 (8 + 3 detections, no Info)", len(fs))
	}
	prev := ""
	for _, f := range fs {
		if len(f) != len(types) {
			t.Errorf("%v: %d fields, want %d", f["key"], len(f), len(types))
		}
		for k, want := range types {
			v, ok := f[k]
			if !ok {
				t.Fatalf("%v: no field %q", f["key"], k)
			}
			got := "null"
			switch v.(type) {
			case string:
				got = "string"
			case float64:
				got = "number"
			case bool:
				got = "bool"
			case []any:
				got = "array"
			}
			if !strings.Contains(want, got) {
				t.Errorf("%v: %s is %s, want %s", f["key"], k, got, want)
			}
		}
		key := f["key"].(string)
		if key <= prev {
			t.Errorf("keys not sorted: %q after %q", key, prev)
		}
		prev = key
	}
	// A detection without PORT has port 0 in its key.
	found := false
	for _, f := range fs {
		if f["key"] == "1.2.2.2:38726:0" {
			found = true
			if f["protocol"] != "" || f["type"] != "Potential" || f["status"] != "New" {
				t.Errorf("38726 = %v", f)
			}
		}
	}
	if !found {
		t.Error("no finding 1.2.2.2:38726:0")
	}
}

// dump returns every row of every table, in a stable order.
func dump(t *testing.T, db string) string {
	t.Helper()
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	for _, table := range []string{"kb_vulns", "kb_cves", "nvd_cves", "nvd_metrics", "hosts", "host_tags", "detections", "qid_scores", "rescore_queue", "meta"} {
		rows, err := st.DB().Query("SELECT * FROM " + table + " ORDER BY 1, 2")
		if err != nil {
			// meta and rescore_queue have fewer columns
			rows, err = st.DB().Query("SELECT * FROM " + table + " ORDER BY 1")
			if err != nil {
				t.Fatal(err)
			}
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %v\n", table, vals)
			n++
		}
		rows.Close()
		fmt.Fprintf(&b, "%s: %d rows\n", table, n)
	}
	return b.String()
}

var allFixtures = []string{
	qualysData + "kb_demisto_2qids.xml", qualysData + "kb_jupiterone_42qids.xml",
	qualysData + "hld_demisto_2hosts.xml", qualysData + "hld_jupiterone.xml",
	nvdData + "nvd_api2_response.json", nvdData + "CVE-2021-44228.json", nvdData + "CVE-2025-0168.json",
	nvdData + "CVE-2025-0065.json", nvdData + "nvdcve-1.1-recent.json",
}

// Re-importing the same files leaves the store identical.
func TestReimportIdentical(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, append([]string{"--db", db, "import"}, allFixtures...)...)
	first := dump(t, db)
	if !strings.Contains(first, "detections: 11 rows") {
		t.Fatalf("unexpected first import:\n%.3000s", first)
	}
	mustRun(t, append([]string{"--db", db, "import"}, allFixtures...)...)
	if second := dump(t, db); second != first {
		t.Errorf("the store changed on re-import")
	}
}

// Gzip-compressed inputs are recognised by content, whatever their name.
func TestImportGzipByContent(t *testing.T) {
	dir := t.TempDir()
	for i, src := range []string{"testdata/worked/kb.xml", "testdata/worked/detections.xml"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw := newGzip(&buf)
		zw.Write(data)
		zw.Close()
		// Names that say nothing about the content.
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("input-%d.dat", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "qvt.db")
	mustRun(t, "--db", db, "import", filepath.Join(dir, "input-1.dat"), filepath.Join(dir, "input-0.dat"))
	out := mustRun(t, "--db", db, "export", "--status", "open")
	if !strings.Contains(out, `"breach_date":"2022-05-26"`) {
		t.Errorf("gzip import: %s", out)
	}
}

// Bad input: a clear one-line error naming the file and where it broke,
// exit 1, and the store exactly as it was.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hld, _ := os.ReadFile(qualysData + "hld_demisto_2hosts.xml")
	kb, _ := os.ReadFile(qualysData + "kb_jupiterone_42qids.xml")
	nvdResp, _ := os.ReadFile(nvdData + "nvd_api2_response.json")
	// A KEV catalog whose second entry has no CVE id.
	badKEV := []byte(`{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2025.08.25","count":2,"vulnerabilities":[` +
		`{"cveID":"CVE-2025-48384","dateAdded":"2025-08-25","dueDate":"2025-09-15"},{"vendorProject":"Acme","dateAdded":"2025-08-25"}]}`)
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"truncated detections", write("cut.xml", hld[:len(hld)/2]), []string{"cut.xml", "byte ", "…/HOST/DETECTION_LIST/", "incomplete"}},
		{"truncated KB", write("cut-kb.xml", kb[:40000]), []string{"cut-kb.xml", "byte ", "VULN"}},
		{"truncated NVD", write("cut.json", nvdResp[:9000]), []string{"cut.json", "byte "}},
		{"malformed XML", write("bad.xml", []byte("<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><HOST_LIST><HOST><ID>1</ID></HOST_LIST>")), []string{"bad.xml", "does not match <HOST>"}},
		{"KEV entry without a CVE id", write("kev.json", badKEV), []string{"kev.json", "kev: entry 1", "cveID"}},
		{"EPSS row out of range", write("epss_scores-2026-12-01.csv", []byte("#model_version:v2025.03.14,score_date:2026-12-01T00:00:00+0000\ncve,epss,percentile\nCVE-2024-0001,0.5,0.9\nCVE-2024-0002,1.7,0.9\n")),
			[]string{"epss_scores-2026-12-01.csv", "line 4", "epss"}},
		{"empty file", write("empty.xml", nil), []string{"empty.xml", "empty file"}},
		{"text file", write("notes.txt", []byte("hello\n")), []string{"notes.txt", "not a Qualys XML, NVD JSON, CISA KEV or EPSS file"}},
		{"Qualys doc sample", "../qualys/testdata/doccenter_hld_sample1.txt", []string{"doccenter_hld_sample1.txt", "not a Qualys XML, NVD JSON, CISA KEV or EPSS file"}},
		{"Qualys error body", qualysData + "simple_return_2001.xml", []string{"simple_return_2001.xml", "2001", "This account has expired."}},
		{"other XML", write("other.xml", []byte(`<?xml version="1.0"?><rss><channel/></rss>`)), []string{"other.xml", "unsupported XML document <rss>"}},
		{"missing file", filepath.Join(dir, "nope.xml"), []string{"nope.xml", "no such file"}},
		{"bad gzip", write("bad.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0}), []string{"bad.gz", "gzip"}},
	}
	db := filepath.Join(dir, "qvt.db")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	before := dump(t, db)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A good file first: it must be rolled back with the bad one.
			code, _, errs := qvt(t, nil, "--db", db, "import", qualysData+"hld_jupiterone.xml", tt.file)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("error is not one line: %q", errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q does not mention %q", errs, w)
				}
			}
			if strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine") {
				t.Errorf("panic: %s", errs)
			}
			if after := dump(t, db); after != before {
				t.Error("the store changed")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	for _, args := range [][]string{
		{"frobnicate"},
		{"--no-such-flag"},
		{"import"},
		{"--db", db, "export", "--format", "xml"},
		{"--db", db, "export", "--status", "closedish"},
		{"--db", db, "export", "--min-rating", "Severe"},
		{"--db", db, "export", "--qid", "abc"},
		{"export", "extra-arg"},
		{"version", "x"},
	} {
		code, _, errs := qvt(t, nil, args...)
		if code != 2 {
			t.Errorf("qvt %v: exit %d, want 2 (%s)", args, code, errs)
		}
		if errs == "" {
			t.Errorf("qvt %v: no message", args)
		}
	}
}

func TestHelpEverywhere(t *testing.T) {
	root := (&env{getenv: func(string) string { return "" }}).rootCommand()
	cmds := [][]string{{"--help"}}
	for _, c := range root.Commands() {
		cmds = append(cmds, []string{c.Name(), "--help"})
	}
	env := map[string]string{"QUALYS_PASSWORD": "hunter2-secret", "NVD_API_KEY": "nvd-key-secret"}
	for _, args := range cmds {
		code, out, errs := qvt(t, env, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("qvt %v: exit %d, output %q %q", args, code, out, errs)
		}
		if strings.Contains(out+errs, "hunter2-secret") || strings.Contains(out+errs, "nvd-key-secret") {
			t.Errorf("qvt %v prints a secret", args)
		}
	}
}

func TestExportFilters(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, append([]string{"--db", db, "import"}, allFixtures...)...)
	keys := func(args ...string) []string {
		out := mustRun(t, append([]string{"--db", db, "export", "--format", "ndjson"}, args...)...)
		var ks []string
		for l := range strings.Lines(out) {
			var f struct {
				Key       string `json:"key"`
				Status    string `json:"status"`
				VulnScore string `json:"vuln_score"`
			}
			if err := json.Unmarshal([]byte(l), &f); err != nil {
				t.Fatal(err)
			}
			ks = append(ks, f.Key+" "+f.Status+" "+f.VulnScore)
		}
		return ks
	}
	all := keys()
	if len(all) != 11 {
		t.Fatalf("%d findings: %v", len(all), all)
	}
	for _, k := range keys("--status", "New") {
		if !strings.Contains(k, " New ") {
			t.Errorf("--status New gave %s", k)
		}
	}
	if n := len(keys("--status", "New")); n != 2 {
		t.Errorf("--status New: %d findings, want 2", n)
	}
	if n := len(keys("--status", "open")); n != 11 {
		t.Errorf("--status open: %d, want 11", n)
	}
	if n := len(keys("--status", "fixed")); n != 0 {
		t.Errorf("--status fixed: %d, want 0", n)
	}
	for _, k := range keys("--min-rating", "medium") {
		if !strings.HasSuffix(k, " Medium") && !strings.HasSuffix(k, " High") && !strings.HasSuffix(k, " Critical") {
			t.Errorf("--min-rating medium gave %s", k)
		}
	}
	if got := keys("--host", "1.2.2.2"); len(got) != 2 || !strings.HasPrefix(got[0], "1.2.2.2:") {
		t.Errorf("--host 1.2.2.2: %v", got)
	}
	if got := keys("--host", "one.one.one.one"); len(got) != 6 {
		t.Errorf("--host by name: %v", got)
	}
	if got := keys("--qid", "38170,38173"); len(got) != 2 {
		t.Errorf("--qid: %v", got)
	}
	if got := keys("--cve", "CVE-1999-0001"); len(got) != 0 {
		t.Errorf("--cve unknown: %v", got)
	}
}

func TestLegacyArgs(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"-p"}, []string{"run"}},
		{[]string{"-f"}, []string{"sync", "--full"}},
		{[]string{"-p", "-f", "-v"}, []string{"run", "--full", "-v"}},
		{[]string{"-pv"}, []string{"run", "-v"}},
		{[]string{"-vp"}, []string{"run", "-v"}},
		{[]string{"-fpv"}, []string{"run", "--full", "-v"}},
		{[]string{"-fv"}, []string{"sync", "--full", "-v"}},
		{[]string{"-pf", "--config", "q.yaml"}, []string{"run", "--full", "--config", "q.yaml"}},
		{[]string{"--db", "x.db", "-p"}, []string{"run", "--db", "x.db"}},
		{[]string{"-v"}, []string{"-v"}},
		{[]string{"-v", "export"}, []string{"-v", "export"}},
		{[]string{"export", "-f"}, []string{"export", "-f"}},
	}
	for _, tt := range tests {
		got, err := legacyArgs(tt.in)
		if err != nil || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("legacyArgs(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	// The old flags with a command are refused, and the message names
	// what was typed, not a command qvt made up.
	for _, args := range [][]string{{"-f", "export"}, {"-pv", "history", "x"}, {"--db", "x.db", "-f", "export"}} {
		code, _, errs := qvt(t, nil, args...)
		if code != ExitUsage || strings.Contains(errs, "qvt sync takes") || !strings.Contains(errs, "old tool") {
			t.Errorf("qvt %v: exit %d: %s", args, code, errs)
		}
	}
}

func newGzip(w *bytes.Buffer) *gzip.Writer { return gzip.NewWriter(w) }
