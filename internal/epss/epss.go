// Package epss holds FIRST's Exploit Prediction Scoring System daily
// scores: a streaming decoder of the epss_scores CSV file (gzip or plain)
// and a client that downloads the current one.
//
// The file holds a score for every published CVE, about 250,000 rows; the
// decoder passes them on one at a time and never holds the file.
package epss

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// DefaultURL is the current day's file. FIRST's data moved from
// epss.cyentia.com, which redirects here.
const DefaultURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"

// Header is the file's first line, a comment such as
// "#model_version:v2025.03.14,score_date:2025-03-20T00:00:00+0000".
// Values are kept as written; score_date comes as …T00:00:00+0000 or
// …T12:55:00Z depending on the file's age. Both are "" when the file has no
// such line.
type Header struct{ ModelVersion, ScoreDate string }

// Score is one row. EPSS and Percentile are in [0, 1].
type Score struct {
	CVE              string
	EPSS, Percentile float64
}

// Limits bound what one file may make Decode read. A zero field takes its
// value from DefaultLimits.
type Limits struct {
	MaxBytes int64 // bytes after decompression: a gzip bomb ends here
	MaxRows  int
	MaxLine  int // bytes of one line
}

// DefaultLimits are far above the real file (about 10 MB and 300,000 rows
// uncompressed in 2025, lines under 40 bytes).
var DefaultLimits = Limits{MaxBytes: 1 << 30, MaxRows: 20_000_000, MaxLine: 4 << 10}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxRows <= 0 {
		l.MaxRows = DefaultLimits.MaxRows
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultLimits.MaxLine
	}
	return l
}

// ErrTooLarge is wrapped by the error for a file over a limit.
var ErrTooLarge = errors.New("over the limit")

// callbackError marks an error returned by a callback, returned as it is.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// Decode reads an EPSS scores file from r, gzip-compressed or not (told by
// the gzip magic bytes, not by a name), and calls header once, then fn for
// each row in file order. Either may be nil. Scores are read with
// strconv.ParseFloat, so scientific notation (1.2e-04) is taken.
//
// A row with other than three columns, a CVE id that is not
// CVE-YYYY-NNNN…, a value that is not a number in [0, 1], a missing or
// different "cve,epss,percentile" header line, or input over a limit is an
// error naming the line (from 1, the comment counting). A compressed file
// cut short fails with an error wrapping io.ErrUnexpectedEOF. An error
// returned by header or fn ends Decode and is returned as it is; fn may
// have been called for earlier rows.
func Decode(r io.Reader, lim Limits, header func(Header) error, fn func(Score) error) error {
	err := decode(r, lim, header, fn)
	if ce, ok := errors.AsType[*callbackError](err); ok {
		return ce.err
	}
	return err
}

func decode(r io.Reader, lim Limits, header func(Header) error, fn func(Score) error) error {
	lim = lim.withDefaults()
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("epss: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	d := lineReader{br: br, lim: lim}
	line, err := d.next()
	if err == io.EOF {
		return errors.New("epss: empty input")
	}
	if err != nil {
		return err
	}
	var h Header
	if len(line) > 0 && line[0] == '#' {
		h = parseHeader(line[1:])
		if line, err = d.next(); err == io.EOF {
			return fmt.Errorf("epss: line %d: the file ends after its comment, before the cve,epss,percentile header", d.n)
		} else if err != nil {
			return err
		}
	}
	if !bytes.Equal(bytes.ToLower(bytes.ReplaceAll(line, []byte(" "), nil)), []byte("cve,epss,percentile")) {
		return fmt.Errorf("epss: line %d: header %q, want cve,epss,percentile (not an EPSS scores file?)", d.n, shorten(line))
	}
	if header != nil {
		if err := header(h); err != nil {
			return &callbackError{err}
		}
	}
	for rows := 0; ; rows++ {
		line, err := d.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(line) == 0 {
			continue // a blank line, as at the end of some files
		}
		if rows >= lim.MaxRows {
			return fmt.Errorf("epss: line %d: more than %d rows: %w", d.n, lim.MaxRows, ErrTooLarge)
		}
		s, err := parseRow(line)
		if err != nil {
			return fmt.Errorf("epss: line %d: %w", d.n, err)
		}
		if fn != nil {
			if err := fn(s); err != nil {
				return &callbackError{err}
			}
		}
	}
}

// lineReader returns the input's lines without their end, counting them.
type lineReader struct {
	br   *bufio.Reader
	lim  Limits
	n    int   // lines read
	read int64 // bytes read
}

func (d *lineReader) next() ([]byte, error) {
	line, err := d.br.ReadSlice('\n')
	if err == io.EOF && len(line) > 0 {
		err = nil // a last line without its newline
	}
	// The buffer (64 KB) bounds a line too.
	if err == bufio.ErrBufferFull || err == nil && len(bytes.TrimRight(line, "\r\n")) > d.lim.MaxLine {
		return nil, fmt.Errorf("epss: line %d: longer than %d bytes: %w", d.n+1, min(d.lim.MaxLine, d.br.Size()), ErrTooLarge)
	}
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("epss: line %d: %w", d.n+1, err)
	}
	d.n++
	if d.read += int64(len(line)); d.read > d.lim.MaxBytes {
		return nil, fmt.Errorf("epss: line %d: more than %d bytes: %w", d.n, d.lim.MaxBytes, ErrTooLarge)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// parseHeader reads "model_version:v2025.03.14,score_date:…": pairs
// split at their first ':' (the date holds more), unknown keys ignored.
func parseHeader(b []byte) Header {
	var h Header
	for part := range strings.SplitSeq(string(b), ",") {
		k, v, _ := strings.Cut(part, ":")
		switch strings.TrimSpace(k) {
		case "model_version":
			h.ModelVersion = strings.TrimSpace(v)
		case "score_date":
			h.ScoreDate = strings.TrimSpace(v)
		}
	}
	return h
}

func parseRow(line []byte) (Score, error) {
	var s Score
	i := bytes.IndexByte(line, ',')
	if i < 0 {
		return s, fmt.Errorf("1 column, want 3 (cve,epss,percentile)")
	}
	j := bytes.IndexByte(line[i+1:], ',')
	if j < 0 {
		return s, fmt.Errorf("2 columns, want 3 (cve,epss,percentile)")
	}
	j += i + 1
	if k := bytes.Count(line[j+1:], []byte(",")); k > 0 {
		return s, fmt.Errorf("%d columns, want 3 (cve,epss,percentile)", 3+k)
	}
	cve := line[:i]
	if !validCVE(cve) {
		return s, fmt.Errorf("%q is not a CVE id", shorten(cve))
	}
	var err error
	if s.EPSS, err = unitValue("epss", line[i+1:j]); err != nil {
		return s, err
	}
	if s.Percentile, err = unitValue("percentile", line[j+1:]); err != nil {
		return s, err
	}
	s.CVE = string(cve)
	return s, nil
}

// unitValue parses a number in [0, 1].
func unitValue(name string, b []byte) (float64, error) {
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return 0, fmt.Errorf("%s %q is not a number from 0 to 1", name, shorten(b))
	}
	return v, nil
}

// validCVE tells whether b is CVE-YYYY-NNNN with 4 to 19 digits.
func validCVE(b []byte) bool {
	if len(b) < 13 || len(b) > 28 || string(b[:4]) != "CVE-" || b[8] != '-' {
		return false
	}
	for i := 4; i < len(b); i++ {
		if i != 8 && (b[i] < '0' || b[i] > '9') {
			return false
		}
	}
	return true
}

func shorten(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
