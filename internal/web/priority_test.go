package web

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fixture carries exploitation evidence: the tests below would prove
// nothing on a store where every finding is P4 without KEV or EPSS.
func TestFixtureHasPriorities(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	db := s.st.DB()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for _, p := range []string{"P1", "P2", "P3", "P4"} {
		if n := count("SELECT count(*) FROM detections WHERE type <> 'Info' AND closed = '' AND priority = '" + p + "'"); n < 5 {
			t.Errorf("%d open %s findings in the fixture; want some", n, p)
		}
	}
	// Findings without a due date beside dated ones of the same priority
	// and urgency: the priority order's two ranges of an urgency.
	if n := count(`SELECT count(*) FROM (SELECT priority, urgency FROM detections WHERE type <> 'Info' AND closed = ''
GROUP BY priority, urgency HAVING min(due_date) = '' AND max(due_date) <> '') AS m`); n < 3 {
		t.Errorf("%d groups of a priority and urgency mix dated and undated findings; want some", n)
	}
	if n := count("SELECT count(*) FROM history WHERE event = 'priority' AND cause <> ''"); n == 0 {
		t.Error("no change of priority with a cause in the fixture's history")
	}
	if n := count("SELECT count(*) FROM detections WHERE qds IS NOT NULL"); n == 0 {
		t.Log("no QDS in the fixture (the generator writes none yet)")
	}
}

// A finding's API answer and page carry its priority, due date and
// evidence, and its history says why its priority changed.
func TestFindingPriority(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	var host int64
	var qid, port int
	var old, new, cause string
	err := s.st.DB().QueryRow(`SELECT h.host_id, h.qid, h.port, h.old, h.new, h.cause FROM history h
JOIN detections d ON d.host_id = h.host_id AND d.qid = h.qid AND d.port = h.port
WHERE h.event = 'priority' AND h.cause <> '' AND d.type <> 'Info' ORDER BY h.host_id, h.qid, h.port LIMIT 1`).Scan(&host, &qid, &port, &old, &new, &cause)
	if err != nil {
		t.Fatal(err)
	}
	var ip string
	if err := s.st.DB().QueryRow("SELECT ip FROM hosts WHERE id = ?", host).Scan(&ip); err != nil {
		t.Fatal(err)
	}
	key := ip + ":" + strconv.Itoa(qid) + ":" + strconv.Itoa(port)
	var want struct {
		prio, reason, due string
		kev               bool
		epss              sql.NullFloat64
	}
	var kev int
	err = s.st.DB().QueryRow(`SELECT d.priority, d.priority_reason, d.due_date, COALESCE(r.kev, 0), r.epss FROM detections d
LEFT JOIN qid_risk r ON r.qid = d.qid WHERE d.host_id = ? AND d.qid = ? AND d.port = ?`, host, qid, port).Scan(&want.prio, &want.reason, &want.due, &kev, &want.epss)
	if err != nil {
		t.Fatal(err)
	}
	want.kev = kev != 0

	status, _, body := get(t, hs, "/api/findings/"+url.PathEscape(key))
	if status != 200 {
		t.Fatalf("/api/findings/%s: %d %s", key, status, body)
	}
	var v struct {
		Priority       string   `json:"priority"`
		PriorityReason string   `json:"priority_reason"`
		DueDate        string   `json:"due_date"`
		KEV            bool     `json:"kev"`
		EPSS           *float64 `json:"epss"`
		Timeline       []TimelineItem
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if v.Priority != want.prio || v.PriorityReason != want.reason || v.DueDate != want.due || v.KEV != want.kev ||
		(v.EPSS == nil) != !want.epss.Valid || v.EPSS != nil && *v.EPSS != want.epss.Float64 {
		t.Errorf("API: %s (%s) due %q kev %v epss %v; store: %+v", v.Priority, v.PriorityReason, v.DueDate, v.KEV, v.EPSS, want)
	}
	i := slices.IndexFunc(v.Timeline, func(it TimelineItem) bool { return it.Kind == "priority" })
	if i < 0 || v.Timeline[i].Old != old || v.Timeline[i].New != new || v.Timeline[i].Cause != cause {
		t.Errorf("timeline lacks the change %s → %s (%s): %+v", old, new, cause, v.Timeline)
	}

	status, _, page := get(t, hs, findingURL(key))
	if status != 200 {
		t.Fatalf("%s: %d", findingURL(key), status)
	}
	mustContain(t, "finding page", page, `id="priority"`, ">"+want.prio+"<", want.reason,
		"Priority: "+old+" → "+new+" ("+htmlText(cause)+")")
	if want.kev {
		mustContain(t, "finding page", page, `<span class="flag kev">KEV</span>`)
	}
}

// htmlText escapes text as html/template writes it in an element.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// The overview counts open findings by priority, open KEV findings and
// those past due, as a plain count of the store says; its "open P1/P2"
// card leads to the list of those, most urgent first.
func TestOverviewPriorities(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	o, err := s.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db := s.st.DB()
	today := s.now().UTC().Format(time.DateOnly)
	byPrio := map[string]int{}
	rows, err := db.Query("SELECT priority, count(*) FROM detections WHERE type <> 'Info' AND closed = '' GROUP BY priority")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			t.Fatal(err)
		}
		byPrio[cmp.Or(p, "none")] = n
	}
	rows.Close()
	got := map[string]int{}
	for _, c := range o.ByPriority {
		got[c.Name] = c.Count
	}
	for _, p := range []string{"P1", "P2", "P3", "P4", "none"} {
		if got[p] != byPrio[p] {
			t.Errorf("overview: %d open %s; the store: %d", got[p], p, byPrio[p])
		}
	}
	var kevOpen, kevLate int
	err = db.QueryRow(`SELECT count(*), COALESCE(sum(CASE WHEN d.due_date <> '' AND d.due_date < ? THEN 1 ELSE 0 END), 0)
FROM detections d JOIN qid_risk r ON r.qid = d.qid WHERE d.type <> 'Info' AND d.closed = '' AND r.kev = 1`, today).Scan(&kevOpen, &kevLate)
	if err != nil {
		t.Fatal(err)
	}
	if o.KEVOpen != kevOpen || o.KEVOverdue != kevLate || kevOpen == 0 {
		t.Errorf("overview: %d open KEV, %d past due; the store: %d, %d", o.KEVOpen, o.KEVOverdue, kevOpen, kevLate)
	}
	// The chart of P1 and P2 ends today with today's counts.
	if n := len(o.PrioTrend.Days); n == 0 || o.PrioTrend.Open[0][n-1] != byPrio["P1"] || o.PrioTrend.Open[1][n-1] != byPrio["P2"] {
		t.Errorf("P1/P2 chart: %v", o.PrioTrend)
	}
	_, _, body := get(t, hs, "/")
	mustContain(t, "overview", body, `id="card-p1p2"`, `href="/findings?priority=P1,P2&amp;sort=priority"`,
		">"+num(byPrio["P1"]+byPrio["P2"])+"<", `id="card-kev"`, ">"+num(kevOpen)+"<", "Open P1 and P2 findings, day by day", `href="/plan"`)
	// That link: the open P1 and P2 findings, most urgent first.
	v, _ := url.ParseQuery("priority=P1,P2&sort=priority")
	q, err := ParseQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Findings(context.Background(), q)
	if err != nil || len(p.Rows) == 0 {
		t.Fatalf("the card's list: %v", err)
	}
	if p.Rows[0].Priority != "P1" || p.Rows[len(p.Rows)-1].Priority == "" {
		t.Errorf("the card's list starts with %s, ends with %s", p.Rows[0].Priority, p.Rows[len(p.Rows)-1].Priority)
	}
	// The default order of the list is still by rating.
	def, err := s.Findings(context.Background(), Query{})
	if err != nil || def.Rows[0].Rating != "Critical" {
		t.Errorf("the default list starts with a %s finding: %v", def.Rows[0].Rating, err)
	}
}

