package web

import (
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"qvt/internal/finding"
)

// funcs are the template functions. Each returns text that html/template
// escapes for its context; only kb returns HTML, sanitized.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"asset":    s.assetURL,
		"kb":       s.kbHTML,
		"num":      num,
		"pct":      pct,
		"score":    scoreText,
		"days":     func(d float64) string { return strconv.FormatFloat(d, 'f', 1, 64) },
		"date":     func(t time.Time) string { return dateText(t) },
		"seconds":  durationText,
		"portText": portText,
		"when":     whenText,
		"rclass":   func(r string) string { return "r-" + strings.ToLower(cmpOr(r, "unrated")) },
		"pclass":   func(p string) string { return "p-" + strings.ToLower(cmpOr(p, "none")) },
		"epss":     epssText,
		"pctl":     percentileText,
		"qds":      qdsText,
		"hasPrio":  func(q Query, p string) bool { return slices.Contains(q.Priorities, p) },
		"prios":    func() []string { return finding.Priorities },
		"minEPSS": func(q Query) string {
			if q.MinEPSS == nil {
				return ""
			}
			return strconv.FormatFloat(*q.MinEPSS, 'g', -1, 64)
		},
		"joinNames": func(s []string) string { return strings.Join(s, ", ") },
		"rowURL":    rowURL,
		"sub1":      func(a, b int) int { return a - b },
		"planURL":   planURL,
		"qidList":   joinInts,
		"p12": func(cs []Count) int {
			n := 0
			for _, c := range cs {
				if c.Name == "P1" || c.Name == "P2" {
					n += c.Count
				}
			}
			return n
		},
		"lower": strings.ToLower,
		"ownerText": func(q Query) string {
			if len(q.Owners) != 1 {
				return ""
			}
			return cmpOr(q.Owners[0], "none")
		},
		"ownerName": func(o string) string { return cmpOr(o, "none") },
		"ownerURL":  ownerURL,
		"exceptURL": exceptFindingURL,
		"deref":     func(p *int) int { return *p },
		"excID":     func(name string) string { return strings.TrimPrefix(name, "EXC-") },
		"finding":   findingURL,
		"jira":      s.jiraURL,
		"sortURL":   func(base string, q Query, name string) string { return base + "?" + q.SortBy(name).Encode() },
		"sortMark": func(q Query, name string) string {
			if cmpOr(q.Sort, "rating") != name {
				return ""
			}
			if q.Desc {
				return "▼"
			}
			return "▲"
		},
		"pageURL": func(base string, q Query, after, before *Cursor, start int) string {
			return base + "?" + pageQuery(q, after, before, start).Encode()
		},
		"firstURL":  func(base string, q Query) string { return withQuery(base, q.Filter().Encode()) },
		"exportURL": func(format string, q Query) string { return withQuery("/findings."+format, q.Filter().Encode()) },
		"shareURL":  func(q Query) string { return withQuery("/findings", q.Filter().Encode()) },
		"flink": func(kv ...string) string {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Add(kv[i], kv[i+1])
			}
			return withQuery("/findings", v.Encode())
		},
		"hasRating":  func(q Query, r string) bool { return slices.Contains(q.Ratings, r) },
		"statuses":   func() []string { return statusChoices },
		"ratings":    func() []string { return []string{"Critical", "High", "Medium", "Low", "None"} },
		"sorts":      func() []string { return sortChoices },
		"sortLabel":  sortLabel,
		"isSort":     func(q Query, name string) bool { return cmpOr(q.Sort, "rating") == name },
		"statusOpt":  func(q Query, st string) bool { return (q.Status == "" && st == "open") || q.Status == st },
		"statusList": func(q Query) bool { return strings.Contains(q.Status, ",") }, // status=New,gone: an option of its own
		"qidText":    func(q int) string { return pick(q == 0, "", strconv.Itoa(q)) },
		"add":        func(a, b int) int { return a + b },
		"sub":        func(a, b float64) float64 { return a - b },
		"div":        func(a, b float64) float64 { return a / b },
		"neg":        func(a int) int { return -a },
		"event":      eventText,
		"closedText": closedText,
		"list":       func(v ...any) []any { return v },
		"dict": func(kv ...any) (map[string]any, error) {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				k, ok := kv[i].(string)
				if !ok {
					return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
				}
				m[k] = kv[i+1]
			}
			return m, nil
		},
	}
}

