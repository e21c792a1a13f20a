package jsonenc

import (
	"encoding/json"
	"testing"
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
