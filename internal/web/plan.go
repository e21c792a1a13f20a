package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"qvt/internal/priority"
	"qvt/internal/store"
)

// The remediation plan ("Fix first", /api/plan): the open findings the
// list's filter selects, grouped by the fix that removes them and ranked
// by what each fix removes (docs/priority.md). priority.Planner does the
// grouping and ranking over the store's read of the findings (the one
// qvt export and qvt plan make), in host order, holding one row per fix.
//
// Over a million findings that read takes seconds, so plans are kept
// until the store changes, like the overview: the last few asked for.

// Plan is a remediation plan as the page and the API give it.
type Plan struct {
	Query Query              `json:"-"`
	Today string             `json:"today"` // the day due dates are compared with
	Rows  []priority.PlanRow `json:"rows"`
	Total int                `json:"fixes"`    // rows in all (the page shows the first planShown)
	Open  int                `json:"findings"` // open findings the rows hold
}

// planShown is how many rows the page shows; the API and downloads give
// all.
const planShown = 100

// planCache keeps the last plans by store state and query.
type planCache struct {
	mu    sync.Mutex
	stamp string
	plans map[string]*Plan
}

const planCacheSize = 16

// Plan computes the plan of a query's open findings.
func (s *Server) Plan(ctx context.Context, q Query) (*Plan, error) {
	q = q.Filter()
	q.Sort, q.Desc, q.Limit = "", false, 0
	stamp, err := s.stamp(ctx, s.st.DB())
	if err != nil {
		return nil, err
	}
	today := s.now().UTC().Format(time.DateOnly)
	key := today + "?" + q.Encode()
	s.plans.mu.Lock()
	if s.plans.stamp != stamp {
		s.plans.stamp, s.plans.plans = stamp, map[string]*Plan{}
	}
	if p, ok := s.plans.plans[key]; ok {
		s.plans.mu.Unlock()
		return p, nil
	}
	s.plans.mu.Unlock()

	p := &Plan{Query: q, Today: today, Rows: []priority.PlanRow{}}
	f, keep, err := s.exportFilter(ctx, q)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		if q.Status == "" {
			// Open findings only, read as such: closed ones are most of
			// an old store.
			f.States, f.Open = nil, true
		}
		pl := priority.NewPlanner(today)
		err := s.st.Findings(ctx, f, func(r *store.Row) error {
			if keep(r) {
				pl.Add(&r.Finding)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		p.Rows = pl.Rows()
	}
	p.Total = len(p.Rows)
	for _, r := range p.Rows {
		p.Open += r.Findings
	}
	s.plans.mu.Lock()
	if s.plans.stamp == stamp {
		if len(s.plans.plans) >= planCacheSize {
			clear(s.plans.plans)
		}
		s.plans.plans[key] = p
	}
	s.plans.mu.Unlock()
	return p, nil
}

// rowURL is the list of a plan row's open findings, most urgent first,
// within the plan's filter.
func rowURL(base Query, r priority.PlanRow) string {
	q := base.Filter()
	q.QID, q.QIDs = 0, r.QIDs
	if len(r.QIDs) == 1 {
		q.QID, q.QIDs = r.QIDs[0], nil
		if base.QID != 0 && base.QID != r.QIDs[0] {
			q.QIDs = []int{base.QID} // an empty intersection, as the plan's
		}
	}
	q.Sort, q.Desc = "priority", false
	return "/findings?" + q.Encode()
}

// planData is what the plan page shows.
type planData struct {
	Plan  *Plan
	Rows  []priority.PlanRow // the rows shown
	Base  string
	Tags  []string
	Error string
	L     listData // the filter form's data
}

func (s *Server) planPage(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	d := planData{Base: "/plan", Tags: s.tags()}
	if err != nil {
		d.Error = err.Error()
		q = Query{}
		w.WriteHeader(http.StatusBadRequest)
	}
	if d.Plan, err = s.Plan(r.Context(), q); err != nil {
		return err
	}
	d.Rows = d.Plan.Rows[:min(len(d.Plan.Rows), planShown)]
	d.L = listData{Page: &Page{Query: q}, Base: "/plan", Tags: d.Tags}
	return s.render(w, "plan", map[string]any{"Title": "Fix first", "P": d})
}

// apiPlan answers the whole plan of the list's filter.
func (s *Server) apiPlan(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return badRequest(err)
	}
	p, err := s.Plan(r.Context(), q)
	if err != nil {
		return err
	}
	type apiRow struct {
		priority.PlanRow
		Link string `json:"findings_url"`
	}
	out := struct {
		*Plan
		Rows []apiRow `json:"rows"`
	}{Plan: p, Rows: make([]apiRow, 0, len(p.Rows))}
	for _, row := range p.Rows {
		out.Rows = append(out.Rows, apiRow{row, rowURL(p.Query, row)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// hostPlan is a host's plan, for its page.
func (s *Server) hostPlan(ctx context.Context, id int64) (*Plan, error) {
	return s.Plan(ctx, Query{Host: strconv.FormatInt(id, 10)})
}

// planURL is the plan page of a query's filter.
func planURL(q Query) string {
	v := q.Filter().Values()
	v.Del("sort")
	v.Del("dir")
	v.Del("limit")
	if len(v) == 0 {
		return "/plan"
	}
	return "/plan?" + v.Encode()
}
