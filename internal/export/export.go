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
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"qvt/internal/finding"
	"qvt/internal/guard"
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
	switch format {
	case "json":
		return newPipe(&jsonWriter{w: newAsyncWriter(w), array: true}), nil
	case "ndjson":
		return newPipe(&jsonWriter{w: newAsyncWriter(w)}), nil
	case "csv":
		return newPipe(newCSV(newAsyncWriter(w))), nil
	case "legacy":
		return newPipe(&legacyWriter{w: newAsyncWriter(w)}), nil
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// pipe hands rows, a batch at a time, to a goroutine that encodes them:
// reading the store and encoding then run on two cores, and the writes
// on whichever is free (asyncWriter).
type pipe struct {
	batch []*store.Row
	r     *relay[[]*store.Row]
}

const pipeBatch = 256

func newPipe(enc Writer) *pipe {
	p := &pipe{r: newRelay(
		func() []*store.Row { return make([]*store.Row, 0, pipeBatch) },
		func(rows []*store.Row) []*store.Row { clear(rows); return rows[:0] },
		func(rows []*store.Row) error {
			for _, r := range rows {
				if err := enc.Write(r); err != nil {
					return err
				}
			}
			return nil
		},
		enc.Close)}
	p.batch = p.r.first()
	return p
}

// Write queues a row; it returns the encoder's error once it has failed.
func (p *pipe) Write(r *store.Row) error {
	if err := p.r.failed(); err != nil {
		return err
	}
	p.batch = append(p.batch, r)
	if len(p.batch) < pipeBatch {
		return nil
	}
	var err error
	p.batch, err = p.r.swap(p.batch)
	return err
}

// Close encodes what is queued, ends the document and waits for the
// writes; it returns the first error.
func (p *pipe) Close() error { return p.r.close(p.batch, len(p.batch) > 0) }

type jsonWriter struct {
	w     io.Writer
	array bool
	n     int
	buf   []byte
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
	var seg []byte
	if r.Shared != nil {
		// Every finding of a QID shares its KB fields: encode them once.
		if r.Shared.JSON == nil {
			r.Shared.JSON = appendKB(nil, &r.Finding)
		}
		seg = r.Shared.JSON
	}
	b = AppendJSON(b, &r.Finding, seg)
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
			io.WriteString(j.w, "[]\n")
		} else {
			io.WriteString(j.w, "\n]\n")
		}
	}
	return closeWriter(j.w)
}

// AppendJSON appends one finding as a JSON object with the contract's
// fields in the contract's order. kb, if not nil, is the encoding of its
// fields from "title" to "env_score" (appendKB), shared by the findings of
// a QID.
func AppendJSON(b []byte, f *finding.Finding, kb []byte) []byte {
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
	if kb != nil {
		b = append(b, kb...)
	} else {
		b = appendKB(b, f)
	}
	b = append(b, `,"vuln_score":`...)
	b = jsonenc.String(b, f.VulnScore)
	b = append(b, `,"breach_date":`...)
	b = jsonenc.String(b, f.BreachDate)
	b = append(b, `,"closed":`...)
	b = jsonenc.Bool(b, f.Closed)
	b = append(b, `,"closed_reason":`...)
	b = jsonenc.String(b, f.ClosedReason)
	b = append(b, `,"first_seen":`...)
	b = optString(b, f.FirstSeen)
	b = append(b, `,"last_seen":`...)
	b = optString(b, f.LastSeen)
	b = append(b, `,"times_reopened":`...)
	b = jsonenc.Int(b, int64(f.TimesReopened))
	b = append(b, `,"tags":`...)
	b = jsonenc.Strings(b, f.Tags)
	b = append(b, `,"kev":`...)
	b = jsonenc.Bool(b, f.KEV)
	b = append(b, `,"kev_cves":`...)
	b = jsonenc.Strings(b, f.KEVCVEs)
	b = append(b, `,"kev_date_added":`...)
	b = jsonenc.String(b, f.KEVDateAdded)
	b = append(b, `,"kev_due_date":`...)
	b = jsonenc.String(b, f.KEVDueDate)
	b = append(b, `,"kev_ransomware":`...)
	b = jsonenc.Bool(b, f.KEVRansomware)
	b = append(b, `,"epss":`...)
	b = optNumber(b, f.EPSS)
	b = append(b, `,"epss_percentile":`...)
	b = optNumber(b, f.EPSSPercentile)
	b = append(b, `,"epss_cve":`...)
	b = jsonenc.String(b, f.EPSSCVE)
	b = append(b, `,"qds":`...)
	if f.QDS == nil {
		b = append(b, "null"...)
	} else {
		b = jsonenc.Int(b, int64(*f.QDS))
	}
	b = append(b, `,"threat_intel":`...)
	b = jsonenc.Strings(b, f.ThreatIntel)
	b = append(b, `,"priority":`...)
	b = jsonenc.String(b, f.Priority)
	b = append(b, `,"priority_reason":`...)
	b = jsonenc.String(b, f.PriorityReason)
	b = append(b, `,"due_date":`...)
	b = jsonenc.String(b, f.DueDate)
	b = append(b, `,"owner":`...)
	b = jsonenc.String(b, f.Owner)
	b = append(b, `,"excepted":`...)
	b = jsonenc.Bool(b, f.Excepted)
	b = append(b, `,"exception":`...)
	b = jsonenc.String(b, f.Exception)
	b = append(b, `,"excepted_until":`...)
	b = jsonenc.String(b, f.ExceptedUntil)
	return append(b, '}')
}

