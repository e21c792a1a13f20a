package qualys

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// tight are limits small enough for fuzzed inputs to reach every one.
var tight = Limits{Text: 64, Tag: 48, Comment: 32, CDATA: 48, Doctype: 96, Depth: 7, Record: 2048, Path: 2}

// decodeDoc decodes data as a KB or detection document under lim, reading
// it through r, and returns the records it passed on, printed.
func decodeDoc(kb bool, lim Limits, r io.Reader) (string, error) {
	var out strings.Builder
	var resp Response
	var err error
	if kb {
		resp, err = lim.DecodeKB(r, func(v *Vuln) error {
			if v.QID <= 0 {
				return fmt.Errorf("vuln with QID %d passed on", v.QID)
			}
			fmt.Fprintf(&out, "%+v\n", *v)
			return nil
		})
	} else {
		resp, err = lim.DecodeDetectionsTimed(r, func(dt string, h *Host) error {
			if h.ID <= 0 {
				return fmt.Errorf("host with ID %d passed on", h.ID)
			}
			fmt.Fprintf(&out, "%s %+v\n", dt, *h)
			return nil
		})
	}
	fmt.Fprintf(&out, "%+v", resp)
	if resp.Warning != nil {
		fmt.Fprintf(&out, "%+v", *resp.Warning)
	}
	return out.String(), err
}

// splitReader returns 1 to max bytes a read, in a pattern drawn from the
// input itself, so that every tag, entity and CDATA delimiter falls across
// a read somewhere.
type splitReader struct {
	data []byte
	max  int
	i    int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + (int(r.data[0])+r.i*7)%r.max
	r.i++
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// fuzzDecode checks a decoder on data: no panic; an error is one short
// line naming an offset inside the input; the same records and error
// however the input is split into reads; and under tight limits either
// the same result or an error that names the limit.
func fuzzDecode(t *testing.T, kb bool, data []byte) {
	want, err := decodeDoc(kb, Limits{}, bytes.NewReader(data))
	if err != nil {
		checkError(t, err, len(data))
	}
	for _, max := range []int{1, 3, 17} {
		got, err2 := decodeDoc(kb, Limits{}, &splitReader{data: data, max: max})
		if got != want || fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Fatalf("reads of 1 to %d bytes give\n%s\n%v\nwhole reads give\n%s\n%v", max, got, err2, want, err)
		}
	}
	got, err3 := decodeDoc(kb, tight, bytes.NewReader(data))
	if err3 != nil {
		checkError(t, err3, len(data))
	}
	switch {
	case err3 == nil && (err != nil || got != want):
		t.Fatalf("tight limits give\n%s\ndefault limits\n%s\n%v", got, want, err)
	case err3 != nil && err == nil && !strings.Contains(err3.Error(), "(limit "):
		t.Fatalf("tight limits give %v, not a limit", err3)
	}
}

func checkError(t *testing.T, err error, size int) {
	t.Helper()
	msg := err.Error()
	if msg == "" || len(msg) >= 300 || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error is not one line under 300 characters: %q", msg)
	}
	var se *SyntaxError
	var wk *WrongKindError
	var ae *APIError
	switch {
	case errors.As(err, &se):
		if se.Offset < 0 || se.Offset > int64(size) {
			t.Fatalf("offset %d outside the %d-byte input: %v", se.Offset, size, err)
		}
	case errors.As(err, &wk), errors.As(err, &ae):
	default:
		t.Fatalf("error %v (%T) is neither a SyntaxError, a WrongKindError nor an APIError", err, err)
	}
}

func FuzzDecodeDetections(f *testing.F) {
	for _, name := range []string{"hld_demisto_2hosts.xml", "hld_jupiterone.xml", "hld_qds_factors.xml", "simple_return_1905.xml"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`<HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><HOST_LIST><HOST><ID>1</ID><DETECTION_LIST><DETECTION><QID>1</QID><RESULTS>a&amp;<![CDATA[b]]></RESULTS></DETECTION></DETECTION_LIST></HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`))
	f.Add([]byte(detHead + "<RESULTS> \n<![CDATA[x]]> <!-- c --> y&#xAB;&apos;</RESULTS><STATUS>Fixed</STATUS><PORT>80</PORT>" + detTail))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, false, data) })
}

func FuzzDecodeKB(f *testing.F) {
	for _, name := range []string{"kb_demisto_2qids.xml", "kb_jupiterone_42qids.xml"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(kbHead + "<TITLE>a &lt;&#233;&#x263a;&#xAB;&apos;</TITLE><DIAGNOSIS>\n <![CDATA[<p>]]>\n</DIAGNOSIS>" + kbTail))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, true, data) })
}

// markup matches the comments and CDATA sections the differential target
// places in field text; encoding/xml refuses "--" inside a comment.
var markup = regexp.MustCompile(`(?s)<!--(?:[^-]|-[^-])*-->|<!\[CDATA\[.*?\]\]>`)

