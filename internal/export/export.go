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
	full  chan []*store.Row
	free  chan []*store.Row
	stop  chan struct{} // closed when the encoder fails
	done  chan error
	err   error // the encoder's first error, set before stop closes
	ended bool
}

const pipeBatch = 256

func newPipe(enc Writer) *pipe {
	p := &pipe{
		full: make(chan []*store.Row, 4),
		free: make(chan []*store.Row, 5),
		stop: make(chan struct{}),
		done: make(chan error, 1),
	}
	for range 5 {
		p.free <- make([]*store.Row, 0, pipeBatch)
	}
	p.batch = <-p.free
	go func() {
		var err error
		for rows := range p.full {
			for _, r := range rows {
				if err != nil {
					break
				}
				err = enc.Write(r)
			}
			if err != nil && p.err == nil {
				p.err = err
				close(p.stop)
			}
			clear(rows)
			p.free <- rows[:0]
		}
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
		p.done <- err
	}()
	return p
}

// Write queues a row; it returns the encoder's error once it has failed.
func (p *pipe) Write(r *store.Row) error {
	if p.ended {
		return errClosed
	}
	select {
	case <-p.stop:
		return p.err
	default:
	}
	p.batch = append(p.batch, r)
	if len(p.batch) < pipeBatch {
		return nil
	}
	select {
	case p.full <- p.batch:
		p.batch = nil // the encoder's now
	case <-p.stop:
		return p.err
	}
	select {
	case p.batch = <-p.free:
	case <-p.stop:
		return p.err
	}
	return nil
}

// Close encodes what is queued, ends the document and waits for the
// writes; it returns the first error.
func (p *pipe) Close() error {
	if p.ended {
		return errClosed
	}
	p.ended = true
	if len(p.batch) > 0 {
		select {
		case p.full <- p.batch:
		case <-p.stop:
		}
	}
	close(p.full)
	return <-p.done
}

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
		closeWriter(c.w)
		return err
	}
	return closeWriter(c.w)
}

// asyncWriter hands full buffers to a goroutine that writes them, so the
// system calls of a multi-gigabyte export overlap reading and encoding.
type asyncWriter struct {
	w     io.Writer
	buf   []byte
	full  chan []byte
	free  chan []byte
	stop  chan struct{} // closed when a write fails
	done  chan error
	err   error // the first write error, set before stop closes
	ended bool
}

const asyncBufSize = 1 << 20

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, full: make(chan []byte, 4), free: make(chan []byte, 5),
		stop: make(chan struct{}), done: make(chan error, 1)}
	for range 5 {
		a.free <- make([]byte, 0, asyncBufSize)
	}
	a.buf = <-a.free
	go func() {
		var err error
		for b := range a.full {
			if err == nil {
				if _, err = a.w.Write(b); err != nil {
					a.err = err
					close(a.stop)
				}
			}
			a.free <- b[:0]
		}
		a.done <- err
	}()
	return a
}

// Write buffers p; once a write has failed it returns that error.
func (a *asyncWriter) Write(p []byte) (int, error) {
	if a.ended {
		return 0, errClosed
	}
	select {
	case <-a.stop:
		return 0, a.err
	default:
	}
	a.buf = append(a.buf, p...)
	if len(a.buf) < asyncBufSize {
		return len(p), nil
	}
	select {
	case a.full <- a.buf:
		a.buf = nil // the writer's now
	case <-a.stop:
		return 0, a.err
	}
	select {
	case a.buf = <-a.free:
	case <-a.stop:
		return 0, a.err
	}
	return len(p), nil
}

// Close writes what is buffered and waits for the writes to finish; it
// returns the first write error.
func (a *asyncWriter) Close() error {
	if a.ended {
		return errClosed
	}
	a.ended = true
	if len(a.buf) > 0 {
		select {
		case a.full <- a.buf:
		case <-a.stop:
		}
	}
	close(a.full)
	return <-a.done
}

var errClosed = errors.New("export: write after close")

func closeWriter(w io.Writer) error {
	if c, ok := w.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
