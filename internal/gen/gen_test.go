package gen

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"qvt/internal/qualys"
)

// small is the data set most tests use: big enough for the statistics to
// settle, small enough to generate in well under a second.
func small(seed uint64) *Dataset {
	return New(Config{Seed: seed, QIDs: 1000, Hosts: 200, DetectionsPerHost: 40, CVEs: 1000})
}

func writeAll(t testing.TB, d *Dataset, epoch int) (kb, hld, nvd []byte) {
	t.Helper()
	var a, b, c bytes.Buffer
	if err := WriteKB(&a, d, d.QIDs(), epoch); err != nil {
		t.Fatal(err)
	}
	if err := WriteHostListDetection(&b, d, d.HostIDs(epoch), epoch, nil); err != nil {
		t.Fatal(err)
	}
	n := d.CVECount(epoch)
	if err := WriteNVD(&c, d, 0, n, epoch, 0, n); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes(), c.Bytes()
}

func TestDeterministic(t *testing.T) {
	kb1, hld1, nvd1 := writeAll(t, small(7), 3)
	kb2, hld2, nvd2 := writeAll(t, small(7), 3)
	if !bytes.Equal(kb1, kb2) || !bytes.Equal(hld1, hld2) || !bytes.Equal(nvd1, nvd2) {
		t.Fatal("same seed, different output")
	}
	kb3, hld3, nvd3 := writeAll(t, small(8), 3)
	if bytes.Equal(kb1, kb3) || bytes.Equal(hld1, hld3) || bytes.Equal(nvd1, nvd3) {
		t.Fatal("different seeds, same output")
	}
	// A record does not depend on which others were generated before it.
	d := small(7)
	q := d.QIDs()[500]
	id := d.HostIDs(3)[100]
	v1, h1, c1 := d.Vuln(q, 3), d.Host(id, 3), d.CVE(600, 3)
	writeAll(t, d, 3)
	v2, h2, c2 := d.Vuln(q, 3), d.Host(id, 3), d.CVE(600, 3)
	if !equalJSON(v1, v2) || !equalJSON(h1, h2) || !equalJSON(c1, c2) {
		t.Error("records change with generation order")
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestIDs(t *testing.T) {
	d := small(1)
	qids := d.QIDs()
	if len(qids) != 1000 || !slices.IsSorted(qids) || len(slices.Compact(slices.Clone(qids))) != 1000 {
		t.Fatalf("QIDs: %d, sorted %v", len(qids), slices.IsSorted(qids))
	}
	if qids[0] < 1 || qids[len(qids)-1] >= 400000 {
		t.Errorf("QIDs span %d..%d", qids[0], qids[len(qids)-1])
	}
	big := New(Config{QIDs: 150000, CVEs: 10})
	if q := big.QIDs(); len(q) != 150000 || !slices.IsSorted(q) || len(slices.Compact(slices.Clone(q))) != 150000 || q[len(q)-1] >= 400000 {
		t.Errorf("150,000 QIDs: %d, last %d", len(q), q[len(q)-1])
	}

	seen := map[string]bool{}
	prev := ""
	for i := range d.CVECount(20) {
		id := d.CVEID(i)
		if seen[id] || len(id) < 13 || !strings.HasPrefix(id, "CVE-") {
			t.Fatalf("CVE %d: %q (duplicate %v)", i, id, seen[id])
		}
		if i > 0 && cveLess(id, prev) {
			t.Fatalf("CVE ids not ascending: %s after %s", id, prev)
		}
		if i < d.cves.n && d.cveIndexOf(id) != i {
			t.Fatalf("cveIndexOf(%s) = %d, want %d", id, d.cveIndexOf(id), i)
		}
		seen[id], prev = true, id
	}
	if first, last := d.CVEID(0), d.CVEID(d.cves.n-1); first[4:8] != "1999" || last[4:8] != "2026" {
		t.Errorf("CVE years %s..%s", first, last)
	}

	ids := d.HostIDs(30)
	if len(ids) <= len(d.HostIDs(0)) || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("host ids: %d at 30, %d at 0", len(ids), len(d.HostIDs(0)))
	}
	ips := map[string]bool{}
	for _, id := range ids {
		h := d.Host(id, 30)
		a := h.Address()
		if h.ID != id || a == "" || ips[a] {
			t.Fatalf("host %d: address %q (duplicate %v)", id, a, ips[a])
		}
		ips[a] = true
	}
	if h := d.Host(ids[len(ids)-1], 0); h.ID != 0 {
		t.Error("a host of epoch 30 exists at epoch 0")
	}
	if h := d.Host(ids[0]+1, 0); h.ID != 0 && !slices.Contains(ids, ids[0]+1) {
		t.Error("Host invents ids")
	}
}

func cveLess(a, b string) bool {
	if a[4:8] != b[4:8] {
		return a[4:8] < b[4:8]
	}
	return len(a) < len(b) || len(a) == len(b) && a < b
}

// TestHostsEvolve follows every detection from one epoch to later ones.
func TestHostsEvolve(t *testing.T) {
	d := small(2)
	const later = 10
	var open0, fixedLater, fixed0, reopened int
	for _, id := range d.HostIDs(0) {
		prev := map[int64]qualys.Detection{}
		for _, x := range d.Host(id, 0).Detections {
			prev[x.UniqueVulnID] = x
		}
		for e := 1; e <= later; e++ {
			h := d.Host(id, e)
			checkHost(t, d, &h, e)
			cur := map[int64]qualys.Detection{}
			for _, x := range h.Detections {
				cur[x.UniqueVulnID] = x
			}
			for uid, p := range prev {
				c, ok := cur[uid]
				if !ok {
					t.Fatalf("host %d: detection %d vanished at epoch %d", id, uid, e)
				}
				if c.QID != p.QID || c.FirstFound != p.FirstFound || c.TimesFound < p.TimesFound ||
					c.LastFound < p.LastFound || c.TimesReopened < p.TimesReopened || c.Port != p.Port {
					t.Fatalf("host %d epoch %d: detection went back:\n%+v\n%+v", id, e, p, c)
				}
				if p.Status == "Fixed" && c.Status != "Fixed" && c.Status != "Re-Opened" ||
					p.Status != "Fixed" && c.Status == "New" && c.LastFound != p.LastFound {
					t.Fatalf("host %d: %s -> %s", id, p.Status, c.Status)
				}
			}
			prev = cur
		}
		last := map[int64]qualys.Detection{}
		for _, x := range d.Host(id, later).Detections {
			last[x.UniqueVulnID] = x
		}
		for _, x := range d.Host(id, 0).Detections {
			switch {
			case x.Status == "Fixed":
				fixed0++
				if last[x.UniqueVulnID].TimesReopened > x.TimesReopened {
					reopened++
				}
			default:
				open0++
				if last[x.UniqueVulnID].LastFixed > x.LastFixed {
					fixedLater++
				}
			}
		}
	}
	t.Logf("%d of %d open detections fixed, %d of %d fixed ones re-opened in %d days", fixedLater, open0, reopened, fixed0, later)
	// 3% a day compounds to 26% in ten days; 1% to 9.6%.
	if f := float64(fixedLater) / float64(open0); f < 0.18 || f > 0.34 {
		t.Errorf("%.1f%% of open detections fixed in %d days, want about 26%%", 100*f, later)
	}
	if f := float64(reopened) / float64(fixed0); f < 0.04 || f > 0.17 {
		t.Errorf("%.1f%% of fixed detections re-opened in %d days, want about 10%%", 100*f, later)
	}
	if a, b := len(d.HostIDs(0)), len(d.HostIDs(later)); b-a != later*d.hostsPerEpoch || d.HostIDs(later)[a] <= d.HostIDs(0)[a-1] {
		t.Errorf("hosts %d -> %d", a, b)
	}
}

// checkHost checks the invariants of one host's times and statuses.
func checkHost(t *testing.T, d *Dataset, h *qualys.Host, epoch int) {
	t.Helper()
	now := qualysTime(d.now(epoch))
	if h.LastScan > now || h.LastVMScanned > h.LastScan || h.LastScan <= qualysTime(d.now(epoch-8)) {
		t.Fatalf("host %d at %s: scanned %s, processed %s", h.ID, now, h.LastVMScanned, h.LastScan)
	}
	if len(h.Detections) == 0 {
		t.Fatalf("host %d has no detections", h.ID)
	}
	for _, x := range h.Detections {
		bad := ""
		switch {
		case !(x.FirstFound <= x.LastFound && x.LastFound <= x.LastTest && x.LastTest <= x.LastUpdate && x.LastUpdate <= now):
			bad = "times out of order"
		case x.LastProcessed != h.LastScan || x.LastTest != h.LastVMScanned:
			bad = "not from the host's last scan"
		case x.Status == "Fixed" && (x.LastFixed <= x.LastFound || x.LastFixed > x.LastTest):
			bad = "fixed without a fix time after the last find"
		case x.Status == "Re-Opened" && (x.TimesReopened < 1 || x.LastReopened != x.LastFound || x.LastFixed >= x.LastReopened):
			bad = "re-opened inconsistently"
		case x.Status == "New" && (x.TimesFound != 1 || x.FirstFound != x.LastFound):
			bad = "new but found more than once"
		case x.Status == "Active" && x.TimesFound < 2:
			bad = "active but found once"
		case x.FirstReopened > x.LastReopened:
			bad = "first re-open after last"
		case x.Severity < 1 || x.Severity > 5 || x.Port != 0 && x.Protocol == "":
			bad = "bad severity or port"
		}
		if bad != "" {
			t.Fatalf("host %d epoch %d: %s: %+v", h.ID, epoch, bad, x)
		}
	}
}

func TestDetectionsMatchKB(t *testing.T) {
	d := small(3)
	sev := map[int]qualys.Vuln{}
	for _, q := range d.QIDs() {
		sev[q] = d.Vuln(q, 0)
	}
	for _, id := range d.HostIDs(0)[:50] {
		h := d.Host(id, 0)
		seen := map[string]bool{}
		for _, x := range h.Detections {
			v, ok := sev[x.QID]
			if !ok || v.Severity != x.Severity {
				t.Fatalf("detection of QID %d: severity %d, KB %d (exists %v)", x.QID, x.Severity, v.Severity, ok)
			}
			want := map[string][]string{"Vulnerability": {"Confirmed"}, "Potential Vulnerability": {"Potential"},
				"Information Gathered": {"Info"}, "Vulnerability or Potential Vulnerability": {"Confirmed", "Potential"}}[v.VulnType]
			if !slices.Contains(want, x.Type) {
				t.Fatalf("QID %d (%s) detected as %s", x.QID, v.VulnType, x.Type)
			}
			key := fmt.Sprint(x.QID, x.Port, x.Protocol)
			if seen[key] {
				t.Fatalf("host %d: QID %d twice on port %d/%s", id, x.QID, x.Port, x.Protocol)
			}
			seen[key] = true
		}
	}
}

// TestVectorsValid parses every generated CVSS vector with go-cvss and
// checks the scores generated beside them.
func TestVectorsValid(t *testing.T) {
	d := small(4)
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.05 }
	var n2, n3, n4 int
	for _, q := range d.QIDs() {
		v := d.Vuln(q, 5)
		if c := v.CVSS; c.Vector != "" {
			p, err := gocvss20.ParseVector(c.Vector)
			if err != nil {
				t.Fatalf("QID %d v2 %q: %v", q, c.Vector, err)
			}
			if fmtScore(p.BaseScore()) != c.Base || c.Temporal != "" && fmtScore(p.TemporalScore()) != c.Temporal {
				t.Errorf("QID %d %s: %s/%s, go-cvss %.1f/%.1f", q, c.Vector, c.Base, c.Temporal, p.BaseScore(), p.TemporalScore())
			}
			n2++
		}
		if c := v.CVSSv3; c.Vector != "" {
			base, temporal := parse3(t, c.Vector)
			if !strings.HasPrefix(c.Vector, "CVSS:"+c.Version+"/") || fmtScore(base) != c.Base ||
				c.Temporal != "" && fmtScore(temporal) != c.Temporal {
				t.Errorf("QID %d %s v%s: %s/%s, go-cvss %.1f/%.1f", q, c.Vector, c.Version, c.Base, c.Temporal, base, temporal)
			}
			n3++
		}
	}
	for i := range d.CVECount(5) {
		c := d.CVE(i, 5)
		for _, m := range c.Metrics {
			var score float64
			switch m.Version {
			case "2.0":
				p, err := gocvss20.ParseVector(m.Vector)
				if err != nil {
					t.Fatalf("%s %q: %v", c.ID, m.Vector, err)
				}
				score = p.BaseScore()
				n2++
			case "3.0", "3.1":
				score, _ = parse3(t, m.Vector)
				n3++
			case "4.0":
				p, err := gocvss40.ParseVector(m.Vector)
				if err != nil {
					t.Fatalf("%s %q: %v", c.ID, m.Vector, err)
				}
				score = p.Score()
				n4++
			}
			if !near(score, m.BaseScore) {
				t.Errorf("%s %s: baseScore %.1f, go-cvss %.1f", c.ID, m.Vector, m.BaseScore, score)
			}
		}
	}
	for _, e := range v4Table {
		p, err := gocvss40.ParseVector(e.vector + v4Expanded)
		if err != nil || !near(p.Score(), e.score) {
			t.Errorf("v4 table %s: %.1f, go-cvss %v %v", e.vector, e.score, p, err)
		}
	}
	if n2 < 500 || n3 < 500 || n4 < 20 {
		t.Errorf("only %d v2, %d v3, %d v4 vectors", n2, n3, n4)
	}
}

