package doctor

import (
	"bytes"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPermissions(t *testing.T) {
	for _, c := range []struct {
		mode  uint32
		level Level
		who   string
	}{
		{0o600, OK, ""},
		{0o400, OK, ""},
		{0o700, OK, ""},
		{0o640, Warn, "its group"},
		{0o604, Warn, "other users"},
		{0o644, Warn, "group and other users"},
		{0o660, Warn, "its group"},
		{0o602, Warn, "other users"}, // writable by others is no better
	} {
		got := Permissions("store", "store", "/var/lib/qvt/qvt.db", exploitable, fsMode(c.mode))
		if got.Level != c.level {
			t.Errorf("%04o: level %s, want %s (%s)", c.mode, got.Level, c.level, got.Message)
			continue
		}
		if c.level == Warn {
			if got.Fix != "chmod 600 /var/lib/qvt/qvt.db" || !strings.Contains(got.Message, c.who+" can read it") {
				t.Errorf("%04o: %q, fix %q", c.mode, got.Message, got.Fix)
			}
		} else if got.Fix != "" {
			t.Errorf("%04o: a fix for a private file: %q", c.mode, got.Fix)
		}
	}
	// A path with spaces is quoted in the fix.
	if got := Permissions("store", "store", "/srv/my store's/qvt.db", exploitable, fsMode(0o644)); got.Fix != `chmod 600 '/srv/my store'\''s/qvt.db'` {
		t.Errorf("fix %q", got.Fix)
	}
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestRateLimits(t *testing.T) {
	for _, c := range []struct {
		name  string
		h     http.Header
		level Level
		msg   string
	}{
		{"standard", header("X-RateLimit-Limit", "300", "X-RateLimit-Window-Sec", "3600", "X-RateLimit-Remaining", "299", "X-Concurrency-Limit-Limit", "2"),
			OK, "rate limit 300 calls per 1h (299 left), concurrency limit 2"},
		{"old concurrency name", header("X-RateLimit-Limit", "2000", "X-RateLimit-Window-Sec", "86400", "X-ConcurrencyLimit-Limit", "5"),
			OK, "rate limit 2000 calls per 24h, concurrency limit 5"},
		{"spent", header("X-RateLimit-Limit", "300", "X-RateLimit-Window-Sec", "3600", "X-RateLimit-Remaining", "0", "X-RateLimit-ToWait-Sec", "90", "X-Concurrency-Limit-Limit", "2"),
			Warn, "the calls of this window are spent"},
		{"one at a time", header("X-RateLimit-Limit", "300", "X-Concurrency-Limit-Limit", "1"),
			Warn, "concurrency limit 1: qvt makes one call at a time"},
		{"none", header(), Warn, "reports no rate or concurrency limit"},
		{"garbage", header("X-RateLimit-Limit", "many"), Warn, "reports no rate or concurrency limit"},
	} {
		got := RateLimits(c.h)
		if got.Level != c.level || !strings.Contains(got.Message, c.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, got.Level, got.Message, c.level, c.msg)
		}
		if c.name == "spent" && got.Fix != "wait 1m30s, or find what else spends the subscription's calls" {
			t.Errorf("spent: fix %q", got.Fix)
		}
	}
}

func TestClockSkew(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		date  string
		found bool
		level Level
		msg   string
	}{
		{now.Format(http.TimeFormat), true, OK, "within 1s"},
		{now.Add(-4 * time.Minute).Format(http.TimeFormat), true, OK, "within 4m"},
		{now.Add(5 * time.Minute).Format(http.TimeFormat), true, OK, "within 5m"},
		{now.Add(-5*time.Minute - time.Second).Format(http.TimeFormat), true, Warn, "is 5m1s ahead of Qualys's"},
		{now.Add(2 * time.Hour).Format(http.TimeFormat), true, Warn, "is 2h behind Qualys's"},
		{"", false, OK, ""},
		{"yesterday", false, OK, ""},
	} {
		got, found := ClockSkew("qualys", "Qualys", c.date, now)
		if found != c.found {
			t.Errorf("%q: found %v", c.date, found)
			continue
		}
		if found && (got.Level != c.level || !strings.Contains(got.Message, c.msg)) {
			t.Errorf("%q: %s %q, want %s containing %q", c.date, got.Level, got.Message, c.level, c.msg)
		}
	}
}