// planAPI reads /api/plan.
type planAPI struct {
	Today    string `json:"today"`
	Fixes    int    `json:"fixes"`
	Findings int    `json:"findings"`
	Rows     []struct {
		Fix      string   `json:"fix"`
		Title    string   `json:"title"`
		QIDs     []int    `json:"qids"`
		Hosts    int      `json:"hosts"`
		Findings int      `json:"findings"`
		P1       int      `json:"p1"`
		P2       int      `json:"p2"`
		P3       int      `json:"p3"`
		P4       int      `json:"p4"`
		Overdue  int      `json:"overdue"`
		KEV      bool     `json:"kev"`
		MaxEPSS  *float64 `json:"max_epss"`
		Link     string   `json:"findings_url"`
	} `json:"rows"`
}

// The plan holds every open finding the filter selects once, ranks its
// rows as the contract says, and each row's link lists exactly its
// findings; a host's page shows that host's plan.
func TestPlan(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	read := func(path string) planAPI {
		t.Helper()
		status, _, body := get(t, hs, path)
		if status != 200 {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		var p planAPI
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var open int
	if err := s.st.DB().QueryRow("SELECT count(*) FROM detections WHERE type <> 'Info' AND closed = ''").Scan(&open); err != nil {
		t.Fatal(err)
	}
	p := read("/api/plan")
	sum := 0
	for i, r := range p.Rows {
		sum += r.Findings
		if r.P1+r.P2+r.P3+r.P4 != r.Findings || r.Hosts < 1 || r.Hosts > r.Findings || len(r.QIDs) == 0 {
			t.Errorf("row %d (%s): %+v", i, r.Fix, r)
		}
		if i == 0 {
			continue
		}
		a, b := p.Rows[i-1], r
		epss := func(e *float64) float64 {
			if e == nil {
				return -1
			}
			return *e
		}
		if c := cmp.Or(cmp.Compare(b.P1, a.P1), cmp.Compare(b.P2, a.P2), cmp.Compare(b.P3, a.P3), cmp.Compare(b.P4, a.P4),
			cmp.Compare(epss(b.MaxEPSS), epss(a.MaxEPSS)), strings.Compare(a.Fix, b.Fix)); c > 0 {
			t.Errorf("rows %d and %d out of rank: %s (%d/%d/%d/%d) before %s (%d/%d/%d/%d)", i-1, i, a.Fix, a.P1, a.P2, a.P3, a.P4, b.Fix, b.P1, b.P2, b.P3, b.P4)
		}
	}
	if sum != open || p.Findings != open || p.Fixes != len(p.Rows) {
		t.Errorf("the plan holds %d findings in %d rows (says %d, %d); %d are open", sum, len(p.Rows), p.Findings, p.Fixes, open)
	}
	if p.Rows[0].P1 == 0 {
		t.Errorf("the first fix removes no P1 finding: %+v", p.Rows[0])
	}
	// Each of the first rows' links lists exactly its findings.
	for _, r := range p.Rows[:min(5, len(p.Rows))] {
		u, err := url.Parse(r.Link)
		if err != nil || u.Path != "/findings" {
			t.Fatalf("row %s links to %q", r.Fix, r.Link)
		}
		v := u.Query()
		v.Set("limit", "1000")
		var page apiPage
		_, _, body := get(t, hs, "/api/findings?"+v.Encode())
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		p1 := 0
		for _, f := range page.Findings {
			if !slices.Contains(r.QIDs, f.QID) || f.Closed {
				t.Errorf("row %s: its list holds %s", r.Fix, f.Key)
			}
			if f.Priority == "P1" {
				p1++
			}
		}
		if len(page.Findings) != r.Findings || p1 != r.P1 || v.Get("sort") != "priority" {
			t.Errorf("row %s (%d findings, %d P1): its list %s holds %d, %d P1", r.Fix, r.Findings, r.P1, r.Link, len(page.Findings), p1)
		}
	}
	// Filters: P1 only; KEV only.
	for _, r := range read("/api/plan?priority=P1").Rows {
		if r.P2+r.P3+r.P4 != 0 || r.P1 == 0 {
			t.Errorf("plan of P1 findings: row %+v", r)
		}
	}
	for _, r := range read("/api/plan?kev=1").Rows {
		if !r.KEV {
			t.Errorf("plan of KEV findings: row %+v", r)
		}
	}
	// A host's page: its plan, whose rows hold the host's open findings.
	var host int64
	var hostOpen int
	if err := s.st.DB().QueryRow(`SELECT host_id, count(*) FROM detections WHERE type <> 'Info' AND closed = '' AND priority = 'P1'
GROUP BY host_id ORDER BY host_id LIMIT 1`).Scan(&host, &hostOpen); err != nil {
		t.Fatal(err)
	}
	if err := s.st.DB().QueryRow("SELECT count(*) FROM detections WHERE type <> 'Info' AND closed = '' AND host_id = ?", host).Scan(&hostOpen); err != nil {
		t.Fatal(err)
	}
	hp := read("/api/plan?host=" + strconv.FormatInt(host, 10))
	if hp.Findings != hostOpen {
		t.Errorf("host %d: its plan holds %d findings; it has %d open", host, hp.Findings, hostOpen)
	}
	_, _, body := get(t, hs, "/host/"+strconv.FormatInt(host, 10))
	mustContain(t, "host page", body, "Fix first on this host", `<table class="plan" id="plan">`, hp.Rows[0].Fix)
	_, _, body = get(t, hs, "/plan")
	mustContain(t, "plan page", body, "Fix first", p.Rows[0].Fix, num(open)+" open findings")
	if status, _, body := get(t, hs, "/api/plan?priority=P7"); status != 400 || !strings.Contains(body, "priority") {
		t.Errorf("/api/plan?priority=P7: %d %s", status, body)
	}
}

// The list's new filters name a bad value.
func TestPriorityFilterErrors(t *testing.T) {
	_, hs := newTestServer(t, Config{})
	for _, path := range []string{"/api/findings?priority=P0", "/api/findings?kev=perhaps", "/api/findings?min_epss=1.5", "/api/findings?qids=1,x"} {
		status, _, body := get(t, hs, path)
		name := strings.SplitN(strings.TrimPrefix(path, "/api/findings?"), "=", 2)[0]
		if status != 400 || !strings.Contains(body, name) {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}
