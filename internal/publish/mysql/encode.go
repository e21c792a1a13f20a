package mysql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"qvt/internal/store"
)

// batch is a batch of findings ready to stage: their staging rows in
// LOAD DATA's default text format (tab-separated, backslash escapes, \N
// for NULL; without LOAD DATA they are decoded into INSERT parameters
// again), and one finding of each QID in it, whose KB fields the writer
// stages if its session has not yet.
type batch struct {
	f      tsv
	nf, nk int                // staged findings, KB rows the writer staged with them
	kbsrc  []*store.Published // a finding of each QID in the batch, for its KB fields
}

func (b *batch) reset() {
	clear(b.kbsrc)
	b.f, b.nf, b.nk, b.kbsrc = b.f[:0], 0, 0, b.kbsrc[:0]
}

// add appends a finding's staging row, in stageFindingColumns order.
func (b *batch) add(p *store.Published) {
	f := &p.Finding
	e := &b.f
	e.str(f.Key)
	e.str(clip(f.IP, 64))
	e.int(f.HostID)
	e.str(clip(text(f.Hostname), 255))
	e.str(text(f.OS))
	e.int(int64(f.QID))
	e.int(int64(f.Port))
	e.str(clip(f.Protocol, 16))
	e.str(clip(f.Type, 32))
	e.int(int64(f.Severity))
	e.str(clip(f.Status, 16))
	e.int(int64(f.TimesFound))
	e.rfc3339(f.FirstFound)
	e.rfc3339(f.LastFound)
	e.rfc3339(f.LastFixed)
	e.str(text(f.Results))
	e.str(clip(f.CVEID, 64))
	e.str(clip(f.CVSSVersion, 8))
	e.str(clip(f.CVSSVector, 512))
	e.score(f.Base)
	e.score(f.Temporal)
	e.score(f.EnvScore)
	e.str(clip(f.VulnScore, 16))
	e.optStr(f.BreachDate)
	e.str(clip(p.Closed, 16))
	e.unix(p.FirstSeen)
	e.unix(p.LastSeen)
	e.int(int64(p.TimesReopened))
	e.unix(p.LastReopened)
	e.list(p.Tags)
	e.int(p.Rev)
	e.optInt(f.QDS)
	e.str(clip(f.Priority, 8))
	e.str(clip(text(f.PriorityReason), 255))
	e.date(f.DueDate)
	e.str(clip(text(f.Owner), 255))
	e.bool(f.Excepted)
	e.str(clip(f.Exception, 32))
	until := f.ExceptedUntil
	if until == store.NoExpiry {
		until = ""
	}
	e.date(until)
	e.end()
	b.nf++
}

// addKB appends a QID's KB staging row, in stageKBColumns order.
func (e *tsv) addKB(f *store.Published) {
	e.int(int64(f.QID))
	e.str(text(f.Title))
	e.str(clip(text(f.Category), 255))
	e.str(clip(f.VulnType, 64))
	e.str(text(f.Diagnosis))
	e.str(text(f.Consequence))
	e.str(text(f.Solution))
	e.bool(f.Patchable)
	e.bool(f.Remote)
	e.list(f.VendorRefs)
	e.list(f.CVEs)
	e.bool(f.KEV)
	e.list(f.KEVCVEs)
	e.date(f.KEVDateAdded)
	e.date(f.KEVDueDate)
	e.bool(f.KEVRansomware)
	e.fraction(f.EPSS)
	e.fraction(f.EPSSPercentile)
	e.str(clip(f.EPSSCVE, 32))
	e.list(f.ThreatIntel)
	e.end()
}

// tsv is rows in LOAD DATA's default format. Each field is followed by a
// tab; end turns the row's last one into a newline.
type tsv []byte

func (e *tsv) str(s string) {
	b := *e
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case 0:
			esc = '0'
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\', esc)
		start = i + 1
	}
	b = append(b, s[start:]...)
	*e = append(b, '\t')
}

func (e *tsv) null() { *e = append(*e, '\\', 'N', '\t') }

func (e *tsv) int(i int64) { *e = append(strconv.AppendInt(*e, i, 10), '\t') }