func TestMissingPrivileges(t *testing.T) {
	all := MySQLPrivileges
	for _, c := range []struct {
		name   string
		grants []string
		db     string
		want   []string
	}{
		{"root", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, "vulns", nil},
		{"usage only", []string{"GRANT USAGE ON *.* TO `qvt`@`%` IDENTIFIED BY PASSWORD '*ABC'"}, "vulns", all},
		{"nothing", nil, "vulns", all},
		{"all on the database", []string{"GRANT USAGE ON *.* TO `qvt`@`%`", "GRANT ALL PRIVILEGES ON `vulns`.* TO `qvt`@`%`"}, "vulns", nil},
		{"read and write, no DDL", []string{"GRANT USAGE ON *.* TO 'qvt'@'%'", "GRANT SELECT, INSERT, UPDATE, DELETE ON `vulns`.* TO 'qvt'@'%'"},
			"vulns", []string{"CREATE", "ALTER", "INDEX", "CREATE TEMPORARY TABLES"}},
		{"everything listed", []string{"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES ON `vulns`.* TO `qvt`@`%`"}, "vulns", nil},
		{"another database", []string{"GRANT ALL PRIVILEGES ON `other`.* TO `qvt`@`%`"}, "vulns", all},
		{"one table does not cover the tables qvt creates", []string{"GRANT ALL PRIVILEGES ON `vulns`.`qvt_findings` TO `qvt`@`%`"}, "vulns", all},
		{"column privileges do not count", []string{"GRANT SELECT (a, b), INSERT ON `vulns`.* TO `qvt`@`%`"}, "vulns",
			[]string{"SELECT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "CREATE TEMPORARY TABLES"}},
		{"wildcard pattern", []string{"GRANT ALL ON `vuln%`.* TO `qvt`@`%`"}, "vulns", nil},
		{"escaped underscore", []string{"GRANT ALL PRIVILEGES ON `qvt\\_db`.* TO `qvt`@`%`"}, "qvt_db", nil},
		{"escaped underscore is not a wildcard", []string{"GRANT ALL PRIVILEGES ON `qvt\\_db`.* TO `qvt`@`%`"}, "qvtxdb", all},
		{"lower case and spacing", []string{"grant select, insert, update, delete, create, alter, index,  create   temporary tables on `vulns`.* to `qvt`@`%`"}, "vulns", nil},
		{"database name with a dot", []string{"GRANT ALL PRIVILEGES ON `a.b`.* TO `qvt`@`%`"}, "a.b", nil},
		{"role grant", []string{"GRANT `publisher` TO `qvt`@`%`"}, "vulns", all},
		{"privileges split over lines", []string{"GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO `qvt`@`%`", "GRANT CREATE, ALTER, INDEX, CREATE TEMPORARY TABLES ON `vulns`.* TO `qvt`@`%`"}, "vulns", nil},
	} {
		got := MissingPrivileges(c.grants, c.db)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: missing %v, want %v", c.name, got, c.want)
		}
	}
}

func TestHasRoles(t *testing.T) {
	for _, c := range []struct {
		grants []string
		want   bool
	}{
		{[]string{"GRANT USAGE ON *.* TO `qvt`@`%`", "GRANT `publisher` TO `qvt`@`%`"}, true},
		{[]string{"GRANT publisher TO 'qvt'@'%'"}, true},
		{[]string{"GRANT `publisher`@`%` TO `qvt`@`%`"}, true},
		{[]string{"GRANT USAGE ON *.* TO `qvt`@`%`", "GRANT ALL PRIVILEGES ON `vulns`.* TO `qvt`@`%`"}, false},
		{[]string{"GRANT SELECT, INSERT ON `vulns`.* TO `qvt`@`%`"}, false},
		{nil, false},
	} {
		if got := HasRoles(c.grants); got != c.want {
			t.Errorf("%q: %v, want %v", c.grants, got, c.want)
		}
	}
}

func TestGrantStatement(t *testing.T) {
	got := GrantStatement([]string{"CREATE", "CREATE TEMPORARY TABLES"}, "vulns", "qvt@10.0.%")
	if want := "GRANT CREATE, CREATE TEMPORARY TABLES ON `vulns`.* TO 'qvt'@'10.0.%';"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := GrantStatement([]string{"SELECT"}, "we`ird", "o'brien@localhost"); got != "GRANT SELECT ON `we``ird`.* TO 'o''brien'@'localhost';" {
		t.Errorf("quoting: %s", got)
	}
}

func TestNVDAnswer(t *testing.T) {
	const u = "https://services.nvd.nist.gov/rest/json/cves/2.0"
	for _, c := range []struct {
		name    string
		status  int
		message string
		key     bool
		level   Level
		msg     string
	}{
		{"key accepted", 200, "", true, OK, "API key is accepted: 50 requests per 30 s"},
		{"no key", 200, "", false, Warn, "without an API key: NVD allows 5 requests per 30 s: a first full sync takes about 20 minutes"},
		{"key rejected", 404, "Invalid apiKey", true, Fail, "NVD refused the API key"},
		{"throttled", 403, "", false, Warn, "NVD throttles this address"},
		{"throttled with a key", 403, "", true, Warn, "NVD throttles this address"},
		{"down", 503, "", true, Warn, "HTTP 503"},
		{"wrong URL", 404, "", false, Fail, "HTTP 404 Not Found"},
	} {
		got := NVDAnswer(c.status, c.message, c.key, u)
		if got.Level != c.level || !strings.Contains(got.Message, c.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, got.Level, got.Message, c.level, c.msg)
		}
		if got.Level != OK && got.Fix == "" {
			t.Errorf("%s: no fix", c.name)
		}
	}
}

func TestReportWrite(t *testing.T) {
	r := &Report{}
	r.Add(ok("config", "db = qvt.db (default)"),
		warn("store", "chmod 600 qvt.db", "store qvt.db: mode 0644"),
		fail("qualys", "check QUALYS_USERNAME/QUALYS_PASSWORD", "refused\nthe \x1b[31mcredentials\u202e"))
	var plain, colour bytes.Buffer
	if err := r.Write(&plain, false); err != nil {
		t.Fatal(err)
	}
	want := "ok    config  db = qvt.db (default)\n" +
		"warn  store   store qvt.db: mode 0644\n" +
		"              fix: chmod 600 qvt.db\n" +
		"FAIL  qualys  refused the  [31mcredentials?\n" +
		"              fix: check QUALYS_USERNAME/QUALYS_PASSWORD\n" +
		"1 ok, 1 warning, 1 failed\n"
	if plain.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", plain.String(), want)
	}
	r.Write(&colour, true)
	if !strings.Contains(colour.String(), "\x1b[1;31mFAIL\x1b[0m  qualys") || strings.Count(colour.String(), "\x1b[") != 6 {
		t.Errorf("colour:\n%q", colour.String())
	}
}

func fsMode(m uint32) fs.FileMode { return fs.FileMode(m) }
