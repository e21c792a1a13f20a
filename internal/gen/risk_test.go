package gen

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"qvt/internal/epss"
	"qvt/internal/kev"
)

func riskSet() *Dataset { return New(Config{Seed: 7, QIDs: 3000, Hosts: 80, CVEs: 20000}) }

// TestVulnCVEIndexes: the QDS of detections reads a QID's CVEs without
// writing its entry; they must be the entry's.
func TestVulnCVEIndexes(t *testing.T) {
	d := riskSet()
	for idx, q := range d.kb.qids {
		var want []string
		for _, c := range d.Vuln(q, 0).CVEs {
			if c != "" {
				want = append(want, c)
			}
		}
		var got []string
		for _, i := range d.vulnCVEIndexes(idx) {
			got = append(got, d.CVEID(i))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("QID %d: CVEs %v, the entry cites %v", q, got, want)
		}
	}
}

func decodeKEV(t *testing.T, d *Dataset, epoch int) (*kev.Catalog, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteKEV(&buf, d, epoch); err != nil {
		t.Fatal(err)
	}
	c, err := kev.Decode(bytes.NewReader(buf.Bytes()), kev.Limits{})
	if err != nil {
		t.Fatalf("epoch %d: the catalog written does not decode: %v", epoch, err)
	}
	return c, buf.Bytes()
}

func TestKEVCatalog(t *testing.T) {
	d := riskSet()
	c, b := decodeKEV(t, d, 0)
	if _, again := decodeKEV(t, riskSet(), 0); !bytes.Equal(b, again) {
		t.Error("the same seed wrote another catalog")
	}
	n := len(c.Entries)
	if n < 100 || n > 400 {
		t.Errorf("%d entries for 20,000 CVEs, want about 1%%", n)
	}
	// The version is the day of the last change, which is at least the
	// newest addition; the release is during that day.
	newest := strings.ReplaceAll(c.Entries[0].DateAdded, "-", ".")
	if c.Version < newest || c.Version >= "2026.11.01" || !strings.HasPrefix(c.Released, strings.ReplaceAll(c.Version, ".", "-")+"T") || len(c.Released) != 25 {
		t.Errorf("version %q released %q, newest entry %s", c.Version, c.Released, newest)
	}
	known, firstLoad := 0, 0
	for k, e := range c.Entries {
		if k > 0 && e.DateAdded > c.Entries[k-1].DateAdded {
			t.Fatalf("entry %d added %s after the one before it: not newest first", k, e.DateAdded)
		}
		if e.DateAdded < "2021-11-03" || e.DateAdded >= "2026-11-01" {
			t.Errorf("%s added %s, outside the catalog's life before Start", e.CVE, e.DateAdded)
		}
		if d.CVEIndex(e.CVE) < 0 || e.VendorProject == "" || e.Product == "" || e.Description == "" || !strings.HasSuffix(e.Name, " Vulnerability") {
			t.Errorf("entry %+v", e)
		}
		if e.Ransomware == "Known" {
			known++
		}
		if e.DateAdded == "2021-11-03" {
			firstLoad++
		}
	}
	if known < n/10 || known > n/3 {
		t.Errorf("%d of %d entries known to ransomware, want about a fifth", known, n)
	}
	if firstLoad == 0 {
		t.Error("no entry from the catalog's first load")
	}

	// Later epochs: entries are added and edited in place, none removed.
	prev := c
	added, edited := 0, 0
	for e := 1; e <= 20; e++ {
		cur, _ := decodeKEV(t, d, e)
		old := map[string]kev.Entry{}
		for _, x := range prev.Entries {
			old[x.CVE] = x
		}
		for _, x := range cur.Entries {
			o, ok := old[x.CVE]
			switch {
			case !ok:
				added++
				if want := dateString(d.today(e-1) * day); x.DateAdded != want {
					t.Errorf("epoch %d: %s new, dated %s, want %s", e, x.CVE, x.DateAdded, want)
				}
			case !slices.Equal(o.CWEs, x.CWEs) || o.Ransomware != x.Ransomware || o.Notes != x.Notes:
				edited++
			}
			delete(old, x.CVE)
		}
		if len(old) != 0 {
			t.Errorf("epoch %d: %d entries left the catalog", e, len(old))
		}
		if len(cur.Entries) != len(prev.Entries) && cur.Version == prev.Version {
			t.Errorf("epoch %d: entries added without a new version", e)
		}
		prev = cur
	}
	if added < 3 || edited == 0 {
		t.Errorf("over 20 epochs %d entries added, %d edited; want a few of each", added, edited)
	}
}