func parse3(t *testing.T, vector string) (base, temporal float64) {
	t.Helper()
	if strings.HasPrefix(vector, "CVSS:3.0/") {
		p, err := gocvss30.ParseVector(vector)
		if err != nil {
			t.Fatalf("%q: %v", vector, err)
		}
		return p.BaseScore(), p.TemporalScore()
	}
	p, err := gocvss31.ParseVector(vector)
	if err != nil {
		t.Fatalf("%q: %v", vector, err)
	}
	return p.BaseScore(), p.TemporalScore()
}

// TestOutputParses reads the three outputs back with the standard library.
func TestOutputParses(t *testing.T) {
	d := small(5)
	kb, hld, nvdDoc := writeAll(t, d, 2)

	var kbDoc struct {
		Vulns []struct {
			QID   int      `xml:"QID"`
			Title string   `xml:"TITLE"`
			CVEs  []string `xml:"CVE_LIST>CVE>ID"`
			V3    string   `xml:"CVSS_V3>VECTOR_STRING"`
			Diag  string   `xml:"DIAGNOSIS"`
		} `xml:"RESPONSE>VULN_LIST>VULN"`
	}
	if err := xml.Unmarshal(kb, &kbDoc); err != nil {
		t.Fatal(err)
	}
	if len(kbDoc.Vulns) != 1000 {
		t.Fatalf("%d VULN", len(kbDoc.Vulns))
	}
	for _, g := range kbDoc.Vulns[:200] {
		v := d.Vuln(g.QID, 2)
		if g.Title != v.Title || !slices.Equal(g.CVEs, v.CVEs) || g.V3 != v.CVSSv3.Vector || g.Diag != v.Diagnosis {
			t.Fatalf("QID %d read back differs", g.QID)
		}
	}

	var hldDoc struct {
		Hosts []struct {
			ID         int64 `xml:"ID"`
			Detections []struct {
				QID     int    `xml:"QID"`
				Results string `xml:"RESULTS"`
			} `xml:"DETECTION_LIST>DETECTION"`
		} `xml:"RESPONSE>HOST_LIST>HOST"`
	}
	if err := xml.Unmarshal(hld, &hldDoc); err != nil {
		t.Fatal(err)
	}
	if len(hldDoc.Hosts) != len(d.HostIDs(2)) {
		t.Fatalf("%d HOST", len(hldDoc.Hosts))
	}
	for _, g := range hldDoc.Hosts[:50] {
		h := d.Host(g.ID, 2)
		for i, x := range g.Detections {
			if x.QID != h.Detections[i].QID || x.Results != h.Detections[i].Results {
				t.Fatalf("host %d detection %d read back differs", g.ID, i)
			}
		}
	}

	if !json.Valid(nvdDoc) {
		t.Fatal("NVD output is not valid JSON")
	}
	var page struct {
		ResultsPerPage, StartIndex, TotalResults int
		Format, Version, Timestamp               string
		Vulnerabilities                          []struct {
			CVE struct {
				ID, VulnStatus, LastModified string
				Descriptions                 []struct{ Lang, Value string }
				Metrics                      map[string][]struct {
					Source, Type string
					CvssData     struct {
						VectorString string
						BaseScore    float64
					}
				}
				Weaknesses []struct {
					Description []struct{ Value string }
				}
				CisaExploitAdd string
				Configurations []any
				References     []struct{ URL, Source string }
			}
		}
	}
	if err := json.Unmarshal(nvdDoc, &page); err != nil {
		t.Fatal(err)
	}
	n := d.CVECount(2)
	if page.TotalResults != n || page.ResultsPerPage != n || len(page.Vulnerabilities) != n || page.Format != "NVD_CVE" || page.Version != "2.0" {
		t.Fatalf("page header %d/%d/%d %s %s", page.ResultsPerPage, page.TotalResults, len(page.Vulnerabilities), page.Format, page.Version)
	}
	for i, v := range page.Vulnerabilities {
		c := d.CVE(i, 2)
		g := v.CVE
		var vectors []string
		for _, key := range []string{"cvssMetricV40", "cvssMetricV31", "cvssMetricV30", "cvssMetricV2"} {
			for _, m := range g.Metrics[key] {
				vectors = append(vectors, m.CvssData.VectorString)
			}
		}
		var want []string
		for _, m := range c.Metrics {
			want = append(want, m.Vector)
		}
		if g.ID != c.ID || g.VulnStatus != c.Status || g.LastModified != c.LastModified || g.Descriptions[0].Value != c.Description ||
			!slices.Equal(vectors, want) || (g.CisaExploitAdd != "") != (c.KEV != nil) {
			t.Fatalf("%s read back differs", c.ID)
		}
		if c.Status != stRejected && len(g.References) == 0 {
			t.Fatalf("%s has no references", c.ID)
		}
	}
}

