package qualys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the XML scanner under the KB and detection decoders.
//
// Qualys output is regular: elements, text, CDATA, comments (keep-alive and
// evaluation notices), one DOCTYPE, no namespaces, almost no attributes.
// encoding/xml handles far more than that and tokenizes at 30-40 MB/s here;
// a 130 MB detection file must import in about a second, so qvt scans the
// bytes itself: bytes.IndexByte to the next '<', element names interned,
// text returned as a slice of the read buffer when it needs no decoding.
// It is strict where it matters for data (tags must nest and close, the
// document must end with its root's end tag) and lenient where real files
// are odd (comments anywhere, a stray element inside a text field).

// Limits bound what one document can make a decoder read or hold, so that
// a crafted file or answer ends with an error instead of exhausting
// memory. A zero field takes its value from DefaultLimits. A value over a
// limit is refused, never cut: the error names the byte offset, the
// element path and the record (host or QID) when its id was already read.
type Limits struct {
	Text    int // bytes of one field's text, after entities are decoded
	Tag     int // bytes of one start or end tag, with its name and attributes
	Comment int // bytes of one comment or processing instruction
	CDATA   int // bytes of one CDATA section
	Doctype int // bytes of the DOCTYPE declaration
	Depth   int // element nesting depth
	// Record is the memory one record (a HOST with its detections, a VULN)
	// may take: the bytes of its kept text plus 512 for each list entry
	// (detection, tag, CVE, reference, ...).
	Record int
	Path   int // innermost elements shown in an error's element path
	// QDSFactors is the number of QDS_FACTOR elements of one detection
	// (real ones carry about seven).
	QDSFactors int
}

// DefaultLimits are far above anything in real Qualys data (the longest
// KB DIAGNOSIS is about 30 KB, a host rarely has more than a few thousand
// detections, documents nest 8 deep) and keep a decoder under 100 MB.
var DefaultLimits = Limits{
	Text:    1 << 20,
	Tag:     4 << 10,
	Comment: 1 << 20,
	CDATA:   1 << 20,
	Doctype: 64 << 10,
	Depth:   64,
	Record:  32 << 20,
	Path:    4,

	QDSFactors: 64,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.Text, &d.Text}, {&l.Tag, &d.Tag}, {&l.Comment, &d.Comment}, {&l.CDATA, &d.CDATA},
		{&l.Doctype, &d.Doctype}, {&l.Depth, &d.Depth}, {&l.Record, &d.Record}, {&l.Path, &d.Path},
		{&l.QDSFactors, &d.QDSFactors},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// SyntaxError reports malformed XML, or a value refused by a limit or a
