package qualys

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"qvt/internal/crafted"
)

const (
	kbHead  = `<?xml version="1.0" encoding="UTF-8" ?><KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2024-01-01T00:00:00Z</DATETIME><VULN_LIST><VULN><QID>105936</QID>`
	kbTail  = `</VULN></VULN_LIST></RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`
	hldHead = `<?xml version="1.0" encoding="UTF-8" ?><HOST_LIST_VM_DETECTION_OUTPUT><RESPONSE><DATETIME>2024-01-01T00:00:00Z</DATETIME><HOST_LIST><HOST><ID>4242</ID><IP>10.0.0.1</IP>`
	hldTail = `</HOST></HOST_LIST></RESPONSE></HOST_LIST_VM_DETECTION_OUTPUT>`
	detHead = hldHead + `<DETECTION_LIST><DETECTION><QID>38170</QID>`
	detTail = `</DETECTION></DETECTION_LIST>` + hldTail
)

var byteOffset = regexp.MustCompile(`^byte \d+[ :]`)

// checkRefused decodes r and checks that it fails with one short line that
// starts with a byte offset and says want, having allocated little.
func checkRefused(t *testing.T, kb bool, r io.Reader, allocs uint64, want ...string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	records := 0
	var err error
	if kb {
		_, err = DecodeKB(r, func(*Vuln) error { records++; return nil })
	} else {
		_, err = DecodeDetections(r, func(*Host) error { records++; return nil })
	}
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("accepted (%d records)", records)
	}
	msg := err.Error()
	if len(msg) >= 300 || strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line under 300 characters (%d): %.400q", len(msg), msg)
	}
	var se *SyntaxError
	var wk *WrongKindError
	switch {
	case errors.As(err, &wk):
		// The whole document is of another kind: no offset to name.
	case !errors.As(err, &se):
		t.Errorf("error %q is not a *SyntaxError", msg)
	case !byteOffset.MatchString(msg):
		t.Errorf("error does not start with a byte offset: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if records != 0 {
		t.Errorf("%d records passed on", records)
	}
	// Nothing near the size of the input is held: the crafted values are
	// just over limits of 1 MiB, the stream goes on far beyond.
	if allocs == 0 {
		allocs = 24 << 20
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > allocs {
		t.Errorf("allocated %d MiB", grew>>20)
	}
}

// Crafted documents end at the first limit they pass, with the offset,
// the place and the limit named, however much more the stream holds.
func TestLimits(t *testing.T) {
	mib := int64(1 << 20)
	diag := fmt.Sprintf("byte %d ", len(kbHead+`<DIAGNOSIS>`))
	cases := []struct {
		name   string
		kb     bool
		r      io.Reader
		want   []string
		allocs uint64 // bytes the decoder may allocate in all; 24 MiB if 0
	}{
		{"long text", true, crafted.Stream(kbHead+`<DIAGNOSIS>`, "x", mib+1, `</DIAGNOSIS>`+kbTail),
			[]string{diag, "VULN/DIAGNOSIS, qid 105936", "longer than 1048576 bytes (limit text)"}, 0},
		{"long text, endless", true, crafted.Stream(kbHead+`<DIAGNOSIS>`, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 1<<30, `</DIAGNOSIS>`+kbTail),
			[]string{"limit text"}, 0},
		{"long text with entities", true, crafted.Stream(kbHead+`<TITLE>`, "&lt;", mib+1, `</TITLE>`+kbTail),
			[]string{"VULN/TITLE", "limit text"}, 0},
		{"long CDATA", true, crafted.Stream(kbHead+`<DIAGNOSIS><![CDATA[`, "<p>", mib/3+1, `]]></DIAGNOSIS>`+kbTail),
			[]string{diag, "limit"}, 0},
		{"long results", false, crafted.Stream(detHead+`<RESULTS>`, "r", mib+1, `</RESULTS>`+detTail),
			[]string{"DETECTION/RESULTS, host 4242 qid 38170", "limit text"}, 0},
		{"long comment", false, crafted.Stream(hldHead+`<!--`, "c", mib+1, `-->`+hldTail),
			[]string{"comment longer than 1048576 bytes (limit comment)"}, 0},
		// The comment goes on for 64 MiB: only the first MiB may be read.
		{"long comment, streaming on", false, crafted.Stream(hldHead+`<!--`, "c", 64<<20, `-->`+hldTail),
			[]string{"limit comment"}, 0},
		{"long comment in text", true, crafted.Stream(kbHead+`<TITLE>a<!--`, "c", mib+1, `--></TITLE>`+kbTail),
			[]string{"limit comment"}, 0},
		{"long processing instruction", false, crafted.Stream(hldHead+`<?pi `, "c", mib+1, `?>`+hldTail),
			[]string{"limit comment"}, 0},
		{"long DOCTYPE", false, crafted.Stream(`<!DOCTYPE HOST_LIST_VM_DETECTION_OUTPUT [`, "<!ENTITY a 'b'>", 64<<10/15+1, `]>`+hldHead[38:]+hldTail),
			[]string{"byte 0: DOCTYPE longer than 65536 bytes (limit doctype)"}, 0},
		{"long tag name", false, crafted.Stream(hldHead+`<`, "N", 4<<10+1, `/>`+hldTail),
			[]string{"tag longer than 4096 bytes (limit tag)"}, 0},
		{"long attributes", false, crafted.Stream(hldHead+`<X`, ` a="1"`, 4<<10/6+1, `/>`+hldTail),
			[]string{"limit tag"}, 0},
		{"deep nesting", false, crafted.Stream(hldHead, "<N>", 1<<24, ""),
			[]string{"(in …/N/N/N/N, host 4242)", "nested more than 64 deep (limit depth)"}, 0},
		{"deep nesting, truncated", false, crafted.Stream(hldHead, "<NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN>", 50, ""),
			[]string{"(in …/" + strings.Repeat("N", 32) + "…, host 4242)", "incomplete"}, 0},
		// The slice of detections grows in steps: more is allocated than held.
		{"too many detections", false, crafted.Stream(hldHead+`<DETECTION_LIST>`, "<DETECTION/>", 32<<20/512+1, `</DETECTION_LIST>`+hldTail),
			[]string{"host 4242", "limit record"}, 160 << 20},
		{"escape character", false, crafted.Stream(detHead+`<RESULTS>`, "ok", 1, "\x1b[2J</RESULTS>"+detTail),
			[]string{"control character U+001B in the text of <RESULTS>"}, 0},
		{"escape character reference", false, crafted.Stream(detHead+`<RESULTS>`, "ok", 1, "&#27;[2J</RESULTS>"+detTail),
			[]string{"host 4242 qid 38170", "control character U+001B"}, 0},
		{"NUL reference", true, crafted.Stream(kbHead+`<TITLE>`, "ok", 1, "&#0;</TITLE>"+kbTail),
			[]string{"qid 105936", "control character U+0000 in the text of <TITLE>"}, 0},
		{"NUL in CDATA", true, crafted.Stream(kbHead+`<DIAGNOSIS><![CDATA[`, "ok", 1, "\x00]]></DIAGNOSIS>"+kbTail),
			[]string{"control character U+0000"}, 0},
		{"unknown entity", true, crafted.Stream(kbHead+`<TITLE>`, "a", 1, "&bogus;</TITLE>"+kbTail),
			[]string{`unknown entity "&bogus;"`}, 0},
		{"bare ampersand", true, crafted.Stream(kbHead+`<TITLE>`, "a", 1, "&b</TITLE>"+kbTail),
			[]string{`'&' does not start an entity`}, 0},
		{"uppercase X reference", true, crafted.Stream(kbHead+`<TITLE>`, "a", 1, "&#X41;</TITLE>"+kbTail),
			[]string{`unknown entity "&#X41;"`}, 0},
		{"status", false, crafted.Stream(detHead+`<STATUS>`, "Open", 1, `</STATUS>`+detTail),
			[]string{`host 4242 qid 38170`, `STATUS "Open" is not New, Active, Re-Opened or Fixed`}, 0},
		{"type", false, crafted.Stream(detHead+`<TYPE>`, "Sure", 1, `</TYPE>`+detTail),
			[]string{`TYPE "Sure" is not Confirmed, Potential or Info`}, 0},
		{"port", false, crafted.Stream(detHead+`<PORT>`, "65536", 1, `</PORT>`+detTail),
			[]string{`PORT 65536 is not a port (0-65535)`}, 0},
		{"negative port", false, crafted.Stream(detHead+`<PORT>`, "-1", 1, `</PORT>`+detTail),
			[]string{`PORT -1 is not a port`}, 0},
		{"address", false, crafted.Stream(hldHead+`<IPV6>`, "10.0.0.256", 1, `</IPV6>`+hldTail),
			[]string{`host 4242`, `IPV6 "10.0.0.256" is not an IP address`}, 0},
		{"long root name", false, crafted.Stream(`<`, "R", 4000, `></`+strings.Repeat("R", 4000)+`>`),
			[]string{"root element is <RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR…>"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRefused(t, c.kb, c.r, c.allocs, c.want...) })
	}
}

// Values at the limits, and the forms real data has, pass.
func TestLimitsAccept(t *testing.T) {
	mib := int64(1 << 20)
	var got *Vuln
	_, err := DecodeKB(crafted.Stream(kbHead+`<DIAGNOSIS>`, "x", mib, `</DIAGNOSIS><TITLE>a&#9;b&#10;c&#13;d&#xD;&#127;</TITLE>`+kbTail), func(v *Vuln) error { got = v; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Diagnosis) != 1<<20 || got.Title != "a\tb\nc\rd\r\x7f" {
		t.Errorf("diagnosis of %d bytes, title %q", len(got.Diagnosis), got.Title)
	}
	var h *Host
	_, err = DecodeDetections(strings.NewReader(hldHead[:len(hldHead)-len(`<IP>10.0.0.1</IP>`)]+`<IP>10.1.2.3</IP><IPV6>2001:db8::1</IPV6><DETECTION_LIST>`+
		`<DETECTION><QID>1</QID><TYPE>Confirmed</TYPE><PORT>65535</PORT><STATUS>Re-Opened</STATUS></DETECTION>`+
		`<DETECTION><QID>2</QID><TYPE>Info</TYPE><PORT>0</PORT><STATUS>Fixed</STATUS></DETECTION>`+
		`<DETECTION><QID>3</QID><TYPE>Potential</TYPE><STATUS>New</STATUS></DETECTION>`+
		`<DETECTION><QID>4</QID><STATUS>Active</STATUS></DETECTION>`+
		`</DETECTION_LIST>`+hldTail), func(x *Host) error { h = x; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if h.IP != "10.1.2.3" || h.IPv6 != "2001:db8::1" || len(h.Detections) != 4 || h.Detections[0].Port != 65535 {
		t.Errorf("host = %+v", h)
	}
	// Limits can be raised (or lowered) per decode.
	lim := Limits{Text: 2 << 20}
	if _, err := lim.DecodeKB(crafted.Stream(kbHead+`<DIAGNOSIS>`, "x", mib+1, `</DIAGNOSIS>`+kbTail), func(*Vuln) error { return nil }); err != nil {
		t.Errorf("with a 2 MiB text limit: %v", err)
	}
	lim = Limits{Depth: 5}
	if _, err := lim.DecodeKB(strings.NewReader(kbHead+`<X></X>`+kbTail), func(*Vuln) error { return nil }); err != nil {
		t.Errorf("5 deep with a depth limit of 5: %v", err)
	}
	if _, err := lim.DecodeKB(strings.NewReader(kbHead+`<X><Y></Y></X>`+kbTail), func(*Vuln) error { return nil }); err == nil || !strings.Contains(err.Error(), "nested more than 5 deep") {
		t.Errorf("6 deep with a depth limit of 5: %v", err)
	}
}

// controlIndex finds the first C0 control character but tab, newline and
// carriage return at every position of a word, among any other bytes.
func TestControlIndex(t *testing.T) {
	filler := []byte("a\t\n\r \x7f\x80\xff\x1f\x20\x9f\xa0")
	for n := 0; n < 40; n++ {
		for pos := -1; pos < n; pos++ {
			for c := 0; c < 0x20; c++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = filler[(i*7+n)%len(filler)]
					if isControl(b[i]) {
						b[i] = 'x'
					}
				}
				want := -1
				if pos >= 0 {
					b[pos] = byte(c)
					if isControl(byte(c)) {
						want = pos
					}
				}
				if got := controlIndex(b); got != want {
					t.Fatalf("controlIndex(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}