// FuzzTextDifferential puts fuzzed text, with entities, character
// references, CDATA sections and comments, in the fields the decoders read
// and checks the values against encoding/xml: the same text, or both
// refuse it. Known differences are left out of the comparison: qvt keeps
// carriage returns as sent (XML turns them into newlines), does not check
// UTF-8, accepts "]]>" and the noncharacters U+FFFE and U+FFFF in text,
// and refuses a reference to a surrogate (&#xD800;), which XML does not
// allow and encoding/xml reads as U+FFFD. Where a CDATA section is present, qvt drops the whitespace-only
// runs of character data around it; the reference does the same.
func FuzzTextDifferential(f *testing.F) {
	for _, s := range []string{"plain", "a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;", "&#233;&#xE9;&#xe9;&#x263A;&#X41;",
		"&bogus;", "a&b", "&#0;", "&#27;[2J", "\x1b", "tab\tnew\nline", "  <![CDATA[<p>x</p>]]>\n ", "a<!-- c -->b",
		" <!-- c --> <![CDATA[x]]> y ", "&#xD800;", "&#xFFFD;", "&#x10FFFF;", "&#x110000;", "&#", "&#x;", "&amp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if !utf8.ValidString(text) || strings.ContainsAny(text, "\r\uFFFE\uFFFF") || len(text) > 4096 {
			t.Skip("a known difference")
		}
		rest := markup.ReplaceAllString(text, "")
		if strings.Contains(rest, "<") || strings.Contains(rest, "]]>") {
			t.Skip("markup other than comments and CDATA sections")
		}
		surrogate := surrogateRef(rest)
		// Free text (text) and a trimmed value (trimmed) in each document.
		kb := kbHead + "<TITLE>" + text + "</TITLE><SUPPORTED_MODULES>" + text + "</SUPPORTED_MODULES>" + kbTail
		var v *Vuln
		_, err := DecodeKB(strings.NewReader(kb), func(x *Vuln) error { v = x; return nil })
		title, refErr := reference(kb, "TITLE", surrogate)
		compare(t, "TITLE", err, refErr, func() string { return v.Title }, title)
		compare(t, "SUPPORTED_MODULES", err, refErr, func() string { return v.SupportedModules }, strings.TrimSpace(title))

		hld := detHead + "<RESULTS>" + text + "</RESULTS>" + detTail
		var h *Host
		_, err = DecodeDetections(strings.NewReader(hld), func(x *Host) error { h = x; return nil })
		results, refErr := reference(hld, "RESULTS", surrogate)
		compare(t, "RESULTS", err, refErr, func() string { return h.Detections[0].Results }, results)
	})
}

func compare(t *testing.T, field string, err, refErr error, got func() string, want string) {
	t.Helper()
	switch {
	case err != nil && refErr != nil:
	case err != nil:
		t.Fatalf("%s: qvt refuses (%v), encoding/xml reads %q", field, err, want)
	case refErr != nil:
		t.Fatalf("%s: qvt reads %q, encoding/xml refuses (%v)", field, got(), refErr)
	case got() != want:
		t.Fatalf("%s: qvt reads %q, encoding/xml %q", field, got(), want)
	}
}

var charRef = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)

// surrogateRef reports whether text holds a reference to a surrogate.
func surrogateRef(text string) bool {
	for _, m := range charRef.FindAllStringSubmatch(text, -1) {
		var n int64
		var err error
		if strings.HasPrefix(m[1], "x") {
			n, err = strconv.ParseInt(m[1][1:], 16, 64)
		} else {
			n, err = strconv.ParseInt(m[1], 10, 64)
		}
		if err == nil && n >= 0xD800 && n <= 0xDFFF {
			return true
		}
	}
	return false
}

// reference is the text of the element named field by encoding/xml, with
// qvt's rule for whitespace around CDATA sections; refuse makes it refuse
// the document.
func reference(doc, field string, refuse bool) (string, error) {
	if refuse {
		return "", errors.New("refused")
	}
	d := xml.NewDecoder(strings.NewReader(doc))
	type seg struct {
		text         string
		cdata, space bool
	}
	var segs []seg
	in := false
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			in = tok.Name.Local == field
		case xml.EndElement:
			in = false
		case xml.CharData:
			if in {
				raw := doc[before:d.InputOffset()]
				segs = append(segs, seg{string(tok), strings.HasPrefix(raw, "<![CDATA["), strings.Trim(raw, " \t\r\n") == ""})
			}
		}
	}
	cdata := false
	for _, s := range segs {
		cdata = cdata || s.cdata
	}
	var b strings.Builder
	for _, s := range segs {
		if !(cdata && s.space && !s.cdata) {
			b.WriteString(s.text)
		}
	}
	return b.String(), nil
}