// Size targets. A VULN with details=All averages about 4 KB (a 150,000-QID
// KB is ~600 MB) and an NVD record about 6 KB. A detection cannot be the
// 650 bytes first hoped for: the demisto sample's detections carry ~800
// bytes of elements and indentation besides their RESULTS, so with RESULTS
// of ~350 bytes a detection is ~1.3 KB.
const (
	wantBytesPerVuln      = 4000
	wantBytesPerCVE       = 6000
	wantBytesPerDetection = 1300
)

func TestSizes(t *testing.T) {
	d := small(6)
	kb, hld, nvdDoc := writeAll(t, d, 0)
	nDet := bytes.Count(hld, []byte("<DETECTION>"))
	for _, c := range []struct {
		what       string
		got, total float64
		want       float64
	}{
		{"bytes per VULN", float64(len(kb)), 1000, wantBytesPerVuln},
		{"bytes per CVE", float64(len(nvdDoc)), 1000, wantBytesPerCVE},
		{"bytes per detection", float64(len(hld)), float64(nDet), wantBytesPerDetection},
		{"detections per host", float64(nDet), 200, 40},
	} {
		got := c.got / c.total
		t.Logf("%s: %.0f (target %.0f)", c.what, got, c.want)
		if got < 0.75*c.want || got > 1.25*c.want {
			t.Errorf("%s = %.0f, want %.0f ±25%%", c.what, got, c.want)
		}
	}

	// The mixes the brief asks for.
	var results, withPort, dets int
	status := map[string]int{}
	for _, id := range d.HostIDs(0) {
		for _, x := range d.Host(id, 0).Detections {
			dets++
			results += len(x.Results)
			status[x.Status]++
			if x.Port != 0 {
				withPort++
			}
		}
	}
	var withCVE, withV3, withTemporal3 int
	for _, q := range d.QIDs() {
		v := d.Vuln(q, 0)
		if len(v.CVEs) > 0 {
			withCVE++
		}
		if v.CVSSv3.Vector != "" {
			withV3++
			if v.CVSSv3.Temporal != "" {
				withTemporal3++
			}
		}
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	for _, c := range []struct {
		what     string
		got      float64
		min, max float64
	}{
		{"RESULTS bytes", share(results, dets), 300, 450},
		{"detections with a port", share(withPort, dets), 0.6, 0.8},
		{"New", share(status["New"], dets), 0.10, 0.20},
		{"Active", share(status["Active"], dets), 0.52, 0.68},
		{"Re-Opened", share(status["Re-Opened"], dets), 0.03, 0.08},
		{"Fixed", share(status["Fixed"], dets), 0.15, 0.26},
		{"VULNs with CVEs", share(withCVE, 1000), 0.5, 0.7},
		{"VULNs with CVSS_V3", share(withV3, 1000), 0.6, 0.8},
		{"CVSS_V3 with temporal metrics", share(withTemporal3, withV3), 0.75, 0.95},
	} {
		t.Logf("%s: %.2f", c.what, c.got)
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s = %.2f, want %.2f..%.2f", c.what, c.got, c.min, c.max)
		}
	}
}

