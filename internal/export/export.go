// Package export writes findings in the formats of `qvt export`: a JSON
// array, NDJSON and CSV with exactly the contract's fields
// (docs/findings.md), and the old tool's record shape ("legacy") for the
// consumers that still read it.
//
// Encoders append bytes by hand rather than using encoding/json: an export
// of a million findings is gigabytes of text, and the KB fields, identical
// for every finding of a QID, are encoded once per QID and copied.
package export

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"qvt/internal/finding"
	"qvt/internal/jsonenc"
	"qvt/internal/store"
)

// Formats lists the formats of `qvt export`.
var Formats = []string{"json", "ndjson", "csv", "legacy"}

// Writer writes findings one by one; Close ends the document.
type Writer interface {
	Write(r *store.Row) error
	Close() error
}

// New returns a writer of the named format to w.
func New(format string, w io.Writer) (Writer, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	switch format {
	case "json":
		return &jsonWriter{w: bw, array: true}, nil
	case "ndjson":
		return &jsonWriter{w: bw}, nil
	case "csv":
		return newCSV(bw), nil
	case "legacy":
		return &legacyWriter{w: bw}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

type jsonWriter struct {
	w     *bufio.Writer
	array bool
	n     int
	buf   []byte
	kb    kbCache
}

func (j *jsonWriter) Write(r *store.Row) error {
	b := j.buf[:0]
	switch {
	case !j.array:
	case j.n == 0:
		b = append(b, "[\n"...)
	default:
		b = append(b, ",\n"...)
	}
	j.n++
	b = AppendJSON(b, &r.Finding, &j.kb)
	if !j.array {
		b = append(b, '\n')
	}
	j.buf = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonWriter) Close() error {
	if j.array {
		if j.n == 0 {
			j.w.WriteString("[]\n")
		} else {
			j.w.WriteString("\n]\n")
		}
	}
	return j.w.Flush()
}

// kbCache remembers the encoding of the KB and score fields of recent
// QIDs. An entry is reused only when every field is the same: the store
// shares one string per QID, so the comparison is by pointer and cheap.
type kbCache struct {
	m map[int]*kbSeg
}

type kbSeg struct {
	title, category, vulnType, diagnosis, consequence, solution string
	patchable, remote                                           bool
	vendorRefs, cves                                            []string
	cveID, version, vector                                      string
	base, temporal, env                                         *float64
	enc                                                         []byte
}

const kbCacheSize = 4096

func sameSlice(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameFloat(a, b *float64) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}

func (s *kbSeg) matches(f *finding.Finding) bool {
	return s.title == f.Title && s.category == f.Category && s.vulnType == f.VulnType &&
		s.diagnosis == f.Diagnosis && s.consequence == f.Consequence && s.solution == f.Solution &&
		s.patchable == f.Patchable && s.remote == f.Remote && sameSlice(s.vendorRefs, f.VendorRefs) &&
		sameSlice(s.cves, f.CVEs) && s.cveID == f.CVEID && s.version == f.CVSSVersion &&
		s.vector == f.CVSSVector && sameFloat(s.base, f.Base) && sameFloat(s.temporal, f.Temporal) &&
		sameFloat(s.env, f.EnvScore)
}

// segment returns the encoded fields from "title" to "env_score".
func (c *kbCache) segment(f *finding.Finding) []byte {
	if c.m == nil {
		c.m = map[int]*kbSeg{}
	}
	if s, ok := c.m[f.QID]; ok && s.matches(f) {
		return s.enc
	}
	s := &kbSeg{
		title: f.Title, category: f.Category, vulnType: f.VulnType, diagnosis: f.Diagnosis,
		consequence: f.Consequence, solution: f.Solution, patchable: f.Patchable, remote: f.Remote,
		vendorRefs: f.VendorRefs, cves: f.CVEs, cveID: f.CVEID, version: f.CVSSVersion,
		vector: f.CVSSVector, base: f.Base, temporal: f.Temporal, env: f.EnvScore,
	}
	s.enc = appendKB(nil, f)
	if len(c.m) >= kbCacheSize {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[f.QID] = s
	return s.enc
}

// AppendJSON appends one finding as a JSON object with the contract's
// fields in the contract's order. cache may be nil.
func AppendJSON(b []byte, f *finding.Finding, cache *kbCache) []byte {
	b = append(b, `{"key":`...)
	b = jsonenc.String(b, f.Key)
	b = append(b, `,"ip":`...)
	b = jsonenc.String(b, f.IP)
	b = append(b, `,"host_id":`...)
	b = jsonenc.Int(b, f.HostID)
	b = append(b, `,"hostname":`...)
	b = jsonenc.String(b, f.Hostname)
	b = append(b, `,"os":`...)
	b = jsonenc.String(b, f.OS)
	b = append(b, `,"qid":`...)
	b = jsonenc.Int(b, int64(f.QID))
	b = append(b, `,"port":`...)
	b = jsonenc.Int(b, int64(f.Port))
	b = append(b, `,"protocol":`...)
	b = jsonenc.String(b, f.Protocol)
	b = append(b, `,"type":`...)
	b = jsonenc.String(b, f.Type)
	b = append(b, `,"severity":`...)
	b = jsonenc.Int(b, int64(f.Severity))
	b = append(b, `,"status":`...)
	b = jsonenc.String(b, f.Status)
	b = append(b, `,"times_found":`...)
	b = jsonenc.Int(b, int64(f.TimesFound))
	b = append(b, `,"first_found":`...)
	b = optString(b, f.FirstFound)
	b = append(b, `,"last_found":`...)
	b = optString(b, f.LastFound)
	b = append(b, `,"last_fixed":`...)
	b = optString(b, f.LastFixed)
	b = append(b, `,"results":`...)
	b = jsonenc.String(b, f.Results)
	b = append(b, ',')
	if cache != nil {
		b = append(b, cache.segment(f)...)
	} else {
		b = appendKB(b, f)
	}
	b = append(b, `,"vuln_score":`...)
	b = jsonenc.String(b, f.VulnScore)
	b = append(b, `,"breach_date":`...)
	b = jsonenc.String(b, f.BreachDate)
	return append(b, '}')
}

// appendKB appends the fields from "title" to "env_score", without the
// surrounding commas.
func appendKB(b []byte, f *finding.Finding) []byte {
	b = append(b, `"title":`...)
	b = jsonenc.String(b, f.Title)
	b = append(b, `,"category":`...)
	b = jsonenc.String(b, f.Category)
	b = append(b, `,"vuln_type":`...)
	b = jsonenc.String(b, f.VulnType)
	b = append(b, `,"diagnosis":`...)
	b = jsonenc.String(b, f.Diagnosis)
	b = append(b, `,"consequence":`...)
	b = jsonenc.String(b, f.Consequence)
	b = append(b, `,"solution":`...)
	b = jsonenc.String(b, f.Solution)
	b = append(b, `,"patchable":`...)
	b = jsonenc.Bool(b, f.Patchable)
	b = append(b, `,"remote":`...)
	b = jsonenc.Bool(b, f.Remote)
	b = append(b, `,"vendor_refs":`...)
	b = jsonenc.Strings(b, f.VendorRefs)
	b = append(b, `,"cves":`...)
	b = jsonenc.Strings(b, f.CVEs)
	b = append(b, `,"cve_id":`...)
	b = jsonenc.String(b, f.CVEID)
	b = append(b, `,"cvss_version":`...)
	b = jsonenc.String(b, f.CVSSVersion)
	b = append(b, `,"cvss_vector":`...)
	b = jsonenc.String(b, f.CVSSVector)
	b = append(b, `,"base":`...)
	b = optScore(b, f.Base)
	b = append(b, `,"temporal":`...)
	b = optScore(b, f.Temporal)
	b = append(b, `,"env_score":`...)
	return optScore(b, f.EnvScore)
}

func optString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonenc.String(b, *s)
}

func optScore(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return jsonenc.Score(b, *f)
}

// Columns are the CSV header: the contract's field names in order.
var Columns = []string{"key", "ip", "host_id", "hostname", "os", "qid", "port", "protocol", "type",
	"severity", "status", "times_found", "first_found", "last_found", "last_fixed", "results",
	"title", "category", "vuln_type", "diagnosis", "consequence", "solution", "patchable", "remote",
	"vendor_refs", "cves", "cve_id", "cvss_version", "cvss_vector", "base", "temporal", "env_score",
	"vuln_score", "breach_date"}

type csvWriter struct {
	w      *bufio.Writer
	c      *csv.Writer
	header bool
	rec    []string
}

func newCSV(w *bufio.Writer) *csvWriter {
	return &csvWriter{w: w, c: csv.NewWriter(w), rec: make([]string, len(Columns))}
}

func (c *csvWriter) Write(r *store.Row) error {
	if !c.header {
		c.header = true
		if err := c.c.Write(Columns); err != nil {
			return err
		}
	}
	f := &r.Finding
	opt := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	score := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	}
	c.rec = append(c.rec[:0], f.Key, f.IP, strconv.FormatInt(f.HostID, 10), f.Hostname, f.OS,
		strconv.Itoa(f.QID), strconv.Itoa(f.Port), f.Protocol, f.Type, strconv.Itoa(f.Severity),
		f.Status, strconv.Itoa(f.TimesFound), opt(f.FirstFound), opt(f.LastFound), opt(f.LastFixed),
		f.Results, f.Title, f.Category, f.VulnType, f.Diagnosis, f.Consequence, f.Solution,
		strconv.FormatBool(f.Patchable), strconv.FormatBool(f.Remote), strings.Join(f.VendorRefs, ";"),
		strings.Join(f.CVEs, ";"), f.CVEID, f.CVSSVersion, f.CVSSVector, score(f.Base),
		score(f.Temporal), score(f.EnvScore), f.VulnScore, f.BreachDate)
	return c.c.Write(c.rec)
}

func (c *csvWriter) Close() error {
	if !c.header {
		c.c.Write(Columns)
	}
	c.c.Flush()
	if err := c.c.Error(); err != nil {
		return err
	}
	return c.w.Flush()
}
