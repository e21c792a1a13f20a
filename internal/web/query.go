package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/finding"
)

// Query is a findings list request as the URL carries it: a filter, an
// order and a page. Its zero value is the default view: open findings,
// most severe first.
type Query struct {
	Status  string   // a finding.StatusFilters name: open (default, ""), closed, all, a state
	Ratings []string // vuln_score values; none means any
	Due     string   // "", "overdue" (open, past the deadline), "week" (open, due in the next 7 days)
	Host    string   // host id, address or name
	QID     int      // 0: any
	QIDs    []int    // any of these QIDs, ascending (a plan row's: qids=1,2); none means any
	CVE     string   // findings whose QID lists this CVE
	Tag     string   // findings on hosts with this Qualys tag
	Text    string   // text in the title, case-insensitive
	// Exploitation evidence and priority, as qvt export --priority, --kev
	// and --min-epss select them (docs/priority.md).
	Priorities []string // P1 … P4, in that order; none means any
	KEV        bool     // only findings whose QID lists a CVE in CISA's KEV catalog
	MinEPSS    *float64 // only findings whose QID's highest EPSS score is at least this
	// Who fixes it and what is accepted (docs: owners and exceptions).
	Owners   []string // findings of these owners ("" for none: ?owner=none); none means any
	Excepted string   // "": any; "1": only those an active exception covers; "0": only those none covers
	Sort     string   // rating (default, ""), deadline, host, priority (most urgent first)
	Desc     bool     // reverse the order
	After    *Cursor  // the page after this row
	Before   *Cursor  // the page before this row
	Limit    int      // rows per page; 0 means 100
	Start    int      // the position of the page's first row, carried by the pager's links for the "101–200" line; 0: unknown
}

// Statuses a list can select, in the order the filter form shows them:
// those of qvt export --status, which selects the same findings.
var statusChoices = finding.StatusFilters

// Sorts the list offers. There is no order by QID: detections_qid holds
// Info detections too (an index that tests `type` would be rewritten by
// every import's upsert), and walking past them costs a table read each.
var sortChoices = []string{"rating", "deadline", "host", "priority"}

// priorityOrder is the order of the priority sort: P1 first; "" stands
// for a finding not yet prioritized (a store the priority rules have not
// run on), last.
var priorityOrder = []string{"P1", "P2", "P3", "P4", ""}

// ratingOrder is the order of the rating sort: most severe first; ""
// stands for a finding without a rating.
var ratingOrder = []string{"Critical", "High", "Medium", "Low", "None", ""}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