// TestChangedSince checks the incremental helpers against the records
// themselves.
func TestChangedSince(t *testing.T) {
	d := small(9)
	const epoch = 12
	for _, since := range []time.Time{d.Now(-30), d.Now(0), d.Now(5).Add(-time.Hour), d.Now(epoch - 1)} {
		var want []int
		for _, q := range d.QIDs() {
			if d.Vuln(q, epoch).LastModified >= qualysTime(since.Unix()) {
				want = append(want, q)
			}
		}
		if got := d.VulnsModifiedSince(since, epoch); !slices.Equal(got, want) {
			t.Errorf("VulnsModifiedSince(%s): %d QIDs, want %d", since, len(got), len(want))
		}

		var wantHosts []int64
		for _, id := range d.HostIDs(epoch) {
			if d.Host(id, epoch).LastScan >= qualysTime(since.Unix()) {
				wantHosts = append(wantHosts, id)
			}
		}
		if got := d.HostsProcessedSince(since, epoch); !slices.Equal(got, wantHosts) {
			t.Errorf("HostsProcessedSince(%s): %d hosts, want %d", since, len(got), len(wantHosts))
		}

		until := d.Now(epoch)
		var wantCVEs []int
		a, b := nvdTime(since.UnixMilli()), nvdTime(until.UnixMilli())
		for i := range d.CVECount(epoch) {
			if lm := d.CVE(i, epoch).LastModified; lm >= a && lm <= b {
				wantCVEs = append(wantCVEs, i)
			}
		}
		if got := d.CVEsModifiedBetween(since, until, epoch); !slices.Equal(got, wantCVEs) {
			t.Errorf("CVEsModifiedBetween(%s, %s): %d CVEs, want %d", since, until, len(got), len(wantCVEs))
		}
		t.Logf("since %s: %d QIDs, %d of %d hosts, %d CVEs", since.Format(time.DateTime), len(want), len(wantHosts), len(d.HostIDs(epoch)), len(wantCVEs))
	}
	// Something happens every day, but not to everything.
	day := d.Now(epoch - 1)
	if n := len(d.HostsProcessedSince(day, epoch)); n == 0 || n == len(d.HostIDs(epoch)) {
		t.Errorf("%d of %d hosts processed in the last day", n, len(d.HostIDs(epoch)))
	}
	if n := len(d.CVEsModifiedBetween(day, d.Now(epoch), epoch)); n < d.cves.newPerDay {
		t.Errorf("%d CVEs modified in the last day", n)
	}
}

