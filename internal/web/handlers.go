package web

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/export"
	"qvt/internal/store"
)

// render writes a page. It is rendered into a buffer first, so that a
// template error is a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, name string, data map[string]any) error {
	data["Nav"] = name
	// The Jira column shows when Jira is configured or an issue is known.
	jira := s.cfg.JiraURL != ""
	if l, ok := data["L"].(listData); ok && l.Page != nil {
		for _, r := range l.Page.Rows {
			jira = jira || r.Jira != ""
		}
	}
	data["Jira"] = jira
	if _, ok := data["Writable"]; !ok {
		data["Writable"] = s.writable()
	}
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err := w.Write(buf.Bytes())
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// overviewData is the overview with its charts laid out.
type overviewData struct {
	*Overview
	RatingBars BarChart
	StatusBars BarChart
	SLABars    BarChart
	Trend      TrendChart
	PrioBars   BarChart
	PrioTrend  TrendChart
}

// overview is the overview with the exceptions expiring soon, which are
// read per request: the cached overview changes only with the findings.
func (s *Server) overviewNow(ctx context.Context) (*Overview, error) {
	cached, err := s.Overview(ctx)
	if err != nil {
		return nil, err
	}
	o := *cached
	if o.Expiring, err = s.expiring(ctx); err != nil {
		return nil, err
	}
	return &o, nil
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) error {
	o, err := s.overviewNow(r.Context())
	if err != nil {
		return err
	}
	d := overviewData{Overview: o, Trend: trendChart(o.Trend)}
	var labels, shown, classes, hrefs []string
	var vals []float64
	for _, c := range o.ByRating {
		labels = append(labels, c.Name)
		vals = append(vals, float64(c.Count))
		shown = append(shown, num(c.Count))
		classes = append(classes, "r-"+strings.ToLower(c.Name))
		hrefs = append(hrefs, "/findings?"+url.Values{"rating": {c.Name}}.Encode())
	}
	d.RatingBars = barChart("Open findings by rating", labels, vals, shown, classes, hrefs, 0)
	labels, vals, shown, classes, hrefs = nil, nil, nil, nil, nil
	for _, c := range o.ByStatus {
		labels = append(labels, c.Name)
		vals = append(vals, float64(c.Count))
		shown = append(shown, num(c.Count))
		classes = append(classes, "s-"+strings.ToLower(c.Name))
		hrefs = append(hrefs, "/findings?"+url.Values{"status": {c.Name}}.Encode())
	}
	d.StatusBars = barChart("Open findings by status", labels, vals, shown, classes, hrefs, 0)
	labels, vals, shown, classes = nil, nil, nil, nil
	for _, row := range o.SLA {
		if row.Rating == "None" && row.Fixed == 0 {
			continue
		}
		labels = append(labels, row.Rating)
		vals = append(vals, row.Share*100)
		if row.Timed == 0 {
			shown = append(shown, "–")
		} else {
			shown = append(shown, pct(row.Share))
		}
		classes = append(classes, "r-"+strings.ToLower(row.Rating))
	}
	d.SLABars = barChart("Fixed within the deadline", labels, vals, shown, classes, nil, 100)
	labels, vals, shown, classes, hrefs = nil, nil, nil, nil, nil
	for _, c := range o.ByPriority {
		labels = append(labels, c.Name)
		vals = append(vals, float64(c.Count))
		shown = append(shown, num(c.Count))
		classes = append(classes, "r-"+strings.ToLower(c.Name))
		if c.Name == "none" {
			hrefs = append(hrefs, "")
			continue
		}
		hrefs = append(hrefs, "/findings?"+url.Values{"priority": {c.Name}, "sort": {"priority"}}.Encode())
	}
	d.PrioBars = barChart("Open findings by priority", labels, vals, shown, classes, hrefs, 0)
	d.PrioTrend = trendChart(o.PrioTrend)
	d.PrioTrend.Caption = "Open P1 and P2 findings, day by day"
	return s.render(w, "overview", map[string]any{"Title": "Overview", "O": d, "WarnDays": s.cfg.Exceptions.WarnDays, "Runs": s.runPanel(w, r)})
}

// listData is what a page with a findings table needs.
type listData struct {
	Page  *Page
	Base  string // the path the pager and sort links go to
	Tags  []string
	Error string
}

func (s *Server) tags() []string {
	s.overview.mu.Lock()
	defer s.overview.mu.Unlock()
	if s.overview.cur == nil {
		return nil
	}
	return s.overview.cur.Tags
}

