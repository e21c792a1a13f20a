// Package doctor tells a new installation what is wrong before its first
// nightly run: the effective configuration and where each value came
// from, the store, Qualys, NVD, the KEV and EPSS feeds and each configured
// publish target. Probes do the I/O (and never write anything anywhere);
// pure judges turn what they found into checks, each ok, warn or fail with
// its fix.
package doctor

import (
	"fmt"
	"io"
	"strings"
)

// Level is how a check came out.
type Level int

// Levels, from best to worst.
const (
	OK Level = iota
	Warn
	Fail
)

func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "FAIL"
}

// Check is one line of the report.
type Check struct {
	Level   Level
	Area    string // config, store, qualys, nvd, kev, epss, mysql, jira, assets
	Message string
	Fix     string // what to do; empty when there is nothing to do
}

func ok(area, format string, args ...any) Check {
	return Check{Level: OK, Area: area, Message: fmt.Sprintf(format, args...)}
}

func warn(area, fix, format string, args ...any) Check {
	return Check{Level: Warn, Area: area, Message: fmt.Sprintf(format, args...), Fix: fix}
}

func fail(area, fix, format string, args ...any) Check {
	return Check{Level: Fail, Area: area, Message: fmt.Sprintf(format, args...), Fix: fix}
}

// Report is the checks in the order they ran.
type Report struct {
	Checks []Check
}

// Add appends checks.
func (r *Report) Add(c ...Check) { r.Checks = append(r.Checks, c...) }

// Count is the number of checks at level l.
func (r *Report) Count(l Level) int {
	n := 0
	for _, c := range r.Checks {
		if c.Level == l {
			n++
		}
	}
	return n
}

// ANSI colours of the level words on a terminal.
var colours = map[Level]string{OK: "\x1b[32m", Warn: "\x1b[33m", Fail: "\x1b[1;31m"}

// Write prints one line per check, aligned: the level word (ok, warn,
// FAIL), the area, the message; a fix goes on the next line, under the
// message. Colour marks the level word only when colour is true (a
// terminal). A last line counts the levels.
func (r *Report) Write(w io.Writer, colour bool) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Area))
	}
	var sb strings.Builder
	indent := strings.Repeat(" ", 4+2+width+2)
	for _, c := range r.Checks {
		word := fmt.Sprintf("%-4s", c.Level)
		if colour {
			word = colours[c.Level] + word + "\x1b[0m"
		}
		fmt.Fprintf(&sb, "%s  %-*s  %s\n", word, width, c.Area, oneLine(c.Message))
		if c.Fix != "" {
			fmt.Fprintf(&sb, "%sfix: %s\n", indent, oneLine(c.Fix))
		}
	}
	fmt.Fprintf(&sb, "%d ok, %d %s, %d failed\n", r.Count(OK), r.Count(Warn), plural(r.Count(Warn), "warning", "warnings"), r.Count(Fail))
	_, err := io.WriteString(w, sb.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// oneLine keeps a message on its line and reading as it is: servers'
// answers and error texts can hold newlines, control characters and
// bidirectional overrides.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return ' '
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidirectional overrides
			return '?'
		}
		return r
	}, s)
}
