package nvd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Token-level helpers over jsontext.Decoder. They read names and scalars as
// raw values, which point into the decoder's buffer, so nothing is
// allocated unless a value is kept; values that are not kept go through
// skip, which validates them without building anything.

// peek returns the kind of the next token. A syntax error, including the end
// of input, is returned as a FormatError.
func (d *decoder) peek() (jsontext.Kind, error) {
	if k := d.dec.PeekKind(); k != 0 {
		return k, nil
	}
	// PeekKind keeps the error for the next read.
	_, err := d.dec.ReadToken()
	if err == nil {
		err = errors.New("invalid token")
	}
	return 0, d.wrap(err)
}

// object consumes the '{' that must come next.
func (d *decoder) object() error {
	k, err := d.peek()
	if err != nil {
		return err
	}
	if k != '{' {
		return d.typeError("an object", k)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.wrap(err)
	}
	return nil
}

// openObject consumes the '{' or null that must come next and reports
// whether it was '{'. Optional members may be null, as with encoding/json.
func (d *decoder) openObject() (bool, error) {
	return d.open('{', "an object")
}

// openArray is openObject for '['.
func (d *decoder) openArray() (bool, error) {
	return d.open('[', "an array")
}

func (d *decoder) open(want jsontext.Kind, what string) (bool, error) {
	k, err := d.peek()
	if err != nil {
		return false, err
	}
	if k != want && k != 'n' {
		return false, d.typeError(what, k)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return false, d.wrap(err)
	}
	return k == want, nil
}

// more reports whether another array element follows, consuming the ']'
// when not.
func (d *decoder) more() (bool, error) {
	k, err := d.peek()
	if err != nil {
		return false, err
	}
	if k != ']' {
		return true, nil
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return false, d.wrap(err)
	}
	return false, nil
}

// name returns the next member name of the open object, or false after
// consuming the '}'. The name is valid until the next read.
func (d *decoder) name() ([]byte, bool, error) {
	k, err := d.peek()
	if err != nil {
		return nil, false, err
	}
	if k == '}' {
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, false, d.wrap(err)
		}
		return nil, false, nil
	}
	if k != '"' {
		// Reported here because jsontext would first read the whole value.
		return nil, false, d.errAt(d.valueOffset(), d.path(), fmt.Errorf("found %s, want a member name", kindName(k)))
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, false, d.wrap(err)
	}
	// Names are only compared, so invalid UTF-8 needs no repair: it
	// matches no wanted name either way.
	if raw := v[1 : len(v)-1]; bytes.IndexByte(raw, '\\') < 0 {
		return raw, true, nil
	}
	return d.unquote(v), true, nil
}

// skip skips the next value, validating it.
//
// Inside records it reads the value whole: jsontext's ReadValue scans a
// buffered value in one tight loop and is much faster than SkipValue, which
// steps token by token (decoding ran at 530 MB/s rather than 320 MB/s on
// the benchmark). The cost is that the decoder's buffer grows to the largest
// value skipped that way, e.g. the configurations of the biggest record
// (CVE-2021-44228's are 100 KB). At the top level, where a foreign document
// could hold a huge list, skip streams through the value instead; see also
// skipWhole.
func (d *decoder) skip() error {
	if d.dec.StackDepth() > 1 {
		return d.skipWhole()
	}
	if err := d.dec.SkipValue(); err != nil {
		return d.wrap(err)
	}
	return nil
}

// skipWhole skips the next value by reading it whole, which is fast but
// buffers all of it.
func (d *decoder) skipWhole() error {
	if _, err := d.dec.ReadValue(); err != nil {
		return d.wrap(err)
	}
	return nil
}

// str reads a string or null. It returns the unquoted bytes, valid until
// the next read, and whether the value was a string.
func (d *decoder) str() ([]byte, bool, error) {
	k, err := d.peek()
	if err != nil {
		return nil, false, err
	}
	if k != '"' && k != 'n' {
		return nil, false, d.typeError("a string", k)
	}
	off := d.valueOffset()
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, false, d.wrap(err)
	}
	if k == 'n' {
		return nil, false, nil
	}
	if len(v) > d.lim.String+2 {
		return nil, false, d.errAt(off, d.path(), fmt.Errorf("string longer than %d bytes (limit string)", d.lim.String))
	}
	return d.unquote(v), true, nil
}

// strVal reads a string or null into a new string.
func (d *decoder) strVal() (string, error) {
	b, _, err := d.str()
	return d.string(b), err
}

// internVal reads a string or null, sharing the string with earlier equal
// values. It is meant for values that repeat across records.
func (d *decoder) internVal() (string, error) {
	b, _, err := d.str()
	return d.intern(b), err
}

func (d *decoder) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return string(b)
}

func (d *decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < maxInterned && len(s) <= maxInternLen {
		d.strs[s] = s
	}
	return s
}

// unquote returns the contents of the valid JSON string v, decoding escapes
// and repairing invalid UTF-8. The result may alias v or d.ubuf.
func (d *decoder) unquote(v jsontext.Value) []byte {
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		if utf8.Valid(raw) {
			return raw
		}
		d.ubuf = appendValidUTF8(d.ubuf[:0], raw)
		return d.ubuf
	}
	// The decoder has validated the escapes, so the only error left is
	// invalid UTF-8, which AppendUnquote has already replaced.
	d.ubuf, _ = jsontext.AppendUnquote(d.ubuf[:0], v)
	return d.ubuf
}

