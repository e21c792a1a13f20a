package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// The encoder must agree with encoding/json on every string: what it
// writes must decode back to the same text (invalid UTF-8 to U+FFFD).
func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "é☺𝄞", "\u2028\u2029", "bad\xffutf8", "<script>&</script>"} {
		got := String(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: decodes to %q, want %q", s, back, wantBack)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("a\"b\\c\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(String(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q: %q != %q", s, back, wantBack)
		}
	})
}

func TestHelpers(t *testing.T) {
	if got := string(Strings(nil, nil)); got != "[]" {
		t.Errorf("empty = %s", got)
	}
	if got := string(Strings(nil, []string{"a", "b\""})); got != `["a","b\""]` {
		t.Errorf("strings = %s", got)
	}
	for f, want := range map[float64]string{7.8: "7.8", 10: "10.0", 0: "0.0", 7.6000000001: "7.6"} {
		if got := string(Score(nil, f)); got != want {
			t.Errorf("Score(%v) = %s", f, got)
		}
	}
	var o Object
	o.Field("id", "2")
	o.Field("text", "Exploit_Public")
	if got := string(o.Close()); got != `{"id":"2","text":"Exploit_Public"}` {
		t.Errorf("object = %s", got)
	}
}

// stringBodyByte is StringBody one byte at a time, as it was before its
// word-at-a-time scan: the two must write the same bytes.
func stringBodyByte(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// Every byte that needs a look, at every position of a word and across
// word boundaries, between runs of plain text.
func TestStringBodyWordScan(t *testing.T) {
	specials := []string{"\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "\u2028", "\xff", " ", "~"}
	for _, sp := range specials {
		for pos := 0; pos < 20; pos++ {
			for _, n := range []int{0, 7, 8, 9, 16, 23} {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n)
				got, want := StringBody(nil, s), stringBodyByte(nil, s)
				if string(got) != string(want) {
					t.Errorf("%q: %q, want %q", s, got, want)
				}
			}
		}
	}
}

func FuzzStringBodyWordScan(f *testing.F) {
	f.Add("plain text that runs past a word \"then\" a quote\nand é")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := StringBody(nil, s), stringBodyByte(nil, s); string(got) != string(want) {
			t.Fatalf("%q: %q, want %q", s, got, want)
		}
	})
}

// Text shaped like KB diagnoses and detection results: long runs of
// plain ASCII with a few newlines and quotes.
func BenchmarkStringBody(b *testing.B) {
	s := strings.Repeat("The remote host is running a version of OpenSSH that is affected by \"regreSSHion\".\n", 40)
	b.SetBytes(int64(len(s)))
	buf := make([]byte, 0, 2*len(s))
	for b.Loop() {
		buf = StringBody(buf[:0], s)
	}
}
