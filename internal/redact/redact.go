// Package redact removes secrets from what qvt prints: log lines, error
// messages, a driver's errors.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// String removes secrets from what qvt prints (log lines, error
// messages) in the places a secret can stand, not wherever its text
// happens to occur: a password "demo" must not turn "demo: sync: ..."
// into "[REDACTED]: sync: ...", which is unreadable and tells the
// password to anyone who knows the message. The places:
//
//   - the password of a URL's user information (https://user:PASSWORD@host);
//   - the password of a MySQL DSN (user:PASSWORD@tcp(host)/db);
//   - the value of an Authorization, Proxy-Authorization, apiKey or
//     X-API-Key header, after its scheme (Basic, Bearer, ...);
//   - the value of a credential parameter (password, passwd, pwd, apiKey,
//     api_key, token, access_token, secret, client_secret) in a query
//     string, a form body or JSON: password=..., "token":"...";
//   - a configured secret standing as a value: right after "=", or as the
//     whole of a quoted string ("demo"), as a server's error quoting the
//     request would show it.
//
// A configured secret of minLongSecret characters or more is also
// replaced wherever it occurs: text that long equal to a random password
// or key is that secret, and no readable message is lost to it.
const minLongSecret = 12

// Mark stands for what was removed.
const Mark = "[REDACTED]"

var (
	// scheme://user:password@
	urlUserinfo = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s/?#@:]*:([^\s/?#@]*)@`)
	// user:password@tcp(...), user:password@/db: the password runs to the
	// last @ before the network, as the MySQL driver reads it.
	dsnPassword = regexp.MustCompile(`[\w.\-]+:(\S*?)@(?:\w*\(|/)`)
	// Authorization: Basic xxx, apiKey: xxx, map[Authorization:[Bearer xxx]]
	authHeader = regexp.MustCompile(`(?i)\b(?:authorization|proxy-authorization|apikey|x-api-key)["']?[ \t]*[:=][ \t]*\[?["']?(?:(?:basic|bearer|token|digest|negotiate)[ \t]+)?(` + value + `)`)
	// password=xxx, &apiKey=xxx, "token": "xxx"
	credParam = regexp.MustCompile(`(?i)(?:^|[?&;\s"'{,(\[])(?:password|passwd|pwd|api_?key|access_token|token|secret|client_secret)(?:=|["'][ \t]*:[ \t]*["']?)(` + value + `)`)
)

// value is a header's or parameter's value: up to a separator of what
// holds it (a query, a header list, JSON, a sentence). It does not start
// with "[": that is a value already redacted.
const value = `[^\s"',;&\[\]{}()<>][^\s"',;&\]{}()<>]*`

// String removes the secrets from s in the places listed above; a
// password or key of s's own kind (a URL's, a DSN's, a header's, a
// parameter's) is removed without being listed.
func String(s string, secrets []string) string {
	for _, re := range []*regexp.Regexp{urlUserinfo, dsnPassword, authHeader, credParam} {
		s = replaceGroup(re, s)
	}
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		if len(sec) >= minLongSecret {
			s = strings.ReplaceAll(s, sec, Mark)
			if esc := url.QueryEscape(sec); esc != sec {
				s = strings.ReplaceAll(s, esc, Mark)
			}
			continue
		}
		s = redactValue(s, sec)
	}
	return s
}

// replaceGroup replaces the first group of each match of re with the
// redaction mark. A value's trailing ":" or "." is the sentence's, as in
// "GET /x?apiKey=abc: 403", and stays.
func replaceGroup(re *regexp.Regexp, s string) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		from, to := m[2], m[3]
		for to > from && (s[to-1] == ':' || s[to-1] == '.') {
			to--
		}
		if to == from {
			continue
		}
		b.WriteString(s[last:from])
		b.WriteString(Mark)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// redactValue replaces sec where it stands as a whole value: after "="
// up to the end of the value, or as the whole of a quoted string.
func redactValue(s, sec string) string {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, sec)
		if i < 0 {
			break
		}
		end := i + len(sec)
		var prev, next byte
		if i > 0 {
			prev = rest[i-1]
		}
		if end < len(rest) {
			next = rest[end]
		}
		asValue := prev == '=' && !valueByte(next)
		quoted := (prev == '"' || prev == '\'') && next == prev
		b.WriteString(rest[:i])
		if asValue || quoted {
			b.WriteString(Mark)
		} else {
			b.WriteString(sec)
		}
		rest = rest[end:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(rest)
	return b.String()
}

// valueByte tells whether c continues a value (so the secret found is only
// the start of another value).
func valueByte(c byte) bool {
	switch {
	case c == 0:
		return false
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-_.~+/%!$*@:", c) >= 0
}
