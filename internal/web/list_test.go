package web

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// oracleRow is a finding as the brute-force oracle sees it.
type oracleRow struct {
	Cursor
	status, closed, title, ip, host string
	tags                            []string
	cves                            []string
	kev                             bool
	epss                            *float64
	owner, excUntil                 string
	excID                           int64
}

// in is the row's cursor in an order: the priority fields are the
// priority order's only.
func (r oracleRow) in(sort string) Cursor {
	c := r.Cursor
	if sort != "priority" {
		c.Priority, c.Urgency, c.Due = "", 0, ""
	}
	return c
}

// loadOracle reads every finding in the simplest way.
func loadOracle(t *testing.T, db *sql.DB) []oracleRow {
	t.Helper()
	rows, err := db.Query(`SELECT d.host_id, d.qid, d.port, d.vuln_score, d.breach_date, d.status, d.closed,
  COALESCE(k.title, ''), h.ip, h.ipv6, h.dns, h.fqdn, h.netbios, COALESCE(k.cves, '[]'),
  d.priority, d.urgency, d.due_date, COALESCE(r.kev, 0), r.epss, d.owner, d.exception_id, d.excepted_until
FROM detections d JOIN hosts h ON h.id = d.host_id LEFT JOIN kb_vulns k ON k.qid = d.qid
LEFT JOIN qid_risk r ON r.qid = d.qid WHERE d.type <> 'Info'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tags := map[int64][]string{}
	trows, err := db.Query("SELECT host_id, name FROM host_tags")
	if err != nil {
		t.Fatal(err)
	}
	for trows.Next() {
		var id int64
		var name string
		if err := trows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		tags[id] = append(tags[id], name)
	}
	if err := trows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []oracleRow
	for rows.Next() {
		var r oracleRow
		var ipv6, dns, fqdn, netbios, cves string
		var kev int
		var epss sql.NullFloat64
		if err := rows.Scan(&r.HostID, &r.QID, &r.Port, &r.Rating, &r.Deadline, &r.status, &r.closed, &r.title,
			&r.ip, &ipv6, &dns, &fqdn, &netbios, &cves, &r.Priority, &r.Urgency, &r.Due, &kev, &epss,
			&r.owner, &r.excID, &r.excUntil); err != nil {
			t.Fatal(err)
		}
		r.kev = kev != 0
		if epss.Valid {
			r.epss = &epss.Float64
		}
		if r.ip == "" {
			r.ip = ipv6
		}
		r.host = strings.Join([]string{strconv.FormatInt(r.HostID, 10), r.ip, ipv6, strings.ToLower(dns), strings.ToLower(fqdn), strings.ToLower(netbios)}, "\x00")
		r.tags = tags[r.HostID]
		r.cves = strings.Split(strings.Trim(cves, `[]`), ",")
		for i := range r.cves {
			r.cves[i] = strings.Trim(r.cves[i], `"`)
		}
		out = append(out, r)
	}
	return out
}

// oracleList is the list of a query, its filter and sort written out
// plainly over every finding.
func oracleList(all []oracleRow, q Query, today time.Time) []Cursor {
	var want []Cursor
	for _, r := range all {
		if oracleMatch(q, r, today) {
			want = append(want, r.in(q.Sort))
		}
	}
	slices.SortFunc(want, func(a, b Cursor) int {
		if q.Desc {
			return compareKeys(q.Sort, b, a)
		}
		return compareKeys(q.Sort, a, b)
	})
	return want
}