func TestKBAndCVEsEvolve(t *testing.T) {
	d := New(Config{Seed: 10, QIDs: 5000, CVEs: 5000, Hosts: 10})
	changed, temporalMoved := 0, 0
	for _, q := range d.QIDs() {
		a, b := d.Vuln(q, 0), d.Vuln(q, 20)
		if a.LastModified != b.LastModified {
			changed++
			if b.LastModified <= a.LastModified || b.LastModified > qualysTime(d.now(20)) {
				t.Errorf("QID %d modified %s -> %s", q, a.LastModified, b.LastModified)
			}
			if a.CVSS.Temporal != b.CVSS.Temporal || a.CVSSv3.Temporal != b.CVSSv3.Temporal ||
				a.CVSS.Vector != b.CVSS.Vector {
				temporalMoved++
			}
		}
		a.LastModified, b.LastModified = "", ""
		a.CVSS, b.CVSS, a.CVSSv3, b.CVSSv3 = qualys.CVSS{}, qualys.CVSS{}, qualys.CVSS{}, qualys.CVSS{}
		if !equalJSON(a, b) {
			t.Fatalf("QID %d changed beyond its date and CVSS", q)
		}
	}
	// 0.2% a day for 20 days: ~4% of 5,000.
	if changed < 120 || changed > 300 || temporalMoved < changed/2 {
		t.Errorf("%d of 5000 KB entries modified in 20 days (%d with new temporal scores), want about 200", changed, temporalMoved)
	}

	if d.CVECount(20) <= d.CVECount(0) {
		t.Fatal("no new CVEs")
	}
	for i := d.CVECount(0); i < d.CVECount(20); i++ {
		c := d.CVE(i, 20)
		if c.ID == "" || c.Published <= nvdTime(d.start*1000) || c.Published > nvdTime(d.now(20)*1000) {
			t.Fatalf("new CVE %d: %+v", i, c)
		}
		if d.CVE(i, 0).ID != "" {
			t.Fatalf("CVE %d published at epoch 20 exists at 0", i)
		}
	}
	analysed := 0
	for i := range d.CVECount(0) {
		a, b := d.CVE(i, 0), d.CVE(i, 20)
		if b.LastModified < a.LastModified || a.Published != b.Published || a.ID != b.ID {
			t.Fatalf("CVE %d went back: %s -> %s", i, a.LastModified, b.LastModified)
		}
		if pending(a.Status) && b.Status == stAnalyzed {
			analysed++
		}
	}
	if analysed == 0 {
		t.Error("no pending CVE got analysed in 20 days")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{Seed: 11, QIDs: 200, Hosts: 20, CVEs: 200})
	for _, gz := range []bool{false, true} {
		kb, hld, nvdPath, err := WriteFiles(dir, d, gz)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{kb, hld, nvdPath} {
			st, err := os.Stat(p)
			if err != nil || st.Size() < 1000 || strings.HasSuffix(p, ".gz") != gz || filepath.Dir(p) != dir {
				t.Errorf("%s: %v, %v", p, st, err)
			}
		}
	}
	if _, _, _, err := WriteFiles(filepath.Join(dir, "missing"), d, false); err == nil {
		t.Error("WriteFiles into a missing directory succeeded")
	}
}

