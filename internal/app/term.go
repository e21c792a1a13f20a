package app

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// terminalSafe returns s with what a terminal would act on, rather than
// show, written as an escape: C0 and C1 control characters other than
// those in keep, DEL, the bidirectional embeddings, overrides, isolates
// and marks (which reorder what follows them: a hostname could make an
// error read backwards), and bytes that are not UTF-8. Text qvt prints
// that comes from files and servers (titles, hostnames, tags, values
// quoted in errors) goes through it.
func terminalSafe(s, keep string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case (r < 0x20 || r == 0x7f) && !strings.ContainsRune(keep, r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, bidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// bidi tells the Unicode bidirectional formatting characters.
func bidi(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
