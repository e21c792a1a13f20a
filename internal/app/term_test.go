package app

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"qvt/internal/store"
)

func TestTerminalSafe(t *testing.T) {
	for _, tc := range []struct{ in, keep, want string }{
		{"plain text: 10.0.0.1", "", "plain text: 10.0.0.1"},
		{"héllo wörld", "", "héllo wörld"},
		{"\x1b]0;owned\x07title", "", `\x1b]0;owned\x07title`},
		{"\x1b[2J\x1b[H", "", `\x1b[2J\x1b[H`},
		{"a\nb\tc\rd", "", `a\x0ab\x09c\x0dd`},
		{"a\nb\tc\rd", "\n\t", "a\nb\tc\\x0dd"},
		{"evil\u202egnp.exe", "", `evil\u202egnp.exe`},
		{"\u2066x\u2069 \u200f \u061c", "", `\u2066x\u2069 \u200f \u061c`},
		{"c1 \u009b31m", "", `c1 \u009b31m`},
		{"del\x7f bad\xff utf8", "", `del\x7f bad\xff utf8`},
	} {
		if got := terminalSafe(tc.in, tc.keep); got != tc.want {
			t.Errorf("terminalSafe(%q, %q) = %q, want %q", tc.in, tc.keep, got, tc.want)
		}
	}
}

// qvt history shows a hostile title, hostname or value as text.
func TestHistoryEscapes(t *testing.T) {
	var buf bytes.Buffer
	writeLife(&buf, store.Life{Key: "10.0.0.1:1:0", Hostname: "host\u202eexe.txt", Title: "Title\x1b]0;owned\x07\nforged line",
		Status: "Active", Changes: []store.Change{{At: 1, Event: "status", Old: "New", New: "Act\x1b[31mive"}}})
	out := buf.String()
	for _, bad := range []string{"\x1b", "\x07", "\u202e", "\nforged"} {
		if strings.Contains(out, bad) {
			t.Errorf("history prints %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{`Title\x1b]0;owned\x07\x0aforged line`, `host\u202eexe.txt`, `Act\x1b[31mive`} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}
}

// An error naming a value from the command line or a file escapes it.
func TestErrorEscapes(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "kb\x1b[2J\u202e.xml")
	code, _, errs := qvt(t, nil, "--db", filepath.Join(dir, "qvt.db"), "import", name)
	if code != ExitFailure || strings.Contains(errs, "\x1b") || strings.Contains(errs, "\u202e") || !strings.Contains(errs, `kb\x1b[2J\u202e.xml`) {
		t.Errorf("exit %d: %q", code, errs)
	}
	code, _, errs = qvt(t, nil, "--db", filepath.Join(dir, "qvt.db"), "export", "--tag", "x", "--status", "op\x1b[8men")
	if code != ExitUsage || strings.Contains(errs, "\x1b") {
		t.Errorf("exit %d: %q", code, errs)
	}
}