var cveRe = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// ParseQuery reads a list request from URL parameters. Unknown
// parameters are ignored; a bad value of a known one is an error that
// names it.
func ParseQuery(v url.Values) (Query, error) {
	var q Query
	var errs []error
	bad := func(name, val, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: want %s", name, val, want))
	}
	if s := strings.TrimSpace(v.Get("status")); s != "" {
		// A comma-separated list, as qvt export --status takes.
		var states []string
		all := false
		for part := range strings.SplitSeq(s, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			name, ok := finding.ParseStatusFilter(part)
			if !ok {
				bad("status", strings.TrimSpace(part), strings.Join(statusChoices, ", "))
				continue
			}
			sel := finding.FilterStates(name)
			all = all || sel == nil
			states = append(states, sel...)
		}
		q.Status = statusName(states, all)
	}
	if q.Status == "open" {
		q.Status = ""
	}
	for _, raw := range v["rating"] {
		for r := range strings.SplitSeq(raw, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			i := finding.RatingRank(r)
			if i < 0 {
				bad("rating", r, strings.Join(finding.Ratings, ", "))
				continue
			}
			if !slices.Contains(q.Ratings, finding.Ratings[i]) {
				q.Ratings = append(q.Ratings, finding.Ratings[i])
			}
		}
	}
	slices.SortFunc(q.Ratings, func(a, b string) int { return finding.RatingRank(b) - finding.RatingRank(a) })
	switch d := strings.ToLower(strings.TrimSpace(v.Get("due"))); d {
	case "", "overdue", "week":
		q.Due = d
	default:
		bad("due", d, "overdue or week")
	}
	q.Host = strings.TrimSpace(v.Get("host"))
	if s := strings.TrimSpace(v.Get("qid")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			bad("qid", s, "a QID number")
		}
		q.QID = n
	}
	if s := strings.TrimSpace(v.Get("qids")); s != "" {
		for part := range strings.SplitSeq(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil || n <= 0 {
				bad("qids", part, "QID numbers separated by commas")
				continue
			}
			q.QIDs = append(q.QIDs, n)
		}
		slices.Sort(q.QIDs)
		q.QIDs = slices.Compact(q.QIDs)
		if len(q.QIDs) > 1000 {
			bad("qids", s[:20]+"…", "at most 1,000 QIDs")
		}
	}
	if s := strings.ToUpper(strings.TrimSpace(v.Get("cve"))); s != "" {
		if !cveRe.MatchString(s) {
			bad("cve", s, "a CVE id such as CVE-2024-3094")
		}
		q.CVE = s
	}
	q.Tag = strings.TrimSpace(v.Get("tag"))
	for _, raw := range v["priority"] {
		for p := range strings.SplitSeq(raw, ",") {
			p = strings.ToUpper(strings.TrimSpace(p))
			if p == "" {
				continue
			}
			if !slices.Contains(finding.Priorities, p) {
				bad("priority", p, strings.Join(finding.Priorities, ", "))
				continue
			}
			if !slices.Contains(q.Priorities, p) {
				q.Priorities = append(q.Priorities, p)
			}
		}
	}
	slices.Sort(q.Priorities)
	switch k := strings.ToLower(strings.TrimSpace(v.Get("kev"))); k {
	case "", "0", "false", "no", "off":
	case "1", "true", "yes", "on":
		q.KEV = true
	default:
		bad("kev", k, "1 or 0")
	}
	if s := strings.TrimSpace(v.Get("min_epss")); s != "" {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || x < 0 || x > 1 || x != x {
			bad("min_epss", s, "an EPSS score from 0 to 1, e.g. 0.1")
		} else {
			q.MinEPSS = &x
		}
	}
	for _, raw := range v["owner"] {
		o := strings.TrimSpace(raw)
		if o == "" {
			continue
		}
		if strings.EqualFold(o, "none") {
			o = ""
		}
		if len(o) > 200 {
			bad("owner", o[:20]+"…", "an owner's name")
			continue
		}
		if !slices.Contains(q.Owners, o) {
			q.Owners = append(q.Owners, o)
		}
	}
	slices.Sort(q.Owners)
	switch e := strings.ToLower(strings.TrimSpace(v.Get("excepted"))); e {
	case "", "any":
	case "1", "true", "yes", "on":
		q.Excepted = "1"
	case "0", "false", "no", "off":
		q.Excepted = "0"
	default:
		bad("excepted", e, "1 (only excepted findings) or 0 (none excepted)")
	}
	q.Text = strings.TrimSpace(v.Get("q"))
	if len(q.Text) > 200 {
		bad("q", q.Text[:20]+"…", "at most 200 characters")
	}
	if s := strings.ToLower(strings.TrimSpace(v.Get("sort"))); s != "" {
		if !slices.Contains(sortChoices, s) {
			bad("sort", s, strings.Join(sortChoices, ", "))
		}
		q.Sort = s
	}
	if q.Sort == "rating" {
		q.Sort = ""
	}
	switch d := strings.ToLower(v.Get("dir")); d {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		bad("dir", d, "asc or desc")
	}
	for _, p := range []struct {
		name string
		c    **Cursor
	}{{"after", &q.After}, {"before", &q.Before}} {
		if s := v.Get(p.name); s != "" {
			c, err := ParseCursor(s)
			if err != nil {
				bad(p.name, s, "a cursor from a previous page")
				continue
			}
			*p.c = &c
		}
	}
	if q.After != nil && q.Before != nil {
		errs = append(errs, errors.New("after and before: give one"))
	}
	if s := v.Get("start"); s != "" && (q.After != nil || q.Before != nil) {
		// Only says where a page is; a bad value is not worth an error.
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			q.Start = n
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > maxLimit {
			bad("limit", s, fmt.Sprintf("1 to %d", maxLimit))
		}
		q.Limit = n
	}
	return q, errors.Join(errs...)
}

