package mysql

import (
	"strings"
	"testing"
)

// A short password is removed where a password stands, and the words of
// a message equal to it stay: "qvt" is also the user, the database and
// the start of the table names.
func TestRedactShortPassword(t *testing.T) {
	const dsn = "qvt:qvt@tcp(db.example.com:3306)/qvt"
	for _, c := range []struct{ in, want string }{
		{"Error 1146 (42S02): Table 'qvt.qvt_findings' doesn't exist", "Error 1146 (42S02): Table 'qvt.qvt_findings' doesn't exist"},
		{"mysql: qvt_findings_runs: lock wait timeout", "mysql: qvt_findings_runs: lock wait timeout"},
		{"cannot open qvt:qvt@tcp(db.example.com:3306)/qvt", "cannot open qvt:[REDACTED]@tcp(db.example.com:3306)/qvt"},
		{"bad value of password=qvt", "bad value of password=[REDACTED]"},
		{`server said: unknown credential "qvt"`, `server said: unknown credential "[REDACTED]"`},
	} {
		if got := redact(c.in, dsn); got != c.want {
			t.Errorf("redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	// The driver's own message, through New: a password that is a word of
	// it leaves it whole.
	_, err := New(Config{DSN: "qvt:database@tcp(db.example.com:3306)"})
	if err == nil || !strings.Contains(err.Error(), "missing the slash separating the database name") {
		t.Errorf("New with the password %q: %v", "database", err)
	}
}

// A long password is removed wherever it occurs.
func TestRedactLongPassword(t *testing.T) {
	const pw = "Zq7-vR2kLx9w!"
	dsn := "qvt:" + pw + "@tcp(db.example.com:3306)/vulns"
	for _, c := range []struct{ in, want string }{
		{"login as qvt with " + pw + " refused", "login as qvt with [REDACTED] refused"},
		{"cannot open " + dsn, "cannot open qvt:[REDACTED]@tcp(db.example.com:3306)/vulns"},
		{"Table 'vulns.qvt_findings' doesn't exist", "Table 'vulns.qvt_findings' doesn't exist"},
	} {
		got := redact(c.in, dsn)
		if got != c.want {
			t.Errorf("redact(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if strings.Contains(got, pw) {
			t.Errorf("redact(%q) kept the password: %q", c.in, got)
		}
	}
}

// EPSS values are written with the five decimals of their column (and
// of the FIRST file): 1.2e-04 is 0.00012; dates that are not dates are
// NULL rather than a refused row.
func TestFractionAndDate(t *testing.T) {
	for _, c := range []struct {
		in   *float64
		want string
	}{
		{nil, `\N`}, {ptr(1.2e-04), "0.00012"}, {ptr(0.23456), "0.23456"}, {ptr(1), "1.00000"}, {ptr(1.5), "1.00000"}, {ptr(-0.1), "0.00000"},
	} {
		var e tsv
		e.fraction(c.in)
		if got := string(e[:len(e)-1]); got != c.want {
			t.Errorf("fraction(%v) = %q, want %q", c.in, got, c.want)
		}
	}
	for in, want := range map[string]string{"2025-03-01": "2025-03-01", "": `\N`, "2025-3-1": `\N`, "2025-03-01T00:00:00Z": `\N`, "abcd-ef-gh": `\N`} {
		var e tsv
		e.date(in)
		if got := string(e[:len(e)-1]); got != want {
			t.Errorf("date(%q) = %q, want %q", in, got, want)
		}
	}
}

func ptr(f float64) *float64 { return &f }