func decodeEPSS(t *testing.T, d *Dataset, epoch int) (epss.Header, map[string]epss.Score, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteEPSS(&buf, d, epoch); err != nil {
		t.Fatal(err)
	}
	var h epss.Header
	m := map[string]epss.Score{}
	err := epss.Decode(bytes.NewReader(buf.Bytes()), epss.Limits{}, func(x epss.Header) error { h = x; return nil },
		func(s epss.Score) error { m[s.CVE] = s; return nil })
	if err != nil {
		t.Fatalf("epoch %d: the file written does not decode: %v", epoch, err)
	}
	return h, m, buf.String()
}

func TestEPSSFile(t *testing.T) {
	d := riskSet()
	h, m, text := decodeEPSS(t, d, 0)
	if h.ModelVersion != "v2025.03.14" || h.ScoreDate != "2026-11-01T00:00:00+0000" {
		t.Errorf("header %+v", h)
	}
	if n := d.CVECount(0); len(m) < n*95/100 || len(m) >= n {
		t.Errorf("%d scores for %d CVEs, want nearly all", len(m), n)
	}
	if !strings.Contains(text, "e-05,") {
		t.Error("no score in scientific notation")
	}
	var scores []float64
	low, high := 0, 0
	for _, s := range m {
		scores = append(scores, s.EPSS)
		if s.EPSS < 0.01 {
			low++
		}
		if s.EPSS >= 0.1 {
			high++
		}
	}
	sort.Float64s(scores)
	if med := scores[len(scores)/2]; med < 0.0003 || med > 0.003 {
		t.Errorf("median score %v", med)
	}
	if f := float64(low) / float64(len(m)); f < 0.8 || f > 0.92 {
		t.Errorf("%.3f of scores under 0.01, want most", f)
	}
	if f := float64(high) / float64(len(m)); f < 0.03 || f > 0.08 {
		t.Errorf("%.3f of scores at 0.1 or more, want about 5%%", f)
	}
	// Percentiles rank the scores: a higher score never has a lower one.
	all := slices.Collect(maps.Values(m))
	slices.SortFunc(all, func(a, b epss.Score) int { return cmp.Compare(a.EPSS, b.EPSS) })
	for k := 1; k < len(all); k++ {
		if all[k].Percentile < all[k-1].Percentile {
			t.Fatalf("%+v ranks below %+v", all[k], all[k-1])
		}
	}
	// KEV CVEs score high.
	c, _ := decodeKEV(t, d, 0)
	var kevScores []float64
	for _, e := range c.Entries {
		if s, ok := m[e.CVE]; ok {
			kevScores = append(kevScores, s.EPSS)
		}
	}
	sort.Float64s(kevScores)
	if len(kevScores) == 0 || kevScores[len(kevScores)/2] < 0.1 {
		t.Errorf("median EPSS of KEV CVEs %v, want high", kevScores[len(kevScores)/2])
	}
	// Scores drift a little from one epoch to the next.
	_, m1, _ := decodeEPSS(t, d, 1)
	moved := 0
	for cve, s := range m {
		s1, ok := m1[cve]
		if !ok {
			t.Fatalf("%s lost its score", cve)
		}
		if s1.EPSS != s.EPSS {
			moved++
		}
		if r := s1.EPSS / s.EPSS; (r < 0.85 || r > 1.15) && s.EPSS > 0.001 && !slices.ContainsFunc(c.Entries, func(e kev.Entry) bool { return e.CVE == cve }) {
			t.Errorf("%s moved from %v to %v in a day", cve, s.EPSS, s1.EPSS)
		}
	}
	if moved < len(m)/2 {
		t.Errorf("%d of %d scores moved in a day, want most", moved, len(m))
	}
}