// oracleMatch is the list's filter, written out plainly.
func oracleMatch(q Query, r oracleRow, today time.Time) bool {
	day := today.UTC().Format(time.DateOnly)
	soon := today.UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	// Excepted while its exception's last day is today or later: neither
	// overdue nor due soon then.
	excepted := r.excID != 0 && r.excUntil >= day
	switch q.Excepted {
	case "1":
		if !excepted {
			return false
		}
	case "0":
		if excepted {
			return false
		}
	}
	if q.Due != "" && excepted {
		return false
	}
	if len(q.Owners) > 0 && !slices.ContainsFunc(q.Owners, func(o string) bool { return strings.EqualFold(o, r.owner) }) {
		return false
	}
	var states []string // nil: all
	for part := range strings.SplitSeq(cmp.Or(q.Status, "open"), ",") {
		sel := finding.FilterStates(part)
		if sel == nil {
			states = nil
			break
		}
		states = append(states, sel...)
	}
	if states != nil && !slices.Contains(states, finding.State(r.status, r.closed)) {
		return false
	}
	if len(q.Ratings) > 0 && !slices.Contains(q.Ratings, r.Rating) {
		return false
	}
	switch q.Due {
	case "overdue":
		if r.closed != "" || r.Deadline == "" || r.Deadline >= day {
			return false
		}
	case "week":
		if r.closed != "" || r.Deadline < day || r.Deadline > soon {
			return false
		}
	}
	if q.Host != "" && !oracleHost(q.Host, r) {
		return false
	}
	if q.QID != 0 && r.QID != q.QID {
		return false
	}
	if len(q.QIDs) > 0 && !slices.Contains(q.QIDs, r.QID) {
		return false
	}
	if q.CVE != "" && !slices.Contains(r.cves, q.CVE) {
		return false
	}
	if q.Tag != "" && !slices.ContainsFunc(r.tags, func(t string) bool { return strings.EqualFold(t, q.Tag) }) {
		return false
	}
	if q.Text != "" && !strings.Contains(strings.ToLower(r.title), strings.ToLower(q.Text)) {
		return false
	}
	if len(q.Priorities) > 0 && !slices.Contains(q.Priorities, r.Priority) {
		return false
	}
	if q.KEV && !r.kev {
		return false
	}
	if q.MinEPSS != nil && (r.epss == nil || *r.epss < *q.MinEPSS) {
		return false
	}
	return true
}

// oracleHost tells whether a host filter names a finding's host: its id,
// an address, a name (any case), the first labels of its DNS or fully
// qualified name, or a network that holds an address.
func oracleHost(name string, r oracleRow) bool {
	if _, network, err := net.ParseCIDR(name); err == nil {
		f := strings.Split(r.host, "\x00")
		for _, a := range f[1:3] {
			if ip := net.ParseIP(a); ip != nil && network.Contains(ip) {
				return true
			}
		}
		return false
	}
	name = strings.ToLower(name)
	f := strings.Split(r.host, "\x00")
	if slices.Contains(f, name) {
		return true
	}
	return strings.HasPrefix(f[3], name+".") || strings.HasPrefix(f[4], name+".")
}

// plans counts the plans pageKeys saw.
var plans = map[string]int{}

// pageKeys reads every page of a query, following next (or, backwards
// from the end, prev) links, and returns the keys in list order.
func pageKeys(t *testing.T, s *Server, q Query, forceWalk, backwards bool) []Cursor {
	t.Helper()
	ctx := context.Background()
	read := func(q Query) *Page {
		tx, err := s.st.BeginRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		p, err := s.findings(ctx, tx, q, forceWalk)
		if err != nil {
			t.Fatalf("%s: %v", q.Encode(), err)
		}
		plans[p.Plan]++
		return p
	}
	var out []Cursor
	keys := func(p *Page) []Cursor {
		var ks []Cursor
		for _, r := range p.Rows {
			ks = append(ks, r.cursor(q.Sort))
		}
		return ks
	}
	if !backwards {
		for p := read(q); ; {
			out = append(out, keys(p)...)
			if p.Next == nil {
				return out
			}
			if len(out) > 100000 {
				t.Fatal("no end to the pages")
			}
			q.After = p.Next
			p = read(q)
		}
	}
	// Backwards: start after the last row, then follow prev.
	all := pageKeys(t, s, q, forceWalk, false)
	if len(all) == 0 {
		return nil
	}
	last := all[len(all)-1]
	q.Before = &last
	out = []Cursor{last}
	for p := read(q); ; {
		out = append(keys(p), out...)
		if p.Prev == nil {
			return out
		}
		q.Before = p.Prev
		p = read(q)
	}
}

