package priority

import (
	"encoding/json"
	"reflect"
	"testing"

	"qvt/internal/finding"
)

// host builds open findings of one host, in the store's order.
type fb struct {
	host int64
	ip   string
}

func (h fb) f(qid int, prio string, mods ...func(*finding.Finding)) *finding.Finding {
	f := &finding.Finding{HostID: h.host, IP: h.ip, QID: qid, Priority: prio, Status: "Active",
		Key: finding.Key(h.ip, qid, 0), Title: titles[qid], Solution: solutions[qid], VendorRefs: refs[qid]}
	for _, m := range mods {
		m(f)
	}
	return f
}

var (
	titles    = map[int]string{100: "RHEL openssl (RHSA-2021:1062)", 101: "RHEL openssl-libs (RHSA-2021:1062)", 102: "RHEL openssl CVE-2021-3450", 200: "Windows January 2024 update", 300: "Weak SSH ciphers", 400: "Old TLS"}
	solutions = map[int]string{100: "yum update openssl", 101: "yum update openssl-libs", 102: "see advisory", 200: "Install KB5034441", 300: "Disable CBC ciphers", 400: "Disable TLS 1.0"}
	refs      = map[int][]string{100: {"RHSA-2021:1062", "RHBA-2021:1"}, 101: {"RHSA-2021:1062"}, 102: {"RHSA-2021:1062"}, 200: {"KB5034441", "KB5034439"}}
)

func kev(f *finding.Finding)                { f.KEV = true }
func epss(v float64) func(*finding.Finding) { return func(f *finding.Finding) { f.EPSS = &v } }
func env(v float64) func(*finding.Finding)  { return func(f *finding.Finding) { f.EnvScore = &v } }
func due(d string) func(*finding.Finding)   { return func(f *finding.Finding) { f.DueDate = d } }
func port(p int) func(*finding.Finding) {
	return func(f *finding.Finding) { f.Port, f.Key = p, finding.Key(f.IP, f.QID, p) }
}
func closed(f *finding.Finding) {
	f.Closed, f.ClosedReason, f.Status = true, finding.ClosedFixed, "Fixed"
}

func TestPlanner(t *testing.T) {
	a, b, c := fb{1, "10.0.0.1"}, fb{2, "10.0.0.2"}, fb{3, "10.0.0.3"}
	p := NewPlanner("2025-03-01")
	for _, f := range []*finding.Finding{
		// host a: two QIDs of one Red Hat advisory, a Windows fix, a QID
		// without vendor references on two ports.
		a.f(101, P3, due("2025-02-28"), epss(0.02)),
		a.f(100, P1, kev, epss(0.4), due("2025-03-15")),
		a.f(200, P2, epss(0.3), due("2025-03-01")), // due today: not overdue
		a.f(300, P4, port(22)),
		a.f(300, P4, port(2222)),
		a.f(400, P4, closed), // closed: not in the plan
		// host b
		b.f(102, P1, kev, epss(0.4), env(9.1), due("2025-02-01")),
		b.f(100, P2, epss(0.97)),
		b.f(200, P2, closed, kev),
		// host c
		c.f(200, P2, epss(0.25), due("2024-12-31")),
		c.f(300, P4),
	} {
		p.Add(f)
	}
	got := p.Rows()
	want := []PlanRow{
		{Fix: "RHSA-2021:1062", Title: titles[102], QIDs: []int{100, 101, 102}, Hosts: 2, Findings: 4,
			P1: 2, P2: 1, P3: 1, Overdue: 2, KEV: true, MaxEPSS: f64(0.97), Solution: solutions[100]},
		{Fix: "KB5034441", Title: titles[200], QIDs: []int{200}, Hosts: 2, Findings: 2,
			P2: 2, Overdue: 1, MaxEPSS: f64(0.3), Solution: solutions[200]},
		{Fix: "QID 300", Title: titles[300], QIDs: []int{300}, Hosts: 2, Findings: 3,
			P4: 3, Solution: solutions[300]},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("rows:\n got %s\nwant %s", g, w)
	}
	// The JSON names of the contract.
	out, _ := json.Marshal(want[2])
	if string(out) != `{"fix":"QID 300","title":"Weak SSH ciphers","qids":[300],"hosts":2,"findings":3,"p1":0,"p2":0,"p3":0,"p4":3,"overdue":0,"kev":false,"max_epss":null,"solution":"Disable CBC ciphers"}` {
		t.Errorf("json: %s", out)
	}
}

