package priority

import (
	"cmp"
	"slices"
	"strconv"

	"qvt/internal/finding"
)

// PlanRow is one fix of the remediation plan and what it removes.
type PlanRow struct {
	Fix      string   `json:"fix"`      // the first vendor reference of its QIDs, or "QID <n>"
	Title    string   `json:"title"`    // the KB title of the QID of its most urgent finding
	QIDs     []int    `json:"qids"`     // ascending
	Hosts    int      `json:"hosts"`    // distinct hosts
	Findings int      `json:"findings"` // open findings
	P1       int      `json:"p1"`
	P2       int      `json:"p2"`
	P3       int      `json:"p3"`
	P4       int      `json:"p4"`
	Overdue  int      `json:"overdue"`  // open findings past their due date
	KEV      bool     `json:"kev"`      // any finding KEV
	MaxEPSS  *float64 `json:"max_epss"` // nil when no finding has an EPSS score
	Solution string   `json:"solution"` // the KB solution of the lowest QID, as stored
}

// Planner groups open findings by the fix that removes them. Findings
// must arrive grouped by host (the store's order): a row counts a host
// when its findings start, so distinct hosts are counted without a set,
// and memory grows with the rows, not the findings.
type Planner struct {
	today string
	rows  map[string]*planRow
}

type planRow struct {
	PlanRow
	minQID   int
	lastHost int64
	lastIP   string
	hasHost  bool
	urgent   finding.Finding // what Compare reads of the most urgent finding, and its title
	hasEPSS  bool
	maxEPSS  float64
}

// NewPlanner starts a plan as of today (YYYY-MM-DD): a finding is overdue
// when its due_date is set and before today.
func NewPlanner(today string) *Planner {
	return &Planner{today: today, rows: map[string]*planRow{}}
}

// Fix is the fix that removes f: the first of its QID's vendor
// references, or "QID <n>" for a QID without any.
func Fix(f *finding.Finding) string {
	if len(f.VendorRefs) > 0 && f.VendorRefs[0] != "" {
		return f.VendorRefs[0]
	}
	return "QID " + strconv.Itoa(f.QID)
}

// Add counts f in the row of its fix; closed findings are skipped, and
// so are excepted ones: the business accepted them, they are not work to
// plan until their exception ends.
func (p *Planner) Add(f *finding.Finding) {
	if f.Closed || f.Excepted {
		return
	}
	fix := Fix(f)
	r := p.rows[fix]
	if r == nil {
		r = &planRow{PlanRow: PlanRow{Fix: fix}, minQID: f.QID}
		p.rows[fix] = r
		r.take(f)
		r.Solution = f.Solution
	}
	if !r.hasHost || r.lastHost != f.HostID || (f.HostID == 0 && r.lastIP != f.IP) {
		r.Hosts++
		r.hasHost, r.lastHost, r.lastIP = true, f.HostID, f.IP
	}
	if !slices.Contains(r.QIDs, f.QID) {
		r.QIDs = append(r.QIDs, f.QID)
	}
	if f.QID < r.minQID {
		r.minQID, r.Solution = f.QID, f.Solution
	}
	r.Findings++
	switch f.Priority {
	case P1:
		r.P1++
	case P2:
		r.P2++
	case P3:
		r.P3++
	case P4:
		r.P4++
	}
	if f.DueDate != "" && f.DueDate < p.today {
		r.Overdue++
	}
	r.KEV = r.KEV || f.KEV
	if f.EPSS != nil && (!r.hasEPSS || *f.EPSS > r.maxEPSS) {
		r.hasEPSS, r.maxEPSS = true, *f.EPSS
	}
	if Compare(f, &r.urgent) < 0 {
		r.take(f)
	}
}

// take keeps what Compare reads of f, and its title, as the row's most
// urgent finding; it copies, so the caller may reuse f.
func (r *planRow) take(f *finding.Finding) {
	u := &r.urgent
	u.Priority, u.KEV, u.DueDate, u.Key, u.Title = f.Priority, f.KEV, f.DueDate, f.Key, f.Title
	u.EPSS, u.EnvScore = copyFloat(u.EPSS, f.EPSS), copyFloat(u.EnvScore, f.EnvScore)
	r.Title = f.Title
}

// copyFloat copies *src into dst's storage, allocating only when dst is nil.
func copyFloat(dst, src *float64) *float64 {
	if src == nil {
		return nil
	}
	if dst == nil {
		dst = new(float64)
	}
	*dst = *src
	return dst
}

// Rows is the plan ranked: most P1 findings first, then P2, P3, P4, then
// the highest EPSS (none last), then the fix's name.
func (p *Planner) Rows() []PlanRow {
	out := make([]PlanRow, 0, len(p.rows))
	for _, r := range p.rows {
		row := r.PlanRow
		row.QIDs = slices.Clone(r.QIDs)
		slices.Sort(row.QIDs)
		if r.hasEPSS {
			m := r.maxEPSS
			row.MaxEPSS = &m
		}
		out = append(out, row)
	}
	slices.SortFunc(out, compareRows)
	return out
}

func compareRows(a, b PlanRow) int {
	for _, c := range [...]int{
		cmp.Compare(b.P1, a.P1), cmp.Compare(b.P2, a.P2), cmp.Compare(b.P3, a.P3), cmp.Compare(b.P4, a.P4),
		descNullsLast(a.MaxEPSS, b.MaxEPSS),
	} {
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Fix, b.Fix)
}