func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

func sortLabel(name string) string {
	switch name {
	case "rating":
		return "Rating, then deadline"
	case "deadline":
		return "Deadline"
	case "host":
		return "Host"
	case "priority":
		return "Priority (most urgent first)"
	}
	return name
}

// epssText writes an EPSS score as the chance it is: 0.23456 is
// "23.5%", a score under 0.1% keeps two significant digits ("0.042%").
func epssText(p *float64) string {
	if p == nil {
		return "–"
	}
	v := *p * 100
	if v > 0 && v < 0.1 {
		return strconv.FormatFloat(v, 'g', 2, 64) + "%"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// percentileText writes an EPSS percentile as "97th percentile".
func percentileText(p *float64) string {
	if p == nil {
		return ""
	}
	n := int(*p * 100)
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix + " percentile"
}

// qdsText writes a QDS, "–" for none.
func qdsText(q *int) string {
	if q == nil {
		return "–"
	}
	return strconv.Itoa(*q)
}

// num writes a count with thousands separators: 1,234,567.
func num(n int) string { return humanize.Comma(int64(n)) }

// portText writes a finding's port and protocol; a finding of the host
// as a whole (port 0) has no port: "—".
func portText(port int, protocol string) string {
	if port == 0 {
		return "—"
	}
	if protocol == "" {
		return strconv.Itoa(port)
	}
	return strconv.Itoa(port) + "/" + protocol
}

// durationText writes a length in seconds for people: seconds below a
// minute, minutes below an hour, then hours.
func durationText(sec float64) string {
	switch {
	case sec < 1:
		return "under a second"
	case sec < 60:
		return strconv.Itoa(int(sec)) + " s"
	case sec < 3600:
		return strconv.FormatFloat(sec/60, 'f', 1, 64) + " min"
	}
	return strconv.FormatFloat(sec/3600, 'f', 1, 64) + " h"
}

func pct(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" }

func scoreText(f *float64) string {
	if f == nil {
		return "–"
	}
	return strconv.FormatFloat(*f, 'f', 1, 64)
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format(time.DateOnly)
}

// whenText writes a time for people: a time.Time, a Unix time or an RFC
// 3339 string (*string for the contract's optional times).
func whenText(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case int64:
		if x > 0 {
			t = time.Unix(x, 0)
		}
	case *string:
		if x != nil {
			t, _ = time.Parse(time.RFC3339, *x)
		}
	case string:
		t, _ = time.Parse(time.RFC3339, x)
	}
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func closedText(c string) string {
	switch c {
	case "":
		return "open"
	case "fixed":
		return "closed: fixed"
	case "gone":
		return "closed: no longer reported"
	}
	return "closed: " + c
}

func eventText(it TimelineItem) string {
	switch it.Kind {
	case "status", "rating", "deadline":
		return fmt.Sprintf("%s: %s → %s", it.What, cmpOr(it.Old, "none"), cmpOr(it.New, "none"))
	case "reopened":
		return "Reopened (was " + it.Old + ")"
	case "priority", "due":
		t := fmt.Sprintf("%s: %s → %s", it.What, cmpOr(it.Old, "none"), cmpOr(it.New, "none"))
		if it.Cause != "" {
			t += " (" + it.Cause + ")"
		}
		return t
	}
	return it.What
}

// jiraURL is the link to an issue, "" when no Jira URL is configured.
func (s *Server) jiraURL(key string) string {
	if s.cfg.JiraURL == "" || key == "" {
		return ""
	}
	return s.cfg.JiraURL + "/browse/" + url.PathEscape(key)
}