// The list's pages, walked forwards and backwards, through an index or a
// sorted set, hold exactly the findings a plain filter and sort select, in
// the same order, whatever the filter, order and page size.
func TestListMatchesOracle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, _ := newServerAt(t, loc, Config{})
		all := loadOracle(t, s.st.DB())
		if len(all) < 1000 {
			t.Fatalf("fixture has %d findings; want more than 1,000 to exercise paging", len(all))
		}
		today := s.now()
		if _, err := s.Overview(context.Background()); err != nil {
			t.Fatal(err)
		}
		var tagged, titled, cve string
		var host, qid int64
		for _, r := range all {
			if len(r.tags) > 0 && tagged == "" {
				tagged = r.tags[0]
			}
			if r.closed == "" && host == 0 {
				host, qid = r.HostID, int64(r.QID)
			}
			if cve == "" && len(r.cves) > 0 && r.cves[0] != "" {
				cve = r.cves[0]
			}
		}
		titled = strings.Fields(all[0].title)[0]
		// A network, a short name and a NetBIOS name, in other cases.
		var network, short, netbios string
		for _, r := range all {
			f := strings.Split(r.host, "\x00")
			if network == "" && strings.Count(r.ip, ".") == 3 {
				network = r.ip[:strings.LastIndexByte(r.ip, '.')] + ".0/26"
			}
			if name, _, ok := strings.Cut(f[4], "."); short == "" && ok && name != "" {
				short = strings.ToUpper(name)
			}
			if netbios == "" && f[5] != "" {
				netbios = f[5]
			}
		}
		if network == "" || short == "" || netbios == "" {
			t.Fatalf("the fixture lacks a host for the host filters: %q %q %q", network, short, netbios)
		}
		filters := []string{
			"", "status=all", "status=closed", "status=Fixed", "status=Active", "status=Re-Opened", "status=New",
			"status=gone", "status=ignored", "status=disabled", "status=ignored&due=overdue", "status=disabled&rating=High",
			"status=New,gone", "status=Re-Opened,fixed,disabled", "status=open,ignored", "status=closed,Active&rating=High",
			"rating=Critical", "rating=High&rating=Low&status=all", "due=overdue", "due=week",
			"host=" + strconv.FormatInt(host, 10), "qid=" + strconv.FormatInt(qid, 10), "cve=" + cve,
			"tag=" + url.QueryEscape(tagged), "q=" + url.QueryEscape(titled), "q=zzz-nothing", "host=nowhere",
			"status=all&tag=" + url.QueryEscape(tagged) + "&rating=Medium",
			"tag=" + url.QueryEscape(strings.ToLower(tagged)), "host=" + url.QueryEscape(network), "host=" + short, "host=" + netbios,
			// Exploitation evidence and priority.
			"priority=P1", "priority=P2,P3", "priority=p4&status=all", "kev=1", "kev=1&status=all&rating=High",
			"min_epss=0.1", "min_epss=0.5&priority=P2", "status=closed&priority=P1", "due=overdue&priority=P3",
			"qids=" + strconv.FormatInt(qid, 10) + "," + strconv.Itoa(all[len(all)-1].QID),
		}
		for _, f := range filters {
			for _, sort := range sortChoices {
				for _, dir := range []string{"asc", "desc"} {
					v, _ := url.ParseQuery(f)
					v.Set("sort", sort)
					v.Set("dir", dir)
					// Small pages where the filter selects few findings,
					// larger ones elsewhere: every list crosses pages.
					v.Set("limit", "450")
					if strings.HasPrefix(f, "host=") && !strings.Contains(f, "%2F") || strings.HasPrefix(f, "qid=") || strings.HasPrefix(f, "cve=") || f == "due=week" || f == "status=Re-Opened" {
						v.Set("limit", "7")
					}
					q, err := ParseQuery(v)
					if err != nil {
						t.Fatal(err)
					}
					want := oracleList(all, q, today)
					if len(want) == 0 && (strings.HasPrefix(f, "host=") || strings.HasPrefix(f, "tag=")) && f != "host=nowhere" {
						t.Errorf("%s selects nothing in the fixture: the test would prove nothing", f)
					}
					type mode struct {
						name            string
						force, backward bool
						limits          gatherLimits
					}
					modes := []mode{
						{"planned", false, false, s.sql.gather()},
						{"walk", true, false, s.sql.gather()},
						{"backwards", false, true, s.sql.gather()},
						// No set is small: QID sets walk the ranges the
						// overview says hold their findings (in the
						// priority order, detections_priority's, where
						// "walk" reads detections_qid's).
						{"masked", false, false, gatherLimits{}},
					}
					if strings.Contains(f, "tag=") {
						// A tag's hosts tested on the rows read, as a
						// large one's are.
						many := s.sql.gather()
						many.tagHosts = 1
						modes = append(modes, mode{"tagged", false, false, many}, mode{"tagged walk", true, false, many}, mode{"tagged backwards", false, true, many})
					}
					for _, mode := range modes {
						s.gatherMax = mode.limits
						q := q
						if mode.limits.tagHosts == 1 {
							// Pages of a few rows: the rows of other
							// hosts fill several reads of each.
							q.Limit = 5
						}
						got := pageKeys(t, s, q, mode.force, mode.backward)
						if !slices.Equal(got, want) {
							t.Errorf("%s %s: %d findings, want %d; first difference at %s", v.Encode(), mode.name, len(got), len(want), firstDiff(got, want))
						}
					}
				}
			}
		}
		for _, p := range []string{"index", "masked", "set", "qids"} {
			if plans[p] == 0 {
				t.Errorf("no page was read by plan %q: %v", p, plans)
			}
		}
	})
}