// check: the byte offset in the input, the element path where the scanner
// stopped and the record being read.
type SyntaxError struct {
	Offset int64
	Path   string
	Record string // "host 1234", "qid 38170"; "" when not known
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := e.Path
	if e.Record != "" {
		if where != "" {
			where += ", "
		}
		where += e.Record
	}
	if where == "" {
		return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("byte %d (in %s): %s", e.Offset, where, e.Msg)
}

// ErrIncomplete marks a document that ended before its root element closed:
// a download cut off mid-stream. errors.Is(err, ErrIncomplete) tells a
// client to retry.
var ErrIncomplete = errors.New("document ends before its root element closes (incomplete or truncated)")

type tokKind int

const (
	tokEOF tokKind = iota
	tokStart
	tokEnd
)

type scanner struct {
	r     io.Reader
	buf   []byte
	pos   int   // next unread byte in buf
	end   int   // end of valid data in buf
	base  int64 // input offset of buf[0]
	eof   bool
	rerr  error // read error other than io.EOF
	stack []string
	names map[string]string
	lim   Limits
	// The record being read, for errors: its kind ("host", "qid"), its id
	// once read, and the QID of the detection being read. kept is the
	// memory it takes so far, against lim.Record.
	recKind string
	recID   int64
	detQID  int64
	kept    int

	name      string // name of the last start or end tag
	attrs     []byte // raw attributes of the last start tag (copied)
	selfClose bool
	rootSeen  bool
	rootDone  bool
	scratch   []byte
	textAt    int64       // offset of the text textBytes last read
	dets      []Detection // detections of the host being read
	spaces    [][2]int    // whitespace-only runs in scratch
	recent    [256]string // intern cache
	values    [256]string // value cache
}

const scanBufSize = 256 << 10

func newScanner(r io.Reader) *scanner { return newScannerSize(r, scanBufSize) }

func newScannerSize(r io.Reader, size int) *scanner {
	return &scanner{
		r:     r,
		buf:   make([]byte, size),
		names: make(map[string]string, 128),
		stack: make([]string, 0, 16),
		lim:   DefaultLimits,
	}
}

// newScannerLimits is newScanner under the given limits.
func newScannerLimits(r io.Reader, lim Limits) *scanner {
	s := newScanner(r)
	s.lim = lim.withDefaults()
	return s
}

// maxNames bounds the intern table: documents with more distinct element
// names than this are not Qualys data, and their names are not kept.
const maxNames = 4096

// offset is the input offset of the next unread byte.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// fill reads more input, keeping buf[s.pos:] and growing the buffer when
// it is full. It returns false at the end of the input.
func (s *scanner) fill() bool {
	if s.eof {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.end = n
		s.pos = 0
	}
	if s.end == len(s.buf) {
		nb := make([]byte, 2*len(s.buf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.eof = true
			if err != io.EOF {
				s.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// ensure makes at least n unread bytes available, if the input has them.
func (s *scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

// path is the element path for errors: at most its innermost lim.Path
// elements and 64 characters, each name cut short, so that the message
// stays one short line however deep or long the names of a crafted
// document are.
func (s *scanner) path() string {
	const maxLen = 64
	names := make([]string, 0, s.lim.Path)
	n := 0
	for i := len(s.stack) - 1; i >= 0 && len(names) < max(s.lim.Path, 1); i-- {
		name := shown([]byte(s.stack[i]), 32)
		if n += len(name) + 1; n > maxLen && len(names) > 0 {
			break
		}
		names = append(names, name)
	}
	slices.Reverse(names)
	p := strings.Join(names, "/")
	if len(names) < len(s.stack) {
		p = "…/" + p
	}
	return p
}

func (s *scanner) errorf(format string, args ...any) error {
	return s.errorAt(s.offset(), format, args...)
}

func (s *scanner) errorAt(off int64, format string, args ...any) error {
	return &SyntaxError{Offset: off, Path: s.path(), Record: s.recordName(), Msg: fmt.Sprintf(format, args...)}
}

// recordName names the record being read: "host 12 qid 38170", "qid 6",
// or "" before its id is known.
func (s *scanner) recordName() string {
	if s.recID == 0 {
		return ""
	}
	name := s.recKind + " " + strconv.FormatInt(s.recID, 10)
	if s.detQID != 0 {
		name += " qid " + strconv.FormatInt(s.detQID, 10)
	}
	return name
}

// keep counts n bytes against the memory one record may take.
func (s *scanner) keep(n int) error {
	if s.kept += n; s.kept > s.lim.Record {
		return s.errorf("the record takes more than %d bytes (limit record)", s.lim.Record)
	}
	return nil
}

// eofError is the error for input that ends too early: the read error if
// there was one, else a SyntaxError wrapping ErrIncomplete.
func (s *scanner) eofError() error {
	if s.rerr != nil {
		return fmt.Errorf("byte %d (in %s): read: %w", s.offset(), s.path(), s.rerr)
	}
	return &syntaxIncomplete{SyntaxError{Offset: s.offset(), Path: s.path(), Record: s.recordName(), Msg: ErrIncomplete.Error()}}
}

// syntaxIncomplete is a SyntaxError that also matches ErrIncomplete.
type syntaxIncomplete struct{ SyntaxError }

func (e *syntaxIncomplete) Is(target error) bool { return target == ErrIncomplete }
func (e *syntaxIncomplete) As(target any) bool {
	if t, ok := target.(**SyntaxError); ok {
		*t = &e.SyntaxError
		return true
	}
	return false
}

// intern returns an element name as a string without allocating for
// names seen before. A small direct-mapped cache in front of the map
// answers most lookups with one comparison.
func (s *scanner) intern(b []byte) string {
	h := smallHash(b)
	if n := s.recent[h]; n == string(b) && n != "" {
		return n
	}
	n, ok := s.names[string(b)]
	if !ok {
		n = string(b)
		if len(s.names) < maxNames {
			s.names[n] = n
		}
	}
	s.recent[h] = n
	return n
}

// value returns short field text (statuses, types, protocols, dates) as a
// string, reusing the string of an equal recent value: detections repeat
// the same few values and the same dates within a host.
func (s *scanner) value(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > 32 {
		return string(b)
	}
	h := smallHash(b)
	if v := s.values[h]; v == string(b) {
		return v
	}
	v := string(b)
	s.values[h] = v
	return v
}

func smallHash(b []byte) uint8 {
	if len(b) == 0 {
		return 0
	}
	h := uint32(len(b))*0x9E3779B1 ^ uint32(b[0])<<8 ^ uint32(b[len(b)-1])<<3 ^ uint32(b[len(b)/2])*31
	if len(b) > 12 {
		h ^= uint32(b[len(b)-4])*131 ^ uint32(b[len(b)-7])*17 ^ uint32(b[len(b)-2])*7
	}
	return uint8(h ^ h>>8 ^ h>>16)
}

// skipTo advances past markup that opens with the from bytes at s.pos and
// ends with delim, which may lie beyond the buffered data. The content
// between is passed to keep, when not nil, in pieces as it streams by, so
// the buffer never holds more than a read of it; more than limit bytes of
// it is an error naming the markup's offset.
func (s *scanner) skipTo(from int, delim []byte, what string, limit int, keep func([]byte) error) error {
	start := s.offset()
	s.pos += from
	var n int64 // content bytes passed by
	for {
		i := bytes.Index(s.buf[s.pos:s.end], delim)
		m := i
		if i < 0 {
			// Hold back len(delim)-1 bytes: the delimiter may straddle reads.
			m = max(s.end-s.pos-(len(delim)-1), 0)
		}
		if n += int64(m); n > int64(limit) {
			return s.errorAt(start, "%s longer than %d bytes (limit %s)", what, limit, limitName(what))
		}
		if keep != nil && m > 0 {
			if err := keep(s.buf[s.pos : s.pos+m]); err != nil {
				return err
			}
		}
		if i >= 0 {
			s.pos += i + len(delim)
			return nil
		}
		s.pos += m
		if !s.fill() {
			return s.withMsg(s.eofError(), "unterminated "+what)
		}
	}
}

// limitName names the Limits field that bounds a kind of markup.
func limitName(what string) string {
	switch what {
	case "CDATA section":
		return "cdata"
	case "DOCTYPE":
		return "doctype"
	}
	return "comment"
}

func (s *scanner) withMsg(err error, msg string) error {
	var se *syntaxIncomplete
	if errors.As(err, &se) {
		se.Msg = msg + ": " + se.Msg
	}
	return err
}

// next returns the next start or end tag, skipping character data,
// comments, processing instructions, CDATA and the DOCTYPE. It is called
// where the decoder expects elements, so text there is ignored.
func (s *scanner) next() (tokKind, error) {
	for {
		i := bytes.IndexByte(s.buf[s.pos:s.end], '<')
		if i < 0 {
			if s.rootSeen && !s.rootDone {
				s.pos = s.end
			} else if err := s.checkOutside(s.buf[s.pos:s.end]); err != nil {
				return tokEOF, err
			} else {
				s.pos = s.end
			}
			if !s.fill() {
				switch {
				case s.rerr != nil:
					return tokEOF, s.eofError()
				case !s.rootSeen:
					return tokEOF, s.errorf("no root element")
				case !s.rootDone:
					return tokEOF, s.eofError()
				}
				return tokEOF, nil
			}
			continue
		}
		if !(s.rootSeen && !s.rootDone) {
			if err := s.checkOutside(s.buf[s.pos : s.pos+i]); err != nil {
				return tokEOF, err
			}
		}
		s.pos += i
		if !s.ensure(2) {
			return tokEOF, s.eofError()
		}
		switch s.buf[s.pos+1] {
		case '/':
			return s.endTag()
		case '!':
			if err := s.skipMarkup(); err != nil {
				return tokEOF, err
			}
		case '?':
			if err := s.skipTo(2, []byte("?>"), "processing instruction", s.lim.Comment, nil); err != nil {
				return tokEOF, err
			}
		default:
			return s.startTag()
		}
	}
}

// checkOutside rejects text before or after the root element: only
// whitespace may stand there. b starts at s.pos; the error names the
// offending byte, wherever the reads happened to split the input.
func (s *scanner) checkOutside(b []byte) error {
	for i, c := range b {
		at := s.offset() + int64(i)
		switch c {
		case ' ', '\t', '\r', '\n':
		case 0xEF, 0xBB, 0xBF: // a UTF-8 byte order mark
			if s.rootSeen {
				return s.errorAt(at, "text outside the root element")
			}
		default:
			if s.rootDone {
				return s.errorAt(at, "text after the root element ends")
			}
			return s.errorAt(at, "not XML: text before the root element")
		}
	}
	return nil
}

// skipMarkup skips a comment, a CDATA section (outside a text field) or a
// DOCTYPE declaration, s.pos being at "<!".
func (s *scanner) skipMarkup() error {
	s.ensure(9)
	rest := s.buf[s.pos:s.end]
	switch {
	case bytes.HasPrefix(rest, []byte("<!--")):
		return s.skipTo(4, []byte("-->"), "comment", s.lim.Comment, nil)
	case bytes.HasPrefix(rest, []byte("<![CDATA[")):
		if !s.rootSeen || s.rootDone {
			return s.errorf("CDATA outside the root element")
		}
		return s.skipTo(9, []byte("]]>"), "CDATA section", s.lim.CDATA, nil)
	case bytes.HasPrefix(rest, []byte("<!DOCTYPE")):
		if s.rootSeen {
			return s.errorf("DOCTYPE inside the document")
		}
		return s.skipDoctype()
	}
	if len(rest) < 9 {
		return s.eofError()
	}
	return s.errorf("unexpected markup %q", s.quote(12))
}

// skipDoctype skips <!DOCTYPE ...>, including an internal subset in
// brackets and quoted system ids. The DTD it names is never fetched.
func (s *scanner) skipDoctype() error {
	depth := 0
	var quote byte
	for i := 2; ; i++ {
		if i > s.lim.Doctype {
			return s.errorf("DOCTYPE longer than %d bytes (limit doctype)", s.lim.Doctype)
		}
		if s.pos+i >= s.end {
			if !s.fill() {
				return s.withMsg(s.eofError(), "unterminated DOCTYPE")
			}
		}
		c := s.buf[s.pos+i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '>' && depth <= 0:
			s.pos += i + 1
			return nil
		}
	}
}

// tagEnd finds the '>' that closes the tag starting at s.pos, outside
// quoted attribute values, and returns its index relative to s.pos.
func (s *scanner) tagEnd() (int, error) {
	from := 1
	for {
		i := bytes.IndexByte(s.buf[s.pos+from:s.end], '>')
		if from+max(i, 0) > s.lim.Tag || i < 0 && s.end-s.pos > s.lim.Tag {
			return 0, s.errorf("tag longer than %d bytes (limit tag)", s.lim.Tag)
		}
		if i >= 0 {
			j := s.pos + from + i
			tag := s.buf[s.pos:j]
			// Most tags have no attributes, hence no quotes to count.
			if bytes.IndexByte(tag, '"') < 0 && bytes.IndexByte(tag, '\'') < 0 ||
				bytes.Count(tag, []byte{'"'})%2 == 0 && bytes.Count(tag, []byte{'\''})%2 == 0 {
				return j - s.pos, nil
			}
			from = j - s.pos + 1
			continue
		}
		from = s.end - s.pos
		if !s.fill() {
			return 0, s.withMsg(s.eofError(), "unterminated tag")
		}
	}
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '/' || c == '>'
}

func (s *scanner) startTag() (tokKind, error) {
	if s.rootDone {
		return tokEOF, s.errorf("second root element")
	}
	n, err := s.tagEnd()
	if err != nil {
		return tokEOF, err
	}
	tag := s.buf[s.pos+1 : s.pos+n] // without '<' and '>'
	self := len(tag) > 0 && tag[len(tag)-1] == '/'
	if self {
		tag = tag[:len(tag)-1]
	}
	k := 0
	for k < len(tag) && !isNameEnd(tag[k]) {
		k++
	}
	if k == 0 {
		return tokEOF, s.errorf("malformed start tag %q", abbreviate(tag, 20))
	}
	s.name = s.intern(tag[:k])
	s.attrs = append(s.attrs[:0], tag[k:]...)
	s.selfClose = self
	s.pos += n + 1
	if !s.rootSeen {
		s.rootSeen = true
	}
	if self {
		if len(s.stack) == 0 {
			s.rootDone = true
		}
	} else {
		if len(s.stack) >= s.lim.Depth {
			return tokEOF, s.errorf("elements nested more than %d deep (limit depth)", s.lim.Depth)
		}
		s.stack = append(s.stack, s.name)
	}
	return tokStart, nil
}

func (s *scanner) endTag() (tokKind, error) {
	n, err := s.tagEnd()
	if err != nil {
		return tokEOF, err
	}
	// Trimmed by hand: bytes.TrimRight builds its set of bytes on every
	// call, and there is an end tag for every element.
	name := s.buf[s.pos+2 : s.pos+n]
	for len(name) > 0 && isSpace(name[len(name)-1:]) {
		name = name[:len(name)-1]
	}
	if len(s.stack) == 0 {
		return tokEOF, s.errorf("end tag </%s> without a start tag", shown(name, 40))
	}
	top := s.stack[len(s.stack)-1]
	if string(name) != top {
		return tokEOF, s.errorf("end tag </%s> does not match <%s>", shown(name, 40), shown([]byte(top), 40))
	}
	s.name = top
	s.pos += n + 1
	s.stack = s.stack[:len(s.stack)-1]
	if len(s.stack) == 0 {
		s.rootDone = true
	}
	return tokEnd, nil
}

// textBytes returns the text content of the element whose start tag was
// just read, and consumes its end tag, leaving s.name set to the element's
// name and s.textAt to the text's offset. CDATA sections are taken verbatim,
// entities in character data decoded; an '&' that does not start one of
// XML's five entities or a character reference is an error, as it is for
// any XML parser. When the field holds a CDATA section, the runs of
// character data that are only whitespace (the indentation around the
// section) are dropped; otherwise text is returned as is. Text longer than
// the Text limit is an error; text and trimmed also refuse C0 control
// characters other than tab, newline and carriage return (raw or as a
// reference such as &#27;). The result is valid until the next call on
// the scanner.
func (s *scanner) textBytes() ([]byte, error) {
	if s.selfClose {
		return nil, nil
	}
	start := s.offset()
	depth := len(s.stack)
	// Fast path: plain text and the whole end tag are in the buffer, so
	// reading the end tag cannot refill it and move the text away.
	if i := bytes.IndexByte(s.buf[s.pos:s.end], '<'); i >= 0 && s.pos+i+1 < s.end && s.buf[s.pos+i+1] == '/' &&
		bytes.IndexByte(s.buf[s.pos+i:s.end], '>') >= 0 {
		txt := s.buf[s.pos : s.pos+i]
		if bytes.IndexByte(txt, '&') < 0 {
			if len(txt) > s.lim.Text {
				return nil, s.textTooLong(start)
			}
			s.textAt = start
			s.pos += i
			if _, err := s.endTag(); err != nil {
				return nil, err
			}
			return txt, nil
		}
	}
	// Fast path for a field that is one CDATA section, as most KB text is:
	// the section and the end tag after it are in the buffer. The limits
	// are checked in the order the slow path meets them.
	if rest := s.buf[s.pos:s.end]; bytes.HasPrefix(rest, []byte("<![CDATA[")) {
		if j := bytes.Index(rest[9:], []byte("]]>")); j >= 0 {
			k := 9 + j + 3
			if k+1 < len(rest) && rest[k] == '<' && rest[k+1] == '/' && bytes.IndexByte(rest[k:], '>') >= 0 {
				txt := rest[9 : 9+j]
				switch {
				case len(txt) > s.lim.CDATA:
					return nil, s.errorAt(start, "CDATA section longer than %d bytes (limit cdata)", s.lim.CDATA)
				case len(txt) > s.lim.Text:
					return nil, s.textTooLong(start)
				}
				s.pos += k
				if _, err := s.endTag(); err != nil {
					return nil, err
				}
				s.textAt = start
				return txt, nil
			}
		}
	}
	s.scratch = s.scratch[:0]
	s.spaces = s.spaces[:0]
	sawCDATA := false
	// The run of character data since the last markup starts at seg in
	// scratch; space tells whether its raw text is all whitespace so far.
	seg, space := 0, true
	for {
		i := bytes.IndexByte(s.buf[s.pos:s.end], '<')
		if i < 0 {
			chunk := s.buf[s.pos:s.end]
			// Keep a possible partial entity for the next round.
			if a := bytes.LastIndexByte(chunk, '&'); a >= 0 && bytes.IndexByte(chunk[a:], ';') < 0 && len(chunk)-a < maxEntity {
				chunk = chunk[:a]
			}
			if err := s.appendChars(chunk, &space); err != nil {
				return nil, err
			}
			if len(s.scratch) > s.lim.Text {
				return nil, s.textTooLong(start)
			}
			s.pos += len(chunk)
			if !s.fill() {
				return nil, s.eofError()
			}
			continue
		}
		if err := s.appendChars(s.buf[s.pos:s.pos+i], &space); err != nil {
			return nil, err
		}
		s.pos += i
		if space && len(s.scratch) > seg {
			// A whitespace-only run: dropped at once when a CDATA section
			// came before it, else noted in case one comes after.
			if sawCDATA {
				s.scratch = s.scratch[:seg]
			} else {
				s.spaces = append(s.spaces, [2]int{seg, len(s.scratch)})
			}
		}
		if !s.ensure(9) && s.end-s.pos < 2 {
			return nil, s.eofError()
		}
		rest := s.buf[s.pos:s.end]
		switch {
		case rest[1] == '/':
			txt := s.scratch
			if len(txt) > s.lim.Text {
				return nil, s.textTooLong(start)
			}
			s.textAt = start
			if _, err := s.endTag(); err != nil {
				return nil, err
			}
			return txt, nil
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if !sawCDATA {
				sawCDATA = true
				// Drop the whitespace runs so far: usually one, the
				// indentation just before this section, at the end.
				if n := len(s.spaces); n > 0 && s.spaces[n-1][1] == len(s.scratch) {
					s.scratch = s.scratch[:s.spaces[n-1][0]]
					s.spaces = s.spaces[:n-1]
				}
				s.scratch = cut(s.scratch, s.spaces)
			}
			err := s.skipTo(9, []byte("]]>"), "CDATA section", s.lim.CDATA, func(b []byte) error {
				if s.scratch = append(s.scratch, b...); len(s.scratch) > s.lim.Text {
					return s.textTooLong(start)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case bytes.HasPrefix(rest, []byte("<!--")):
			if err := s.skipTo(4, []byte("-->"), "comment", s.lim.Comment, nil); err != nil {
				return nil, err
			}
		case rest[1] == '?':
			if err := s.skipTo(2, []byte("?>"), "processing instruction", s.lim.Comment, nil); err != nil {
				return nil, err
			}
		case rest[1] == '!':
			if len(rest) < 9 {
				return nil, s.eofError()
			}
			return nil, s.errorf("unexpected markup %q in text", s.quote(12))
		default:
			// An element inside a text field: real files do not have
			// them, but a lenient reader keeps the text and skips it.
			if _, err := s.startTag(); err != nil {
				return nil, err
			}
			if err := s.skipRest(depth + 1); err != nil {
				return nil, err
			}
		}
		seg, space = len(s.scratch), true
	}
}

// maxEntity is the longest entity or character reference read, '&' and
// ';' included ("&#x0001F600;" is 12).
const maxEntity = 32

// cut removes the spans of b, which are in order and do not overlap.
func cut(b []byte, spans [][2]int) []byte {
	if len(spans) == 0 {
		return b
	}
	out := b[:spans[0][0]]
	for k, sp := range spans {
		next := len(b)
		if k+1 < len(spans) {
			next = spans[k+1][0]
		}
		out = append(out, b[sp[1]:next]...)
	}
	return out
}

func (s *scanner) textTooLong(start int64) error {
	return s.errorAt(start, "text of <%s> longer than %d bytes (limit text)", shown([]byte(s.stack[len(s.stack)-1]), 40), s.lim.Text)
}

// checkControls refuses text just read that holds a control character:
// no Qualys field has one, and an escape sequence in a title or a result
// would reach terminals and tickets. Numbers need no check: their parse
// refuses any such byte.
func (s *scanner) checkControls(b []byte) error {
	if i := controlIndex(b); i >= 0 {
		return s.errorAt(s.textAt, "control character U+%04X in the text of <%s>", b[i], shown([]byte(s.name), 40))
	}
	return nil
}

// controlIndex is the index of the first C0 control character of b other
// than tab, newline and carriage return, or -1. It tests eight bytes at a
// time, sixteen while none is below 0x20: text is mostly printable and
// this runs over all of it.
func controlIndex(b []byte) int {
	i := 0
	for ; i+16 <= len(b); i += 16 {
		x, y := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		if (below(x)|below(y))&high == 0 {
			continue
		}
		if bad := controls(x); bad != 0 {
			return i + bits.TrailingZeros64(bad)/8
		}
		if bad := controls(y); bad != 0 {
			return i + 8 + bits.TrailingZeros64(bad)/8
		}
	}
	for ; i+8 <= len(b); i += 8 {
		if bad := controls(binary.LittleEndian.Uint64(b[i:])); bad != 0 {
			return i + bits.TrailingZeros64(bad)/8
		}
	}
	for ; i < len(b); i++ {
		if isControl(b[i]) {
			return i
		}
	}
	return -1
}

// below sets the high bit of some byte of x when one is below 0x20, and
// of none otherwise: a borrow can flag a byte above a true one, not
// create one.
func below(x uint64) uint64 { return (x - 0x20*ones) &^ x }

// controls sets the high bit of each byte of x that is a C0 control
// character other than tab, newline and carriage return, exactly.
func controls(x uint64) uint64 {
	lt := ^(((x & low7) + 0x60*ones) | x) & high
	if lt == 0 {
		return 0
	}
	return lt &^ (zero(x^'\t'*ones) | zero(x^'\n'*ones) | zero(x^'\r'*ones))
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
	low7 = 0x7F7F7F7F7F7F7F7F
)

// zero sets the high bit of each zero byte of y, exactly: no carry passes
// from one byte to the next.
func zero(y uint64) uint64 { return ^(((y & low7) + low7) | y) & high }

func isControl(c byte) bool { return c < 0x20 && c != '\t' && c != '\n' && c != '\r' }

// appendChars appends character data to the scratch buffer, decoding
// entities, and clears *space when the raw text is not all whitespace.
// b starts at s.pos.
func (s *scanner) appendChars(b []byte, space *bool) error {
	if len(b) == 0 {
		return nil
	}
	if *space && !isSpace(b) {
		*space = false
	}
	done := 0 // bytes of b consumed, for error offsets
	for {
		a := bytes.IndexByte(b, '&')
		if a < 0 {
			s.scratch = append(s.scratch, b...)
			return nil
		}
		s.scratch = append(s.scratch, b[:a]...)
		done += a
		b = b[a:]
		semi := bytes.IndexByte(b[:min(len(b), maxEntity)], ';')
		if semi < 0 {
			return s.errorAt(s.offset()+int64(done), "'&' does not start an entity (write &amp;): %q", abbreviate(b, 12))
		}
		r, ok := decodeEntity(b[1:semi])
		if !ok {
			return s.errorAt(s.offset()+int64(done), "unknown entity %q", b[:semi+1])
		}
		s.scratch = utf8.AppendRune(s.scratch, r)
		done += semi + 1
		b = b[semi+1:]
	}
}

// decodeEntity decodes the name or character reference between '&' and
// ';'. References to characters XML does not allow are refused, except C0
// controls, which checkText reports by name.
func decodeEntity(ent []byte) (rune, bool) {
	switch string(ent) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	// XML writes hexadecimal references with a lowercase x only; the
	// digits themselves may be either case.
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*rune(base) + d
		if r > utf8.MaxRune {
			return 0, false
		}
	}
	if r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF {
		return 0, false
	}
	return r, true
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// text is textBytes as a string, counted against the record's memory.
func (s *scanner) text() (string, error) {
	b, err := s.textBytes()
	if err != nil || len(b) == 0 {
		return "", err
	}
	if err := s.checkControls(b); err != nil {
		return "", err
	}
	if err := s.keep(len(b)); err != nil {
		return "", err
	}
	return string(b), nil
}

// skip skips the rest of the element whose start tag was just read.
func (s *scanner) skip() error {
	if s.selfClose {
		return nil
	}
	return s.skipRest(len(s.stack))
}

// skipRest reads tokens until the element at the given stack depth closes.
func (s *scanner) skipRest(depth int) error {
	for len(s.stack) >= depth {
		k, err := s.next()
		if err != nil {
			return err
		}
		if k == tokEOF {
			return s.eofError()
		}
	}
	return nil
}

// child reads the next child of the element at depth (the stack length
// while inside it): it returns true with s.name set at a child's start
// tag, and false once the element's end tag has been read.
func (s *scanner) child(depth int) (bool, error) {
	k, err := s.next()
	if err != nil {
		return false, err
	}
	switch k {
	case tokStart:
		return true, nil
	case tokEnd:
		if len(s.stack) < depth {
			return false, nil
		}
		return false, s.errorf("unexpected end tag </%s>", shown([]byte(s.name), 40))
	}
	return false, s.eofError()
}

// attr returns the value of an attribute of the last start tag.
func (s *scanner) attr(name string) string {
	a := s.attrs
	for {
		i := bytes.Index(a, []byte(name))
		if i < 0 {
			return ""
		}
		before := i == 0 || isNameEnd(a[i-1])
		rest := bytes.TrimLeft(a[i+len(name):], " \t\r\n")
		if before && len(rest) > 0 && rest[0] == '=' {
			rest = bytes.TrimLeft(rest[1:], " \t\r\n")
			if len(rest) > 0 && (rest[0] == '"' || rest[0] == '\'') {
				if j := bytes.IndexByte(rest[1:], rest[0]); j >= 0 {
					return string(rest[1 : 1+j])
				}
			}
			return ""
		}
		a = a[i+len(name):]
	}
}

// finish reads past the root element to the end of the input, accepting
// only comments and whitespace there.
func (s *scanner) finish() error {
	for {
		k, err := s.next()
		if err != nil {
			return err
		}
		if k == tokEOF {
			return nil
		}
		return s.errorf("unexpected <%s> after the root element", shown([]byte(s.name), 40))
	}
}

// shown is b for a message: cut to n bytes, and escaped as in a Go string
// when it holds a control character, so that a message stays one line.
func shown(b []byte, n int) string {
	a := abbreviate(b, n)
	for i := 0; i < len(a); i++ {
		if a[i] < 0x20 || a[i] == 0x7f {
			q := strconv.Quote(a)
			return q[1 : len(q)-1]
		}
	}
	return a
}

// quote is the next n bytes of input for a message, with "…" when more
// follow, read so that it does not depend on how the input was split.
func (s *scanner) quote(n int) string {
	s.ensure(n + 1)
	return abbreviate(s.buf[s.pos:min(s.end, s.pos+n+1)], n)
}

func abbreviate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