// TestDetectionsQDS: detections carry QDS with its severity and factors;
// KEV QIDs score 90 or more.
func TestDetectionsQDS(t *testing.T) {
	d := riskSet()
	var kevSum, kevN, otherSum, otherN int
	for _, id := range d.HostIDs(0) {
		h := d.Host(id, 0)
		for _, x := range h.Detections {
			if x.Type == "Info" {
				if x.QDS != 0 || x.QDSFactors != nil {
					t.Errorf("Info detection with QDS %+v", x)
				}
				continue
			}
			if x.QDS < 1 || x.QDS > 100 || x.QDSSeverity != qdsSeverity(x.QDS) {
				t.Fatalf("QDS %d severity %q", x.QDS, x.QDSSeverity)
			}
			isKEV := false
			for _, f := range x.QDSFactors {
				if f.Name == "RTI" && strings.Contains(f.Value, "Active_Attacks") {
					isKEV = true
				}
			}
			if isKEV {
				kevSum += x.QDS
				kevN++
				if x.QDS < 90 {
					t.Errorf("QID %d in KEV scores %d", x.QID, x.QDS)
				}
			} else {
				otherSum += x.QDS
				otherN++
			}
		}
	}
	if kevN == 0 || otherN == 0 || kevSum/kevN <= otherSum/otherN {
		t.Errorf("%d KEV detections (mean QDS %d), %d others", kevN, kevSum/max(kevN, 1), otherN)
	}
}

func TestWriteRiskFiles(t *testing.T) {
	dir := t.TempDir()
	d := New(Config{Seed: 3, QIDs: 200, Hosts: 5, CVEs: 3000})
	kp, ep, err := WriteRiskFiles(dir, d)
	if err != nil {
		t.Fatal(err)
	}
	if kp != filepath.Join(dir, "known_exploited_vulnerabilities.json") || ep != filepath.Join(dir, "epss_scores-2026-11-01.csv.gz") {
		t.Errorf("paths %s %s", kp, ep)
	}
	kb, _ := os.ReadFile(kp)
	if _, err := kev.Decode(bytes.NewReader(kb), kev.Limits{}); err != nil {
		t.Error(err)
	}
	eb, _ := os.ReadFile(ep)
	if _, err := gzip.NewReader(bytes.NewReader(eb)); err != nil {
		t.Errorf("the EPSS file is not gzip: %v", err)
	}
	if err := epss.Decode(bytes.NewReader(eb), epss.Limits{}, nil, nil); err != nil {
		t.Error(err)
	}
}

// TestNVDCopiesKEV: the NVD records carry the KEV fields of the catalog's
// entries (as of Start), and no others do.
func TestNVDCopiesKEV(t *testing.T) {
	d := riskSet()
	c, _ := decodeKEV(t, d, 0)
	in := map[string]kev.Entry{}
	for _, e := range c.Entries {
		in[e.CVE] = e
	}
	for i := range d.CVECount(0) {
		r := d.CVE(i, 0)
		e, ok := in[r.ID]
		switch {
		case ok && (r.KEV == nil || r.KEV.Added != e.DateAdded || r.KEV.Due != e.DueDate || r.KEV.Name != e.Name):
			t.Errorf("%s: NVD has %+v, the catalog %+v", r.ID, r.KEV, e)
		case !ok && r.KEV != nil:
			t.Errorf("%s: NVD has KEV fields %+v, the catalog no entry", r.ID, r.KEV)
		}
	}
}
