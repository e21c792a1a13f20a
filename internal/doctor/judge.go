package doctor

import (
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Permissions judges the mode of a file holding what is exploitable, or
// secrets (why says which): anyone but its owner able to read or write it
// is a warning.
func Permissions(area, what, path, why string, mode fs.FileMode) Check {
	perm := mode.Perm()
	if perm&0o077 == 0 {
		return ok(area, "%s %s: mode %04o, its owner's only", what, path, perm)
	}
	who := "group and other users"
	switch {
	case perm&0o070 == 0:
		who = "other users"
	case perm&0o007 == 0:
		who = "its group"
	}
	return warn(area, "chmod 600 "+shellQuote(path),
		"%s %s: mode %04o: %s can read it (%s)", what, path, perm, who, why)
}

// shellQuote quotes a path for a command to copy, when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// headerInt is the first of the named headers that holds an integer, or
// -1.
func headerInt(h http.Header, names ...string) int {
	for _, n := range names {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Get(n))); err == nil && v >= 0 {
			return v
		}
	}
	return -1
}

// RateLimits judges the limits a Qualys answer reports: the calls per
// window (X-RateLimit-Limit, X-RateLimit-Window-Sec), what is left of them
// and the calls at once (X-Concurrency-Limit-Limit).
func RateLimits(h http.Header) Check {
	limit := headerInt(h, "X-RateLimit-Limit")
	window := headerInt(h, "X-RateLimit-Window-Sec")
	left := headerInt(h, "X-RateLimit-Remaining")
	wait := headerInt(h, "X-RateLimit-ToWait-Sec")
	conc := headerInt(h, "X-Concurrency-Limit-Limit", "X-ConcurrencyLimit-Limit")
	if limit < 0 && conc < 0 {
		return warn("qualys", "if a proxy stands between, let it pass the X-RateLimit-* and X-Concurrency-Limit-* headers",
			"the answer reports no rate or concurrency limit: qvt then makes one call at a time")
	}
	var parts []string
	if limit >= 0 {
		p := fmt.Sprintf("rate limit %d calls", limit)
		if window > 0 {
			p += " per " + duration(time.Duration(window)*time.Second)
		}
		if left >= 0 {
			p += fmt.Sprintf(" (%d left)", left)
		}
		parts = append(parts, p)
	}
	if conc >= 0 {
		parts = append(parts, fmt.Sprintf("concurrency limit %d", conc))
	}
	msg := strings.Join(parts, ", ")
	switch {
	case left == 0:
		fix := "wait for the window to pass, or find what else spends the subscription's calls"
		if wait > 0 {
			fix = fmt.Sprintf("wait %s, or find what else spends the subscription's calls", duration(time.Duration(wait)*time.Second))
		}
		return warn("qualys", fix, "%s: the calls of this window are spent: a sync now waits", msg)
	case conc == 1:
		return warn("qualys", "ask Qualys support to raise the subscription's concurrency limit",
			"%s: qvt makes one call at a time and any other tool of the subscription makes it wait", msg)
	}
	return ok("qualys", "%s", msg)
}

// maxSkew is the clock difference tolerated.
const maxSkew = 5 * time.Minute

// ClockSkew judges this machine's clock against a server's Date header,
// received at now. It reports false when the header is absent or
// unreadable.
func ClockSkew(area, server, date string, now time.Time) (Check, bool) {
	t, err := http.ParseTime(date)
	if err != nil {
		return Check{}, false
	}
	skew := now.Sub(t)
	d := skew.Abs().Round(time.Second)
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	if skew.Abs() <= maxSkew {
		return ok(area, "this machine's clock agrees with %s's (within %s)", server, duration(max(d, time.Second))), true
	}
	return warn(area, "keep this machine's clock synchronised (NTP: timedatectl set-ntp true)",
		"this machine's clock is %s %s %s's: sync runs record this machine's time, the APIs filter by theirs", duration(d), dir, server), true
}

// MySQLPrivileges are what qvt's MySQL publisher needs on its database.
var MySQLPrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX", "CREATE TEMPORARY TABLES"}

var grantLine = regexp.MustCompile(`(?i)^GRANT\s+(.+?)\s+ON\s+(?:(?:TABLE|FUNCTION|PROCEDURE|PACKAGE(?:\s+BODY)?)\s+)?(\S+)\s+TO\s`)