func firstDiff(a, b []Cursor) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %v vs %v", i, a[i], b[i])
		}
	}
	return strconv.Itoa(min(len(a), len(b)))
}

// A cursor survives the URL, and bad parameters are named.
func TestQueryRoundTrip(t *testing.T) {
	c := Cursor{Rating: "High", Deadline: "2026-01-02", HostID: 42, QID: 105936, Port: 443}
	cp := Cursor{Rating: "", Deadline: "", HostID: 42, QID: 105936, Port: 0, Priority: "P1", Urgency: 1_000_012_345_991, Due: "2026-02-01"}
	if got, err := ParseCursor(cp.String()); err != nil || got != cp {
		t.Fatalf("priority cursor round trip: %v %v", got, err)
	}
	got, err := ParseCursor(c.String())
	if err != nil || got != c {
		t.Fatalf("cursor round trip: %v %v", got, err)
	}
	v := url.Values{"status": {"Active"}, "rating": {"High,Critical"}, "due": {"overdue"}, "host": {"web-01"},
		"qid": {"105936"}, "cve": {"cve-2024-3094"}, "tag": {"DMZ"}, "q": {"openssh"}, "sort": {"deadline"},
		"priority": {"p2,P1"}, "kev": {"1"}, "min_epss": {"0.1"},
		"dir": {"desc"}, "after": {c.String()}}
	q, err := ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	q2, err := ParseQuery(q.Values())
	if err != nil {
		t.Fatal(err)
	}
	if q2.Encode() != q.Encode() || q.CVE != "CVE-2024-3094" || !slices.Equal(q.Ratings, []string{"Critical", "High"}) ||
		!slices.Equal(q.Priorities, []string{"P1", "P2"}) || !q2.KEV || q2.MinEPSS == nil || *q2.MinEPSS != 0.1 {
		t.Errorf("round trip: %s vs %s", q.Encode(), q2.Encode())
	}
	for _, bad := range []string{"status=bogus", "rating=Severe", "due=later", "qid=x", "cve=123", "sort=title",
		"dir=up", "after=x.y", "limit=0", "priority=P5", "kev=maybe", "min_epss=2", "min_epss=x", "after=" + c.String() + "&before=" + c.String()} {
		v, _ := url.ParseQuery(bad)
		if _, err := ParseQuery(v); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// tableRows reads the cells of a findings table, row by row.
func tableRows(t *testing.T, body string) (head []string, rows [][]string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var table *html.Node
	for n := range doc.Descendants() {
		if n.DataAtom == atom.Table && slices.Contains(n.Attr, html.Attribute{Key: "class", Val: "findings"}) {
			table = n
			break
		}
	}
	if table == nil {
		return nil, nil
	}
	for n := range table.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.DataAtom {
		case atom.Th:
			if n.Parent.Parent.DataAtom == atom.Thead {
				head = append(head, strings.TrimSpace(textOf(n)))
			}
		case atom.Tr:
			if n.Parent.DataAtom != atom.Tbody {
				continue
			}
			var cells []string
			for c := range n.ChildNodes() {
				if c.DataAtom == atom.Td {
					cells = append(cells, strings.TrimSpace(textOf(c)))
				}
			}
			rows = append(rows, cells)
		}
	}
	return head, rows
}

// The list has a days-overdue column, says its score is the environmental
// one, and shows a finding without a port as "—".
func TestListColumns(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		today := s.now().UTC().Format(time.DateOnly)
		p, err := s.Findings(context.Background(), Query{Due: "overdue", Sort: "deadline"})
		if err != nil || len(p.Rows) == 0 {
			t.Fatalf("overdue findings: %v, %v", p, err)
		}
		_, _, body := get(t, hs, "/findings?due=overdue&sort=deadline")
		head, rows := tableRows(t, body)
		col := func(name string) int {
			for i, h := range head {
				if strings.HasPrefix(h, name) {
					return i
				}
			}
			t.Fatalf("no %q column in %q", name, head)
			return -1
		}
		days, port, score := col("Days overdue"), col("Port"), col("Env. score")
		if len(rows) != len(p.Rows) {
			t.Fatalf("%d rows on the page, %d in the list", len(rows), len(p.Rows))
		}
		for i, r := range p.Rows {
			d1, _ := time.Parse(time.DateOnly, r.Deadline)
			d2, _ := time.Parse(time.DateOnly, today)
			want := int(d2.Sub(d1).Hours() / 24)
			if r.DaysOverdue != want || want <= 0 {
				t.Errorf("%s due %s: %d days overdue on %s, want %d", r.Key, r.Deadline, r.DaysOverdue, today, want)
			}
			if rows[i][days] != num(want) {
				t.Errorf("%s: the page says %q days overdue, want %d", r.Key, rows[i][days], want)
			}
			wantPort := "—"
			if r.Port != 0 {
				wantPort = strconv.Itoa(r.Port) + "/" + r.Protocol
			}
			if rows[i][port] != wantPort {
				t.Errorf("%s: port shown %q, want %q", r.Key, rows[i][port], wantPort)
			}
			if rows[i][score] != scoreText(r.Score) {
				t.Errorf("%s: score shown %q, want %q", r.Key, rows[i][score], scoreText(r.Score))
			}
		}
		// Not overdue: no days.
		p, _ = s.Findings(context.Background(), Query{Due: "week"})
		for _, r := range p.Rows {
			if r.DaysOverdue != 0 {
				t.Errorf("%s due %s: %d days overdue", r.Key, r.Deadline, r.DaysOverdue)
			}
		}
		ports := map[bool]int{}
		for _, r := range rows {
			ports[r[port] == "—"]++
		}
		if ports[true] == 0 || ports[false] == 0 {
			t.Errorf("the fixture's overdue list should hold findings with and without a port: %v", ports)
		}
		_, _, api := get(t, hs, "/api/findings?due=overdue")
		mustContain(t, "/api/findings", api, `"days_overdue": `)
	})
}