// The title is that of the row's most urgent finding, by Compare, at
// every step; findings given in either order give the same plan.
func TestPlannerTitle(t *testing.T) {
	h := fb{1, "10.0.0.1"}
	for _, tc := range []struct {
		name  string
		first *finding.Finding // the most urgent
		other *finding.Finding
	}{
		{"priority", h.f(102, P1), h.f(100, P2, kev, epss(0.9))},
		{"kev", h.f(102, P2, kev), h.f(100, P2, epss(0.9))},
		{"epss", h.f(102, P2, epss(0.5)), h.f(100, P2, epss(0.4), env(10))},
		{"env_score", h.f(102, P2, env(9)), h.f(100, P2, env(8), due("2020-01-01"))},
		{"due date", h.f(102, P2, due("2025-01-01")), h.f(100, P2, due("2025-01-02"))},
		{"key", h.f(100, P3), h.f(102, P3)},
	} {
		for _, order := range [][]*finding.Finding{{tc.first, tc.other}, {tc.other, tc.first}} {
			p := NewPlanner("2025-01-01")
			for _, f := range order {
				p.Add(f)
			}
			rows := p.Rows()
			if len(rows) != 1 || rows[0].Title != tc.first.Title {
				t.Errorf("%s: title %q, want %q", tc.name, rows[0].Title, tc.first.Title)
			}
			if rows[0].Solution != solutions[100] {
				t.Errorf("%s: solution %q, want the lowest QID's", tc.name, rows[0].Solution)
			}
		}
	}
}

// The planner copies what it keeps: the caller reuses one finding.
func TestPlannerReusedFinding(t *testing.T) {
	p := NewPlanner("2025-01-01")
	f := fb{1, "10.0.0.1"}.f(100, P1, epss(0.5))
	p.Add(f)
	*f.EPSS, f.Priority, f.Title, f.Key = 0.01, P4, "reused", "10.0.0.1:100:1"
	p.Add(f)
	rows := p.Rows()
	if rows[0].Title != titles[100] || *rows[0].MaxEPSS != 0.5 || rows[0].P1 != 1 || rows[0].P4 != 1 {
		t.Errorf("row = %+v", rows[0])
	}
}

// Hosts are counted as they start: findings arrive grouped by host.
// Without a host id, the address tells hosts apart.
func TestPlannerHosts(t *testing.T) {
	p := NewPlanner("2025-01-01")
	for _, f := range []*finding.Finding{
		fb{7, "10.0.0.7"}.f(300, P4, port(1)), fb{7, "10.0.0.7"}.f(300, P4, port(2)), fb{7, "10.0.0.7"}.f(300, P4, port(3)),
		fb{0, "10.0.0.8"}.f(300, P4), fb{0, "10.0.0.9"}.f(300, P4, port(1)), fb{0, "10.0.0.9"}.f(300, P4, port(2)),
		fb{8, "10.0.0.10"}.f(300, P4),
	} {
		p.Add(f)
	}
	if r := p.Rows()[0]; r.Hosts != 4 || r.Findings != 7 {
		t.Errorf("hosts %d findings %d, want 4 and 7", r.Hosts, r.Findings)
	}
}

// The rank: p1, p2, p3, p4 (most first), then max_epss (highest first,
// none last), then the fix's name.
func TestPlanRank(t *testing.T) {
	p := NewPlanner("2025-01-01")
	add := func(fix string, prios []string, e ...float64) {
		for n, pr := range prios {
			f := &finding.Finding{QID: 1, HostID: 1, Priority: pr, VendorRefs: []string{fix}, Key: fix + string(rune('a'+n))}
			if n < len(e) {
				v := e[n]
				f.EPSS = &v
			}
			p.Add(f)
		}
	}
	add("p1x2", []string{P1, P1})
	add("p1-p2x3", []string{P1, P2, P2, P2})
	add("p1-p2x2-p4x9", []string{P1, P2, P2, P4, P4, P4, P4, P4, P4, P4, P4, P4})
	add("p1-p2x2-p3", []string{P1, P2, P2, P3})
	add("p3-p4x2", []string{P3, P4, P4})
	add("p3-p4", []string{P3, P4}, 0.5)
	add("p4-epss-hi", []string{P4}, 0.9)
	add("p4-epss-lo", []string{P4}, 0.01)
	add("p4-epss-zero", []string{P4}, 0)
	add("p4-b-none", []string{P4})
	add("p4-a-none", []string{P4})
	add("p4-a-tie", []string{P4}, 0.01)
	var got []string
	for _, r := range p.Rows() {
		got = append(got, r.Fix)
	}
	want := []string{"p1x2", "p1-p2x3", "p1-p2x2-p3", "p1-p2x2-p4x9", "p3-p4x2", "p3-p4",
		"p4-epss-hi", "p4-a-tie", "p4-epss-lo", "p4-epss-zero", "p4-a-none", "p4-b-none"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rank:\n got %v\nwant %v", got, want)
	}
}

func TestPlanEmpty(t *testing.T) {
	p := NewPlanner("2025-01-01")
	p.Add(&finding.Finding{QID: 1, Closed: true})
	p.Add(&finding.Finding{QID: 2, Status: "Active", Excepted: true, Exception: "EXC-1"}) // accepted: not work to plan
	if rows := p.Rows(); rows == nil || len(rows) != 0 {
		t.Errorf("rows = %#v, want an empty list", rows)
	}
}