// MissingPrivileges reads the lines of SHOW GRANTS and returns the
// privileges of MySQLPrivileges that they do not give on database db, in
// that order. Only grants on *.* and on the database (db.*, or a pattern
// that matches it) count: a grant on one table does not cover the tables
// qvt creates.
func MissingPrivileges(grants []string, db string) []string {
	have := map[string]bool{}
	for _, g := range grants {
		m := grantLine.FindStringSubmatch(strings.TrimSpace(g))
		if m == nil || !grantCovers(m[2], db) {
			continue
		}
		for _, p := range splitPrivileges(m[1]) {
			p = strings.ToUpper(strings.Join(strings.Fields(p), " "))
			if p == "ALL" || p == "ALL PRIVILEGES" {
				for _, q := range MySQLPrivileges {
					have[q] = true
				}
			}
			have[p] = true
		}
	}
	var missing []string
	for _, p := range MySQLPrivileges {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	return missing
}

var roleGrant = regexp.MustCompile("(?i)^GRANT\\s+[`'\"]?[^\\s,]+[`'\"]?(?:@\\S+)?\\s+TO\\s")

// HasRoles tells whether the lines of SHOW GRANTS give the user roles,
// whose privileges SHOW GRANTS does not list.
func HasRoles(grants []string) bool {
	return slices.ContainsFunc(grants, func(g string) bool {
		g = strings.TrimSpace(g)
		return roleGrant.MatchString(g) && !grantLine.MatchString(g)
	})
}

// splitPrivileges splits "SELECT, INSERT (a, b), UPDATE" at the commas
// outside parentheses; column privileges (with a list) are dropped.
func splitPrivileges(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) {
			switch s[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		p := strings.TrimSpace(s[start:i])
		start = i + 1
		if p != "" && !strings.Contains(p, "(") {
			out = append(out, p)
		}
	}
	return out
}

// grantCovers tells whether a grant's object (*.*, `db`.*, `db`.`table`)
// covers every table of database db.
func grantCovers(object, db string) bool {
	if object == "*.*" || object == "*" {
		return true
	}
	name, rest, found := strings.Cut(object, ".")
	if strings.HasPrefix(object, "`") {
		// A quoted name may hold dots: find the closing quote.
		i := 1
		for i < len(object) {
			if object[i] == '`' {
				if i+1 < len(object) && object[i+1] == '`' {
					i += 2
					continue
				}
				break
			}
			i++
		}
		if i >= len(object) {
			return false
		}
		name = strings.ReplaceAll(object[1:i], "``", "`")
		rest, found = strings.CutPrefix(object[i+1:], ".")
	}
	if !found || rest != "*" {
		return false
	}
	return likeMatch(name, db)
}

// likeMatch matches s against a grant's database pattern: % any run, _
// any character, \ escapes (a database named qvt_db is granted as
// qvt\_db).
func likeMatch(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	var match func(i, j int) bool
	match = func(i, j int) bool {
		for i < len(p) {
			switch c := p[i]; {
			case c == '%':
				for k := j; k <= len(r); k++ {
					if match(i+1, k) {
						return true
					}
				}
				return false
			case c == '_':
				if j >= len(r) {
					return false
				}
			case c == '\\' && i+1 < len(p):
				i++
				if j >= len(r) || r[j] != p[i] {
					return false
				}
			default:
				if j >= len(r) || r[j] != c {
					return false
				}
			}
			i++
			j++
		}
		return j == len(r)
	}
	return match(0, 0)
}

// GrantStatement is the statement that gives user (as CURRENT_USER()
// names it, user@host) the privileges missing on db.
func GrantStatement(missing []string, db, user string) string {
	name, host, _ := strings.Cut(user, "@")
	if host == "" {
		host = "%"
	}
	quoteID := func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
	quoteStr := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	return fmt.Sprintf("GRANT %s ON %s.* TO %s@%s;", strings.Join(missing, ", "), quoteID(db), quoteStr(name), quoteStr(host))
}

// NVD rate limits: requests per rolling 30 seconds.
const (
	nvdRequestsWithoutKey = 5
	nvdRequestsWithKey    = 50
)

// NVDAnswer judges NVD's answer to one request: its status, its message
// header, and whether an API key was sent.
func NVDAnswer(status int, message string, keySet bool, url string) Check {
	switch {
	case status == http.StatusOK && keySet:
		return ok("nvd", "%s answers; the API key is accepted: %d requests per 30 s", url, nvdRequestsWithKey)
	case status == http.StatusOK:
		return warn("nvd", "request a key at https://nvd.nist.gov/developers/request-an-api-key and set NVD_API_KEY",
			"%s answers, without an API key: NVD allows %d requests per 30 s: a first full sync takes about 20 minutes", url, nvdRequestsWithoutKey)
	case keySet && (status == http.StatusNotFound || status == http.StatusForbidden || status == http.StatusUnauthorized) &&
		strings.Contains(strings.ToLower(message), "apikey"):
		return fail("nvd", "check NVD_API_KEY (nvd.api_key), or request a new key at https://nvd.nist.gov/developers/request-an-api-key",
			"NVD refused the API key: HTTP %d %s", status, message)
	case status == http.StatusForbidden || status == http.StatusTooManyRequests:
		return warn("nvd", "wait a minute and run qvt doctor again; with an API key NVD allows ten times more",
			"NVD throttles this address now (HTTP %d)", status)
	case status >= 500:
		return warn("nvd", "NVD is often unavailable for a while: try again later (a sync retries on its own)",
			"%s: HTTP %d %s", url, status, message)
	}
	return fail("nvd", "check NVD_API_URL (nvd.api_url): the CVE API 2.0 is https://services.nvd.nist.gov/rest/json/cves/2.0",
		"%s: HTTP %d %s", url, status, strings.TrimSpace(http.StatusText(status)+" "+message))
}

// secretKeys are the configuration keys whose values are never shown.
var secretKeys = []string{"password", "token", "api_key", "secret", "passwd"}

// isSecretKey tells whether a configuration key path names a secret.
func isSecretKey(path string) bool {
	last := path[strings.LastIndex(path, ".")+1:]
	return slices.ContainsFunc(secretKeys, func(k string) bool { return strings.Contains(strings.ToLower(last), k) })
}

// duration prints d without the zero units Go's String keeps: 1h, 1h30m,
// 90s is 1m30s.
func duration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