// optNumber appends an EPSS score or percentile as the file wrote it:
// the shortest decimal that reads back as the same number.
func optNumber(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, *f, 'f', -1, 64)
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
	"vuln_score", "breach_date", "closed", "closed_reason", "first_seen", "last_seen", "times_reopened", "tags",
	"kev", "kev_cves", "kev_date_added", "kev_due_date", "kev_ransomware", "epss", "epss_percentile", "epss_cve",
	"qds", "threat_intel", "priority", "priority_reason", "due_date",
	"owner", "excepted", "exception", "excepted_until"}

type csvWriter struct {
	w      io.Writer
	c      *csv.Writer
	header bool
	rec    []string
}

func newCSV(w io.Writer) *csvWriter {
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
	number := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	qds := ""
	if f.QDS != nil {
		qds = strconv.Itoa(*f.QDS)
	}
	// Text from the store (hosts' names and OS, scan results, KB text) goes
	// through cell; numbers, booleans and times qvt formats itself are safe.
	c.rec = append(c.rec[:0], Cell(f.Key), Cell(f.IP), strconv.FormatInt(f.HostID, 10), Cell(f.Hostname), Cell(f.OS),
		strconv.Itoa(f.QID), strconv.Itoa(f.Port), Cell(f.Protocol), Cell(f.Type), strconv.Itoa(f.Severity),
		Cell(f.Status), strconv.Itoa(f.TimesFound), opt(f.FirstFound), opt(f.LastFound), opt(f.LastFixed),
		Cell(f.Results), Cell(f.Title), Cell(f.Category), Cell(f.VulnType), Cell(f.Diagnosis), Cell(f.Consequence), Cell(f.Solution),
		strconv.FormatBool(f.Patchable), strconv.FormatBool(f.Remote), Cell(strings.Join(f.VendorRefs, ";")),
		Cell(strings.Join(f.CVEs, ";")), Cell(f.CVEID), Cell(f.CVSSVersion), Cell(f.CVSSVector), score(f.Base),
		score(f.Temporal), score(f.EnvScore), Cell(f.VulnScore), Cell(f.BreachDate),
		strconv.FormatBool(f.Closed), Cell(f.ClosedReason), opt(f.FirstSeen), opt(f.LastSeen),
		strconv.Itoa(f.TimesReopened), Cell(strings.Join(f.Tags, ";")),
		strconv.FormatBool(f.KEV), Cell(strings.Join(f.KEVCVEs, ";")), Cell(f.KEVDateAdded), Cell(f.KEVDueDate),
		strconv.FormatBool(f.KEVRansomware), number(f.EPSS), number(f.EPSSPercentile), Cell(f.EPSSCVE),
		qds, Cell(strings.Join(f.ThreatIntel, ";")), Cell(f.Priority), Cell(f.PriorityReason), Cell(f.DueDate),
		Cell(f.Owner), strconv.FormatBool(f.Excepted), Cell(f.Exception), Cell(f.ExceptedUntil))
	return c.c.Write(c.rec)
}

