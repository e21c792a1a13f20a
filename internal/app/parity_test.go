package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/export"
	"qvt/internal/gen"
	"qvt/internal/qualys"
	"qvt/internal/store/storetest"
)

// parityData is the generated part of the parity inputs: big enough for
// every kind of KB entry, score and status, small enough for a second.
var parityData = gen.Config{Seed: 11, QIDs: 600, Hosts: 150, DetectionsPerHost: 12, CVEs: 1000}

// parityDays writes the inputs of the parity test into dir: three days,
// each a list of files imported in order. Day 0 is the fixtures, the
// worked example and a generated estate; days 1 and 2 are rescans (the
// generated estate's changed hosts and KB entries, and a host written
// here) that fix, close as gone, reopen and add findings.
func parityDays(t *testing.T, dir string) [][]string {
	t.Helper()
	d := gen.New(parityData)
	write := func(name string, fn func(io.Writer) error) string {
		t.Helper()
		p := filepath.Join(dir, name)
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	scan := func(name, datetime string, hosts ...*qualys.Host) string {
		return write(name, func(w io.Writer) error {
			hw := qualys.NewHostListDetectionWriter(w, datetime)
			for _, h := range hosts {
				if err := hw.Host(h); err != nil {
					return err
				}
			}
			return hw.Close(nil)
		})
	}
	day0 := append([]string{worked("kb.xml"), worked("detections.xml")}, allFixtures...)
	day0 = append(day0,
		write("gen-kb-0.xml", func(w io.Writer) error { return gen.WriteKB(w, d, d.QIDs(), 0) }),
		write("gen-hld-0.xml", func(w io.Writer) error { return gen.WriteHostListDetection(w, d, d.HostIDs(0), 0, nil) }),
		write("gen-nvd-0.json", func(w io.Writer) error { return gen.WriteNVD(w, d, 0, d.CVECount(0), 0, 0, d.CVECount(0)) }),
		scan("own-0.xml", "2026-01-01T00:00:00Z", ownHost("2025-12-31T10:00:00Z",
			pdet(105936, 0, "Active", "", 0), pdet(1002, 0, "Active", "", 0), pdet(1003, 22, "Active", "", 0),
			pdet(1004, 80, "Fixed", "2025-12-24T10:00:00Z", 0))),
	)
	days := [][]string{day0}
	for e := 1; e <= 2; e++ {
		since := d.Now(e - 1)
		qids := d.VulnsModifiedSince(since, e)
		hosts := d.HostsProcessedSince(since, e)
		cves := d.CVEsModifiedBetween(since, d.Now(e), e)
		files := []string{
			write(fmt.Sprintf("gen-kb-%d.xml", e), func(w io.Writer) error { return gen.WriteKB(w, d, qids, e) }),
			write(fmt.Sprintf("gen-hld-%d.xml", e), func(w io.Writer) error { return gen.WriteHostListDetection(w, d, hosts, e, nil) }),
			write(fmt.Sprintf("gen-nvd-%d.json", e), func(w io.Writer) error { return gen.WriteNVDIndexes(w, d, cves, e, 0, len(cves)) }),
		}
		if len(hosts) == 0 {
			t.Fatalf("the generated estate changed no host on day %d", e)
		}
		switch e {
		case 1: // 1002 fixed, 1003 gone, 1004 reopened, 1005 new
			files = append(files, scan("own-1.xml", "2026-01-08T00:00:00Z", ownHost("2026-01-07T10:00:00Z",
				pdet(105936, 0, "Active", "", 0), pdet(1002, 0, "Fixed", "2026-01-07T10:00:00Z", 0),
				pdet(1004, 80, "Re-Opened", "2025-12-24T10:00:00Z", 1), pdet(1005, 443, "New", "", 0))))
		case 2: // 1002 back
			files = append(files, scan("own-2.xml", "2026-01-15T00:00:00Z", ownHost("2026-01-14T10:00:00Z",
				pdet(105936, 0, "Active", "", 0), pdet(1002, 0, "Re-Opened", "2026-01-07T10:00:00Z", 1),
				pdet(1004, 80, "Active", "2025-12-24T10:00:00Z", 1), pdet(1005, 443, "Active", "", 0))))
		}
		days = append(days, files)
	}
	return days
}

// ownHost is the parity test's own host, with a tag, scanned at scanned.
func ownHost(scanned string, dets ...qualys.Detection) *qualys.Host {
	return &qualys.Host{ID: 990001, IP: "10.99.0.1", OS: "Linux", DNS: "parity-01", LastVMScanned: scanned,
		Tags: []qualys.Tag{{ID: 7, Name: "Parity"}}, Detections: withLastFound(scanned, dets)}
}

func withLastFound(scanned string, dets []qualys.Detection) []qualys.Detection {
	for i := range dets {
		if dets[i].LastFound == "" {
			dets[i].LastFound = scanned
		}
	}
	return dets
}

// pdet is a detection of the parity host, first found on December 20th,
// last fixed at fixed ("" for never), as Qualys keeps it after a reopen.
func pdet(qid, port int, status, fixed string, reopened int) qualys.Detection {
	d := qualys.Detection{QID: qid, Port: port, Type: "Confirmed", Severity: 2 + qid%4, Status: status,
		FirstFound: "2025-12-20T10:00:00Z", TimesFound: 3, TimesReopened: reopened,
		Results: fmt.Sprintf("QID %d on port %d, \"quoted\", tab\there, ünïcödé.", qid, port)}
	if port != 0 {
		d.Protocol = "tcp"
	}
	d.LastFixed = fixed
	if status == "Fixed" {
		d.LastFound = fixed
	}
	return d
}

// exportViews are the exports compared: everything, the default, and
// filters that go through the store's filter SQL.
var exportViews = [][]string{
	{"--status", "all"},
	{},
	{"--status", "closed"},
	{"--status", "open", "--min-rating", "high"},
	{"--status", "Re-Opened,fixed,gone"},
	{"--tag", "parity"},
	{"--host", "10.99.0.1,parity-01"},
	{"--overdue"},
	{"--cve", "CVE-2021-44228,CVE-2020-15778"},
}

// The same inputs give byte-identical exports on SQLite and PostgreSQL, in
// every export format and filter, after the first import and after each
// rescan: the history-dependent fields (closed, closed_reason, last_fixed,
// times_reopened, first_seen, last_seen) come out the same from both.
func TestExportsIdenticalOnBothEngines(t *testing.T) {
	days := parityDays(t, t.TempDir())
	backends := storetest.Backends()
	locs := make([]string, len(backends))
	for i, b := range backends {
		locs[i] = b.New(t)
	}
	var last string            // the first engine's full NDJSON after the last day
	found := map[string]bool{} // views that selected a finding on some day
	for day, files := range days {
		for i, loc := range locs {
			code, _, errs := qvt(t, nil, append([]string{"--db", loc, "import"}, files...)...)
			if code != 0 {
				t.Fatalf("%s: import of day %d: exit %d\n%s", backends[i].Name, day, code, errs)
			}
		}
		for _, view := range exportViews {
			for _, format := range export.Formats {
				args := append([]string{"export", "--format", format}, view...)
				var want string
				for i, loc := range locs {
					code, out, errs := qvt(t, nil, append([]string{"--db", loc}, args...)...)
					if code != 0 {
						t.Fatalf("%s: day %d: qvt %s: exit %d\n%s", backends[i].Name, day, strings.Join(args, " "), code, errs)
					}
					if i == 0 {
						want = out
						if format == "ndjson" && out != "" {
							found[strings.Join(view, " ")] = true
						}
						if format == "ndjson" && len(view) == 2 && view[1] == "all" {
							last = out
						}
						continue
					}
					if out != want {
						t.Errorf("day %d: qvt %s: %s differs from %s: %s", day, strings.Join(args, " "),
							backends[i].Name, backends[0].Name, firstDifference(want, out))
					}
				}
			}
		}
	}
	for _, view := range exportViews {
		if !found[strings.Join(view, " ")] {
			t.Errorf("qvt export %s selected nothing on any day: it compares nothing", strings.Join(view, " "))
		}
	}
	// The rescans did what the test is for: findings fixed, gone and
	// reopened, and the parity host's history as written.
	reasons, reopened := map[string]int{}, 0
	byKey := map[string]map[string]any{}
	for l := range strings.Lines(last) {
		var f map[string]any
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		reasons[fmt.Sprint(f["closed_reason"])]++
		if n, _ := f["times_reopened"].(float64); n > 0 {
			reopened++
		}
		byKey[f["key"].(string)] = f
	}
	if reasons["fixed"] == 0 || reasons["gone"] == 0 || reopened == 0 || reasons[""] == 0 {
		t.Errorf("the inputs exercise too little history: closed reasons %v, %d reopened", reasons, reopened)
	}
	for key, want := range map[string]string{
		"10.99.0.1:1002:0":   "Re-Opened false  2026-01-07T10:00:00Z",
		"10.99.0.1:1003:22":  "Active true gone <nil>",
		"10.99.0.1:1004:80":  "Active false  2025-12-24T10:00:00Z",
		"10.99.0.1:1005:443": "Active false  <nil>",
	} {
		f := byKey[key]
		if f == nil {
			t.Errorf("%s is not exported", key)
			continue
		}
		if got := fmt.Sprint(f["status"], " ", f["closed"], " ", f["closed_reason"], " ", f["last_fixed"]); got != want {
			t.Errorf("%s: status closed reason last_fixed = %q, want %q", key, got, want)
		}
	}
}

// firstDifference describes where a and b first differ: the line number
// and both lines, cut short.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d (of %d and %d):\n  want %.600q\n   got %.600q", i+1, len(al), len(bl), x, y)
		}
	}
	return "same lines, different bytes"
}