// statusName names the status filter that selects these states (all:
// every finding): one of statusChoices, or for another set a
// comma-separated list of them, open and closed standing for all of
// theirs.
func statusName(states []string, all bool) string {
	slices.Sort(states)
	states = slices.Compact(states)
	has := func(set []string) bool {
		for _, st := range set {
			if !slices.Contains(states, st) {
				return false
			}
		}
		return true
	}
	if all || has(finding.States) {
		return "all"
	}
	var names []string
	open, closed := has(finding.OpenStatuses), has(finding.ClosedReasons)
	for _, f := range statusChoices {
		switch {
		case f == "open" && open, f == "closed" && closed:
			names = append(names, f)
		case slices.Contains(finding.OpenStatuses, f) && !open, slices.Contains(finding.ClosedReasons, f) && !closed:
			if slices.Contains(states, f) {
				names = append(names, f)
			}
		}
	}
	return strings.Join(names, ",")
}

// states are the finding states the query's status filter selects, nil
// for all (finding.FilterStates of each filter of the list).
func (q Query) states() []string {
	var out []string
	for part := range strings.SplitSeq(cmp.Or(q.Status, "open"), ",") {
		sel := finding.FilterStates(part)
		if sel == nil {
			return nil
		}
		out = append(out, sel...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Values encodes the query as URL parameters, leaving out defaults, so
// that a shared link says only what differs from the default view. The
// page (after, before) is included; use Filter() to leave it out.
func (q Query) Values() url.Values {
	v := url.Values{}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if len(q.Ratings) > 0 {
		v["rating"] = slices.Clone(q.Ratings)
	}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("due", q.Due)
	set("host", q.Host)
	if q.QID != 0 {
		v.Set("qid", strconv.Itoa(q.QID))
	}
	if len(q.QIDs) > 0 {
		v.Set("qids", joinInts(q.QIDs))
	}
	set("cve", q.CVE)
	set("tag", q.Tag)
	set("q", q.Text)
	if len(q.Priorities) > 0 {
		v.Set("priority", strings.Join(q.Priorities, ","))
	}
	if q.KEV {
		v.Set("kev", "1")
	}
	if q.MinEPSS != nil {
		v.Set("min_epss", strconv.FormatFloat(*q.MinEPSS, 'g', -1, 64))
	}
	for _, o := range q.Owners {
		if o == "" {
			o = "none"
		}
		v.Add("owner", o)
	}
	set("excepted", q.Excepted)
	set("sort", q.Sort)
	if q.Desc {
		v.Set("dir", "desc")
	}
	if q.After != nil {
		v.Set("after", q.After.String())
	}
	if q.Before != nil {
		v.Set("before", q.Before.String())
	}
	if q.Start > 0 && (q.After != nil || q.Before != nil) {
		v.Set("start", strconv.Itoa(q.Start))
	}
	if q.Limit != 0 && q.Limit != defaultLimit {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// Filter is the query without its page: the first page of the same view.
func (q Query) Filter() Query {
	q.After, q.Before, q.Start = nil, nil, 0
	return q
}

// Encode is the URL query string of the query.
func (q Query) Encode() string { return q.Values().Encode() }

// SortBy returns the first page of the same filter ordered by sort; the
// order is reversed when it is already the current one.
func (q Query) SortBy(sort string) Query {
	if sort == "rating" {
		sort = ""
	}
	q = q.Filter()
	if q.Sort == sort {
		q.Desc = !q.Desc
	} else {
		q.Sort, q.Desc = sort, false
	}
	return q
}

func (q Query) limit() int {
	if q.Limit <= 0 {
		return defaultLimit
	}
	return q.Limit
}

// StatusLabel names the status filter for people.
func (q Query) StatusLabel() string {
	switch q.Status {
	case "":
		return "open"
	case "all":
		return "all"
	}
	return q.Status
}

// rangesOnly tells whether the query filters on status, rating and
// deadline alone.
func (q Query) rangesOnly() bool {
	return q.Host == "" && q.Tag == "" && q.QID == 0 && len(q.QIDs) == 0 && q.CVE == "" && q.Text == "" &&
		len(q.Priorities) == 0 && !q.KEV && q.MinEPSS == nil && len(q.Owners) == 0 && q.Excepted == ""
}

// Summary names every filter in force, for the line above the list: the
// status always, then each other filter set.
func (q Query) Summary() []string {
	out := []string{q.StatusLabel()}
	if len(q.Ratings) > 0 {
		out = append(out, strings.Join(q.Ratings, ", "))
	}
	switch q.Due {
	case "overdue":
		out = append(out, "overdue")
	case "week":
		out = append(out, "due within 7 days")
	}
	if q.Host != "" {
		out = append(out, "host "+q.Host)
	}
	if q.QID != 0 {
		out = append(out, "QID "+strconv.Itoa(q.QID))
	}
	if len(q.QIDs) > 0 {
		out = append(out, "QIDs "+strings.ReplaceAll(joinInts(q.QIDs), ",", ", "))
	}
	if q.CVE != "" {
		out = append(out, q.CVE)
	}
	if q.Tag != "" {
		out = append(out, "tag "+q.Tag)
	}
	if q.Text != "" {
		out = append(out, "title contains "+strconv.Quote(q.Text))
	}
	if len(q.Priorities) > 0 {
		out = append(out, strings.Join(q.Priorities, ", "))
	}
	if q.KEV {
		out = append(out, "KEV")
	}
	if q.MinEPSS != nil {
		out = append(out, "EPSS ≥ "+strconv.FormatFloat(*q.MinEPSS, 'g', -1, 64))
	}
	if len(q.Owners) > 0 {
		names := make([]string, len(q.Owners))
		for i, o := range q.Owners {
			names[i] = cmp.Or(o, "no owner")
		}
		out = append(out, "owner "+strings.Join(names, ", "))
	}
	switch q.Excepted {
	case "1":
		out = append(out, "excepted")
	case "0":
		out = append(out, "not excepted")
	}
	return out
}

// Cursor is the position of a row in every order the list offers: its
// rating, deadline and primary key, and in the priority order its
// priority, urgency and due date. A page starts after (or ends before)
// it, whatever rows were added or removed meanwhile (keyset pagination).
type Cursor struct {
	Rating   string
	Deadline string // YYYY-MM-DD, "" for none
	HostID   int64
	QID      int
	Port     int
	// Set by the priority order only (zero in the others).
	Priority string // P1 … P4, "" for none
	Urgency  int64  // priority.Urgency: higher is more urgent
	Due      string // due_date, YYYY-MM-DD, "" for none
}

func (c Cursor) String() string {
	s := c.Rating + "." + c.Deadline + "." + strconv.FormatInt(c.HostID, 10) + "." +
		strconv.Itoa(c.QID) + "." + strconv.Itoa(c.Port)
	if c.Priority != "" || c.Urgency != 0 || c.Due != "" {
		s += "." + c.Priority + "." + strconv.FormatInt(c.Urgency, 10) + "." + c.Due
	}
	return s
}

// ParseCursor reads a cursor written by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 5 && len(parts) != 8 {
		return Cursor{}, errors.New("bad cursor")
	}
	var c Cursor
	if len(parts) == 8 {
		if parts[5] != "" && !slices.Contains(finding.Priorities, parts[5]) {
			return Cursor{}, errors.New("bad cursor priority")
		}
		u, err := strconv.ParseInt(parts[6], 10, 64)
		if err != nil {
			return Cursor{}, errors.New("bad cursor urgency")
		}
		if parts[7] != "" {
			if _, err := time.Parse(time.DateOnly, parts[7]); err != nil {
				return Cursor{}, errors.New("bad cursor due date")
			}
		}
		c.Priority, c.Urgency, c.Due = parts[5], u, parts[7]
	}
	if parts[0] != "" && finding.RatingRank(parts[0]) < 0 {
		return Cursor{}, errors.New("bad cursor rating")
	}
	c.Rating = parts[0]
	if parts[1] != "" {
		if _, err := time.Parse(time.DateOnly, parts[1]); err != nil {
			return Cursor{}, errors.New("bad cursor deadline")
		}
	}
	c.Deadline = parts[1]
	var err1, err2, err3 error
	c.HostID, err1 = strconv.ParseInt(parts[2], 10, 64)
	c.QID, err2 = strconv.Atoi(parts[3])
	c.Port, err3 = strconv.Atoi(parts[4])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Cursor{}, errors.New("bad cursor key")
	}
	return c, nil
}

// joinInts writes numbers separated by commas.
func joinInts(ns []int) string {
	var sb strings.Builder
	for i, n := range ns {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(n))
	}
	return sb.String()
}