// appendValidUTF8 appends b to dst with each invalid byte replaced by U+FFFD,
// as jsontext.AppendUnquote does.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}

// float reads a number or null.
func (d *decoder) float() (float64, error) {
	k, err := d.peek()
	if err != nil {
		return 0, err
	}
	if k != '0' && k != 'n' {
		return 0, d.typeError("a number", k)
	}
	off := d.valueOffset()
	v, err := d.dec.ReadValue()
	if err != nil {
		return 0, d.wrap(err)
	}
	if k == 'n' {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.errAt(off, d.path(), fmt.Errorf("number %.40s is out of range", v))
	}
	return f, nil
}

// int reads an integer or null.
func (d *decoder) int() (int, error) {
	k, err := d.peek()
	if err != nil {
		return 0, err
	}
	if k != '0' && k != 'n' {
		return 0, d.typeError("an integer", k)
	}
	off := d.valueOffset()
	v, err := d.dec.ReadValue()
	if err != nil {
		return 0, d.wrap(err)
	}
	if k == 'n' {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 0)
	if err != nil {
		return 0, d.errAt(off, d.path(), fmt.Errorf("number %.40s is not an integer in range", v))
	}
	return int(n), nil
}

// typeError reports that the next value, of kind k, is not what.
func (d *decoder) typeError(what string, k jsontext.Kind) error {
	return d.errAt(d.valueOffset(), d.path(), fmt.Errorf("found %s, want %s", kindName(k), what))
}

// fail reports err at the most recently read value.
func (d *decoder) fail(err error) error {
	return d.errAt(d.dec.InputOffset(), d.path(), err)
}

func (d *decoder) errAt(off int64, path string, err error) error {
	return &FormatError{Offset: off + d.skew, Path: path, ID: d.id, Err: err}
}

// wrap turns an error from the jsontext decoder into a FormatError, except
// for read errors from the underlying reader.
func (d *decoder) wrap(err error) error {
	// jsontext sometimes reports a read error inside a SyntacticError, so
	// read errors are recognised by what the reader returned.
	if d.in.err != nil {
		if d.in.err == errValueTooLong {
			return d.errAt(d.valueOffset(), d.path(),
				fmt.Errorf("a value longer than %d bytes (limit value)", d.lim.Value))
		}
		return fmt.Errorf("nvd: reading input after byte %d: %w", d.dec.InputOffset()+d.skew, d.in.err)
	}
	if se, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		e := se.Err
		switch {
		case e == nil:
			e = errors.New("syntax error")
		case errors.Is(e, io.ErrUnexpectedEOF):
			e = errTruncated
		}
		// se.JSONPointer is not used: within a value read whole it is
		// rebuilt from the buffer and comes out differently depending on
		// how the input was split into reads. The decoder's own stack
		// names the member being read, or skipped, and is stable.
		return d.errAt(se.ByteOffset, d.path(), e)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return d.errAt(d.dec.InputOffset(), d.path(), errTruncated)
	}
	// Not a jsontext error and not from the reader: pass it on.
	return fmt.Errorf("nvd: after byte %d: %w", d.dec.InputOffset()+d.skew, err)
}

// reader passes reads through and remembers the first read error other
// than io.EOF. It also refuses to read on while the decoder holds more
// than max bytes it has not consumed: jsontext buffers each value it reads
// whole, and a string or object of gigabytes would otherwise be held
// entire.
type reader struct {
	r   io.Reader
	err error
	dec *jsontext.Decoder
	n   int64 // bytes passed on
	max int64
}

var errValueTooLong = errors.New("value too long")

func (r *reader) Read(p []byte) (int, error) {
	if r.dec != nil && r.n-r.dec.InputOffset() > r.max {
		r.err = errValueTooLong
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.n += int64(n)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// valueOffset returns the offset of the next value, after the separator and
// whitespace that InputOffset does not count. Call it after a peek.
func (d *decoder) valueOffset() int64 {
	off := d.dec.InputOffset()
	for _, c := range d.dec.UnreadBuffer() {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ':' && c != ',' {
			break
		}
		off++
	}
	return off
}

// path returns the JSON path of the most recently read value.
func (d *decoder) path() string {
	return pointerPath(d.dec.StackPointer())
}

// pointerPath turns a JSON Pointer such as /vulnerabilities/12/cve into
// vulnerabilities[12].cve. All-digit tokens are taken as array indexes, which
// holds for NVD documents.
func pointerPath(p jsontext.Pointer) string {
	// Hostile input can nest thousands of levels deep; keep the message
	// readable by eliding the middle of long paths.
	const head, tail = 16, 8
	n := strings.Count(string(p), "/")
	var b strings.Builder
	i := 0
	for tok := range p.Tokens() {
		i++
		if n > head+tail && i > head && i <= n-tail {
			if i == head+1 {
				b.WriteString(".…")
			}
			continue
		}
		if isIndex(tok) {
			b.WriteByte('[')
			b.WriteString(tok)
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func isIndex(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return false
		}
	}
	return true
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '}', ']':
		return "the end of the enclosing value"
	}
	return "invalid input"
}
