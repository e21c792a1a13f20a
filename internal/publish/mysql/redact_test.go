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