func (s *Server) findingsPage(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	d := listData{Base: "/findings", Tags: s.tags()}
	if err != nil {
		d.Error = err.Error()
		d.Page = &Page{Query: q, Total: 0}
		w.WriteHeader(http.StatusBadRequest)
	} else if d.Page, err = s.Findings(r.Context(), q); err != nil {
		return err
	}
	return s.render(w, "findings", map[string]any{"Title": "Findings", "L": d})
}

func (s *Server) findingPage(w http.ResponseWriter, r *http.Request) error {
	v, err := s.finding(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return s.render(w, "finding", map[string]any{"Title": v.Title + " on " + v.IP, "F": v})
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id < 0 {
		return 0, errNotFound
	}
	return id, nil
}

// scopedList reads a page of the list for a host or QID page: the URL's
// own parameters (status, sort, page) within the scope.
func (s *Server) scopedList(ctx context.Context, r *http.Request, base string, scope func(*Query)) (listData, int, error) {
	q, err := ParseQuery(r.URL.Query())
	d := listData{Base: base}
	if err != nil {
		d.Error = err.Error()
		q = Query{}
	}
	scope(&q)
	if d.Page, err = s.Findings(ctx, q); err != nil {
		return d, 0, err
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	return d, status, nil
}

func (s *Server) hostPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.host(r.Context(), id)
	if err != nil {
		return err
	}
	base := "/host/" + strconv.FormatInt(id, 10)
	d, status, err := s.scopedList(r.Context(), r, base, func(q *Query) { q.Host = strconv.FormatInt(id, 10) })
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	title := h.Address
	if h.Hostname != "" {
		title += " (" + h.Hostname + ")"
	}
	plan, err := s.hostPlan(r.Context(), id)
	if err != nil {
		return err
	}
	return s.render(w, "host", map[string]any{"Title": "Host " + title, "H": h, "L": d, "Plan": plan})
}

func (s *Server) qidPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "qid")
	if err != nil {
		return err
	}
	v, err := s.qid(r.Context(), int(id))
	if err != nil {
		return err
	}
	base := "/qid/" + strconv.FormatInt(id, 10)
	d, status, err := s.scopedList(r.Context(), r, base, func(q *Query) { q.QID = int(id) })
	if err != nil {
		return err
	}
	w.WriteHeader(status)
	return s.render(w, "qid", map[string]any{"Title": fmt.Sprintf("QID %d %s", v.QID, v.Title), "Q": v, "L": d})
}

// The JSON API: what the pages show, for scripts.