// Cell neutralises a text cell that a spreadsheet would run as a formula
// (CSV injection): one that begins with =, +, -, @, a tab or a carriage
// return gets a leading ', as OWASP recommends. Hosts and the KB supply
// these texts; a scanned host named "=HYPERLINK(...)" must stay text.
func Cell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

func (c *csvWriter) Close() error {
	if !c.header {
		c.c.Write(Columns)
	}
	c.c.Flush()
	if err := c.c.Error(); err != nil {
		closeWriter(c.w)
		return err
	}
	return closeWriter(c.w)
}

// asyncWriter hands full buffers to a goroutine that writes them, so the
// system calls of a multi-gigabyte export overlap reading and encoding.
type asyncWriter struct {
	buf []byte
	r   *relay[[]byte]
}

const asyncBufSize = 1 << 20

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{r: newRelay(
		func() []byte { return make([]byte, 0, asyncBufSize) },
		func(b []byte) []byte { return b[:0] },
		func(b []byte) error { _, err := w.Write(b); return err },
		nil)}
	a.buf = a.r.first()
	return a
}

// Write buffers p; once a write has failed it returns that error.
func (a *asyncWriter) Write(p []byte) (int, error) {
	if err := a.r.failed(); err != nil {
		return 0, err
	}
	a.buf = append(a.buf, p...)
	if len(a.buf) >= asyncBufSize {
		var err error
		if a.buf, err = a.r.swap(a.buf); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes what is buffered and waits for the writes to finish; it
// returns the first write error.
func (a *asyncWriter) Close() error { return a.r.close(a.buf, len(a.buf) > 0) }

// relay hands full buffers to a goroutine that consumes them (encodes
// rows, writes bytes), so that the producer and the consumer run on two
// cores. The consumer's first error stops it, and the producer's next
// call returns that error instead of filling buffers no one will read.
type relay[B any] struct {
	full  chan B
	free  chan B
	stop  chan struct{} // closed when the consumer fails
	done  chan error
	err   error // the consumer's first error, set before stop closes
	ended bool
}

// newRelay starts the consumer: consume takes each full buffer, reset
// empties it for reuse, and finish (if not nil) runs after the last.
func newRelay[B any](alloc func() B, reset func(B) B, consume func(B) error, finish func() error) *relay[B] {
	r := &relay[B]{full: make(chan B, 4), free: make(chan B, 5), stop: make(chan struct{}), done: make(chan error, 1)}
	for range 5 {
		r.free <- alloc()
	}
	go func() {
		var err error
		for b := range r.full {
			if err == nil {
				if err = guard.Call(func() error { return consume(b) }); err != nil {
					r.err = err
					close(r.stop)
				}
			}
			r.free <- reset(b)
		}
		if finish != nil {
			if ferr := guard.Call(finish); err == nil {
				err = ferr
			}
		}
		r.done <- err
	}()
	return r
}

// first is the producer's first empty buffer.
func (r *relay[B]) first() B { return <-r.free }

// failed returns the consumer's error once it has failed, and an error
// after close.
func (r *relay[B]) failed() error {
	if r.ended {
		return errClosed
	}
	select {
	case <-r.stop:
		return r.err
	default:
		return nil
	}
}

// swap hands over a full buffer and returns an empty one.
func (r *relay[B]) swap(b B) (B, error) {
	var empty B
	select {
	case r.full <- b:
	case <-r.stop:
		return empty, r.err
	}
	select {
	case empty = <-r.free:
		return empty, nil
	case <-r.stop:
		return empty, r.err
	}
}

// close hands over the last buffer (if send) and waits for the consumer
// to finish; it returns its first error.
func (r *relay[B]) close(last B, send bool) error {
	if r.ended {
		return errClosed
	}
	r.ended = true
	if send {
		select {
		case r.full <- last:
		case <-r.stop:
		}
	}
	close(r.full)
	return <-r.done
}

var errClosed = errors.New("export: write after close")

func closeWriter(w io.Writer) error {
	if c, ok := w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