// The line above the list names every filter in force.
func TestFilterSummary(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		_, hs := newServerAt(t, loc, Config{})
		_, _, body := get(t, hs, "/findings?status=all&rating=High&rating=Critical&due=overdue&host=10.0.0.0%2F8&qid=105936&cve=CVE-2024-3094&tag=dmz&q=openssh")
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		count := byID(doc, "count")
		if count == nil {
			t.Fatal("no #count")
		}
		line := strings.Join(strings.Fields(textOf(count)), " ")
		for _, want := range []string{"all", "Critical, High", "overdue", "host 10.0.0.0/8", "QID 105936", "CVE-2024-3094", "tag dmz", `title contains "openssh"`} {
			if !strings.Contains(line, want) {
				t.Errorf("the filter line %q does not say %q", line, want)
			}
		}
	})
}

// A list says its total and where its page is in it: "1–100 of 6,251",
// then "101–200 of 6,251", and back. Totals of status, rating and
// deadline lists come from the overview; they are the oracle's.
func TestListTotal(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		if _, err := s.Overview(context.Background()); err != nil {
			t.Fatal(err)
		}
		all := loadOracle(t, s.st.DB())
		for _, f := range []string{"", "status=all", "status=closed", "status=Fixed", "status=Active", "status=Re-Opened", "status=New",
			"status=fixed", "status=gone", "status=ignored", "status=disabled", "status=ignored&rating=Medium",
			"status=New,gone", "status=open,fixed", "status=Active,Re-Opened,ignored&rating=High",
			"rating=Critical", "rating=High&rating=Low&status=all", "due=overdue", "due=week", "status=Active&due=overdue&rating=High",
			"status=closed&due=overdue", "status=Fixed&rating=None", "q=zzz-nothing"} {
			v, _ := url.ParseQuery(f)
			q, err := ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, r := range all {
				if oracleMatch(q, r, s.now()) {
					want++
				}
			}
			p, err := s.Findings(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != want {
				t.Errorf("%q: total %d, want %d", f, p.Total, want)
			}
		}
		// Paging: the line says where each page is.
		p, _ := s.Findings(context.Background(), Query{Status: "all"})
		total := p.Total
		if total <= 2*defaultLimit {
			t.Fatalf("%d findings: too few to page", total)
		}
		rangeOf := func(path string) (string, string, string) {
			_, _, body := get(t, hs, path)
			doc, err := html.Parse(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			link := func(rel string) string {
				for n := range doc.Descendants() {
					for _, a := range n.Attr {
						if a.Key == "rel" && a.Val == rel {
							for _, a := range n.Attr {
								if a.Key == "href" {
									return a.Val
								}
							}
						}
					}
				}
				return ""
			}
			r := byID(doc, "range")
			if r == nil {
				t.Fatalf("%s: no #range", path)
			}
			return textOf(r), link("next"), link("prev")
		}
		of := " of " + num(total)
		r, next, prev := rangeOf("/findings?status=all")
		if r != "1–100"+of || prev != "" || next == "" {
			t.Fatalf("first page: %q, next %q, prev %q", r, next, prev)
		}
		r, next, prev = rangeOf(next)
		if r != "101–200"+of || prev == "" {
			t.Fatalf("second page: %q, prev %q", r, prev)
		}
		r, _, _ = rangeOf(next)
		if r != "201–"+num(min(300, total))+of {
			t.Errorf("third page: %q", r)
		}
		r, _, prev2 := rangeOf(prev)
		if r != "1–100"+of || prev2 != "" {
			t.Errorf("back to the first page: %q, prev %q", r, prev2)
		}
		// The API fills total.
		_, _, body := get(t, hs, "/api/findings?status=all&limit=5")
		mustContain(t, "/api/findings", body, `"total": `+strconv.Itoa(total), "start=6")

		// Once a finding changes, the overview's count is not the total any
		// more: none is given until the next overview.
		if _, err := s.st.DB().Exec("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'rev'"); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.Findings(context.Background(), Query{Status: "all"}); p.Total != -1 {
			t.Errorf("after a change: total %d, want none (-1)", p.Total)
		}
	})
}