func (s *Server) apiSummary(w http.ResponseWriter, r *http.Request) error {
	o, err := s.overviewNow(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// apiPage is a page of the list as the API answers it.
type apiPage struct {
	Findings []Row   `json:"findings"`
	Total    *int    `json:"total"` // null when not counted
	Next     *string `json:"next"`  // cursor of the next page (after=…), null on the last
	Prev     *string `json:"prev"`  // cursor of the previous page (before=…), null on the first
	NextURL  string  `json:"next_url,omitempty"`
	PrevURL  string  `json:"prev_url,omitempty"`
}

func (s *Server) apiFindings(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return badRequest(err)
	}
	p, err := s.Findings(r.Context(), q)
	if err != nil {
		return err
	}
	out := apiPage{Findings: p.Rows}
	if p.Total >= 0 {
		out.Total = &p.Total
	}
	if p.Next != nil {
		c := p.Next.String()
		out.Next = &c
		out.NextURL = "/api/findings?" + pageQuery(q, p.Next, nil, p.NextStart()).Encode()
	}
	if p.Prev != nil {
		c := p.Prev.String()
		out.Prev = &c
		out.PrevURL = "/api/findings?" + pageQuery(q, nil, p.Prev, p.PrevStart()).Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pageQuery is the query of another page of the same list, starting at
// row start of it (0: unknown).
func pageQuery(q Query, after, before *Cursor, start int) Query {
	q = q.Filter()
	q.After, q.Before, q.Start = after, before, start
	return q
}

func (s *Server) apiFinding(w http.ResponseWriter, r *http.Request) error {
	v, err := s.finding(r.Context(), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiHost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.host(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) apiQID(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "qid")
	if err != nil {
		return err
	}
	v, err := s.qid(r.Context(), int(id))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// download writes every finding the list's filter selects, in key order,
// in the export contract's format (docs/findings.md): the same writers
// and the same read as `qvt export`, with the filters Store.Findings
// does not know applied row by row.
func (s *Server) download(format string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := ParseQuery(r.URL.Query())
		if err != nil {
			return badRequest(err)
		}
		f, keep, err := s.exportFilter(r.Context(), q)
		if err != nil {
			return err
		}
		ctype := map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}[format]
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="qvt-findings-%s.%s"`, s.now().UTC().Format("20060102"), format))
		ew, err := export.New(format, w)
		if err != nil {
			return err
		}
		if keep != nil {
			err = s.st.Findings(r.Context(), f, func(row *store.Row) error {
				if keep(row) {
					return ew.Write(row)
				}
				return nil
			})
		}
		if cerr := ew.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// exportFilter turns a list query into a store filter and a test of each
// row for what the store filter cannot say. keep is nil when nothing
// matches.
func (s *Server) exportFilter(ctx context.Context, q Query) (store.Filter, func(*store.Row) bool, error) {
	var sf store.Filter
	tx, err := s.st.BeginRead(ctx)
	if err != nil {
		return sf, nil, err
	}
	defer tx.Rollback()
	f, err := s.resolve(ctx, tx, q, s.now())
	if err != nil || f.none {
		return sf, nil, err
	}
	var tests []func(*store.Row) bool
	// The same states as qvt export --status: the store selects them.
	sf.States = q.states()
	// And its priorities, KEV and EPSS, as qvt export --priority, --kev
	// and --min-epss select them.
	sf.Priorities = slices.Clone(q.Priorities)
	sf.KEV, sf.MinEPSS = q.KEV, q.MinEPSS
	if f.ratings != nil {
		ratings := f.ratings
		tests = append(tests, func(r *store.Row) bool { return slices.Contains(ratings, r.VulnScore) })
	}
	today := s.now().UTC()
	day, soon := today.Format(time.DateOnly), today.AddDate(0, 0, 7).Format(time.DateOnly)
	switch q.Due {
	// Open findings only, tested on the row: in a store filter, Open
	// would add the open findings to those of a closed state.
	case "overdue":
		tests = append(tests, func(r *store.Row) bool { return !r.Closed && !r.Excepted && r.BreachDate != "" && r.BreachDate < day })
	case "week":
		tests = append(tests, func(r *store.Row) bool {
			return !r.Closed && !r.Excepted && r.BreachDate >= day && r.BreachDate <= soon
		})
	}
	switch q.Excepted {
	case "1":
		tests = append(tests, func(r *store.Row) bool { return r.Excepted })
	case "0":
		tests = append(tests, func(r *store.Row) bool { return !r.Excepted })
	}
	if f.owners != nil {
		owners := slices.Clone(f.owners) // as stored
		for _, o := range owners {
			sf.Owners = append(sf.Owners, cmp.Or(o, "none"))
		}
		tests = append(tests, func(r *store.Row) bool { return slices.Contains(owners, r.Owner) })
	}
	hosts := f.hostIDs
	if q.Tag != "" {
		tagged, err := tagHosts(ctx, tx, s.sql, q.Tag)
		if err != nil {
			return sf, nil, err
		}
		if hosts == nil {
			hosts = tagged
		} else {
			hosts = slices.DeleteFunc(hosts, func(id int64) bool { _, ok := slices.BinarySearch(tagged, id); return !ok })
		}
		if len(hosts) == 0 {
			return sf, nil, nil
		}
	}
	if hosts != nil {
		set := map[int64]bool{}
		for _, id := range hosts {
			set[id] = true
			if len(hosts) <= 5000 {
				sf.Hosts = append(sf.Hosts, strconv.FormatInt(id, 10))
			}
		}
		tests = append(tests, func(r *store.Row) bool { return set[r.HostID] })
	}
	if f.qids != nil {
		set := map[int]bool{}
		for _, qid := range f.qids {
			set[qid] = true
		}
		if len(f.qids) <= 5000 {
			sf.QIDs = slices.Clone(f.qids)
		}
		tests = append(tests, func(r *store.Row) bool { return set[r.QID] })
	}
	return sf, func(r *store.Row) bool {
		for _, t := range tests {
			if !t(r) {
				return false
			}
		}
		return true
	}, nil
}

// tagHosts lists, ascending, the hosts with a tag, its name in any case
// (people type "dmz" for the tag "DMZ").
func tagHosts(ctx context.Context, tx *sql.Tx, d dialect, tag string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT host_id FROM host_tags WHERE "+d.equalFold("name", "?1")+" ORDER BY host_id", tag)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// findingURL is the page of a finding.
func findingURL(key string) string { return "/finding/" + url.PathEscape(key) }