func (e *tsv) bool(v bool) {
	if v {
		*e = append(*e, '1', '\t')
	} else {
		*e = append(*e, '0', '\t')
	}
}

func (e *tsv) optStr(s string) {
	if s == "" {
		e.null()
		return
	}
	e.str(s)
}

func (e *tsv) optInt(i *int) {
	if i == nil {
		e.null()
		return
	}
	e.int(int64(*i))
}

// date writes a YYYY-MM-DD date; anything else is NULL (strict mode
// would refuse the row, LOAD DATA would warn).
func (e *tsv) date(s string) {
	if !isDate(s) {
		e.null()
		return
	}
	e.str(s)
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := range 10 {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// fraction writes an EPSS score or percentile with the five decimals
// of its DECIMAL(6,5) column, which are the FIRST file's; values outside
// [0, 1] (the decoder refuses them) are clamped rather than fail the
// row.
func (e *tsv) fraction(f *float64) {
	if f == nil || *f != *f { // nil or NaN
		e.null()
		return
	}
	v := min(max(*f, 0), 1)
	*e = append(strconv.AppendFloat(*e, v, 'f', 5, 64), '\t')
}

// rfc3339 writes "2022-04-26T04:00:51Z" as a DATETIME, "2022-04-26 04:00:51".
func (e *tsv) rfc3339(s *string) {
	if s == nil || *s == "" {
		e.null()
		return
	}
	v := *s
	if len(v) == 20 && v[10] == 'T' && v[19] == 'Z' {
		*e = append(append(append(*e, v[:10]...), ' '), v[11:19]...)
		*e = append(*e, '\t')
		return
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		e.null()
		return
	}
	*e = append(t.UTC().AppendFormat(*e, time.DateTime), '\t')
}

// unix writes Unix seconds as a DATETIME; 0 is NULL.
func (e *tsv) unix(s int64) {
	if s == 0 {
		e.null()
		return
	}
	*e = append(time.Unix(s, 0).UTC().AppendFormat(*e, time.DateTime), '\t')
}

func (e *tsv) score(f *float64) {
	if f == nil {
		e.null()
		return
	}
	*e = append(strconv.AppendFloat(*e, *f, 'f', 1, 64), '\t')
}

// list writes a JSON array of strings.
func (e *tsv) list(l []string) {
	if len(l) == 0 {
		e.str("[]")
		return
	}
	b, err := json.Marshal(l)
	if err != nil {
		e.str("[]")
		return
	}
	e.str(text(string(b)))
}

func (e *tsv) end() { (*e)[len(*e)-1] = '\n' }

// decode turns rows back into INSERT parameters: strings, and nil for
// NULL (the server converts "42" for an INT column).
func (e tsv) decode(ncols int) ([]any, error) {
	var out []any
	for len(e) > 0 {
		nl := bytes.IndexByte(e, '\n')
		if nl < 0 {
			return nil, errors.New("staging rows: unterminated row")
		}
		line := e[:nl]
		e = e[nl+1:]
		n := 0
		for f := range bytes.SplitSeq(line, []byte{'\t'}) {
			n++
			if string(f) == `\N` {
				out = append(out, nil)
				continue
			}
			if bytes.IndexByte(f, '\\') < 0 {
				out = append(out, string(f))
				continue
			}
			v := make([]byte, 0, len(f))
			for i := 0; i < len(f); i++ {
				c := f[i]
				if c == '\\' && i+1 < len(f) {
					i++
					switch f[i] {
					case 't':
						c = '\t'
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case '0':
						c = 0
					default:
						c = f[i]
					}
				}
				v = append(v, c)
			}
			out = append(out, string(v))
		}
		if n != ncols {
			return nil, fmt.Errorf("staging rows: %d fields, want %d", n, ncols)
		}
	}
	return out, nil
}

// text makes s valid UTF-8: MySQL refuses a statement with an invalid
// utf8mb4 string in it.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clip cuts s to n characters, the width of its VARCHAR column, on a
// character boundary: in strict mode a longer value fails the statement.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = text(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}