// A host's page does not repeat its host on every row, nor a QID's page
// its QID; each row still leads to its finding. The finding page labels
// the category.
func TestScopedPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		paths := routePaths(t, s)
		for _, c := range []struct {
			path, gone, kept string
		}{
			{paths["GET /host/{id}"], "Host", "QID · Title"},
			{paths["GET /qid/{qid}"], "QID · Title", "Host"},
			{"/findings", "", "Host"},
		} {
			_, _, body := get(t, hs, c.path)
			head, rows := tableRows(t, body)
			if len(rows) == 0 {
				t.Fatalf("%s: no rows", c.path)
			}
			has := func(name string) bool {
				return slices.ContainsFunc(head, func(h string) bool { return strings.HasPrefix(h, name) })
			}
			if c.gone != "" && has(c.gone) {
				t.Errorf("%s repeats its own %s on every row: %q", c.path, c.gone, head)
			}
			if !has(c.kept) {
				t.Errorf("%s lacks the %s column: %q", c.path, c.kept, head)
			}
			for _, r := range rows {
				if len(r) != len(head) {
					t.Errorf("%s: a row of %d cells under %d headings", c.path, len(r), len(head))
					break
				}
			}
			if n := strings.Count(body, `class="ftitle"`); n != len(rows) {
				t.Errorf("%s: %d links to findings for %d rows", c.path, n, len(rows))
			}
		}
		_, _, body := get(t, hs, paths["GET /finding/{key}"])
		mustContain(t, "finding page", body, `<dt>Category</dt><dd id="category">`)
	})
}

// A state no finding is in lists nothing, in every order, from the
// overview's counts; so does every filter of an empty store.
func TestListEmptyState(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		if _, err := s.Overview(ctx); err != nil {
			t.Fatal(err)
		}
		for _, status := range finding.StatusFilters {
			for _, sort := range sortChoices {
				q, err := ParseQuery(url.Values{"status": {status}, "sort": {sort}})
				if err != nil {
					t.Fatal(err)
				}
				p, err := s.Findings(ctx, q)
				if err != nil {
					t.Errorf("status %s, sort %s, empty store: %v", status, sort, err)
				} else if len(p.Rows) != 0 {
					t.Errorf("status %s, sort %s, empty store: %d rows", status, sort, len(p.Rows))
				}
			}
		}
	})
}