func TestTimeFormats(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(1999, 1, 1, 8, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 987e6, time.UTC),
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 3, 1, 12, 30, 5, 1e6, time.UTC),
	} {
		if got, want := qualysTime(ts.Unix()), ts.Format("2006-01-02T15:04:05Z"); got != want {
			t.Errorf("qualysTime = %s, want %s", got, want)
		}
		if got, want := nvdTime(ts.UnixMilli()), ts.Format("2006-01-02T15:04:05.000"); got != want {
			t.Errorf("nvdTime = %s, want %s", got, want)
		}
		if got, want := string(appendHTTPDate(nil, ts.Unix())), ts.Format(time.RFC1123); got != strings.Replace(want, "UTC", "GMT", 1) {
			t.Errorf("appendHTTPDate = %s, want %s", got, want)
		}
		if yearStart(ts.Year()) != time.Date(ts.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
			t.Errorf("yearStart(%d)", ts.Year())
		}
	}
}

// Benchmarks report the writers' throughput, generation included.

func BenchmarkWriteHLD(b *testing.B) {
	d := New(Config{Seed: 1, QIDs: 20000, Hosts: 100, DetectionsPerHost: 40, CVEs: 20000})
	ids := d.HostIDs(0)
	benchWrite(b, func(w io.Writer) error { return WriteHostListDetection(w, d, ids, 0, nil) })
}

func BenchmarkWriteKB(b *testing.B) {
	d := New(Config{Seed: 1, QIDs: 20000, CVEs: 20000})
	qids := d.QIDs()[:500]
	benchWrite(b, func(w io.Writer) error { return WriteKB(w, d, qids, 0) })
}

func BenchmarkWriteNVD(b *testing.B) {
	d := New(Config{Seed: 1, QIDs: 1000, CVEs: 20000})
	benchWrite(b, func(w io.Writer) error { return WriteNVD(w, d, 5000, 7000, 0, 5000, 20000) })
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func benchWrite(b *testing.B, write func(io.Writer) error) {
	var c countWriter
	if err := write(&c); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(c.n)
	b.ReportAllocs()
	for b.Loop() {
		if err := write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
