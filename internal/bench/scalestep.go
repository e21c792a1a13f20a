package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"qvt/internal/store"
	"qvt/internal/web"
)

// ScaleStep runs a part of the scale benchmark that needs the store in
// the process: Scale runs it as a child (`qvt bench --scale-step`), so
// that its memory does not count in the peaks of the commands measured
// after it. step is "dashboard", or "watermark=TIME" to set the
// detection sync's watermark. "dashboard:SORTS" measures the list in
// those orders only (dashboard:priority,deadline), and
// "dashboard:SORTS:TEXT" only under the filters whose query holds TEXT
// (dashboard:deadline:q=): a slow request measured again on its own.
func ScaleStep(ctx context.Context, step, loc string, runs int, out io.Writer) error {
	st, err := store.Open(ctx, loc)
	if err != nil {
		return err
	}
	defer st.Close()
	if mark, ok := strings.CutPrefix(step, "watermark="); ok {
		// The name pull keeps the watermark of the detection sync under.
		return st.Write(ctx, func(tx *store.Tx) error {
			return tx.SetState(map[string]string{"detections.watermark": mark})
		})
	}
	name, rest, _ := strings.Cut(step, ":")
	if name != "dashboard" {
		return fmt.Errorf("--scale-step: unknown step %q (dashboard[:SORTS[:TEXT]], watermark=TIME)", step)
	}
	sorts, only, _ := strings.Cut(rest, ":")
	chosen := listSorts
	if sorts != "" {
		chosen = strings.Split(sorts, ",")
		for _, s := range chosen {
			if !slices.Contains(allSorts, s) {
				return fmt.Errorf("--scale-step %s: unknown order %q (%s)", step, s, strings.Join(allSorts, ", "))
			}
		}
	}
	return dashboard(ctx, st, max(runs, 1), chosen, only, out)
}

// timings holds the durations of the runs of one request.
type timings []time.Duration

func (t timings) pct(p int) time.Duration {
	s := slices.Clone(t)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// caseBudget bounds the time spent on one request: a request that takes
// seconds says so in three runs, and twenty would hold up the whole
// benchmark (and the machine) for minutes.
const caseBudget = 10 * time.Second

// timeRuns runs f runs times, or at least three times and until the
// runs have taken caseBudget.
func timeRuns(runs int, f func() error) (timings, error) {
	var t timings
	var spent time.Duration
	for i := range runs {
		if i >= 3 && spent > caseBudget {
			break
		}
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		d := time.Since(start)
		t = append(t, d)
		spent += d
	}
	return t, nil
}

// listFilters picks the findings list's filters from the store, as
// internal/web's BenchmarkList does: every kind the list offers, with
// values common and rare. The queries run on both engines.
func listFilters(ctx context.Context, db *sql.DB) ([]string, error) {
	one := func(q string, args ...any) (string, error) {
		var s string
		err := db.QueryRowContext(ctx, q, args...).Scan(&s)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("choosing the filters: %s: %w", q, err)
		}
		return s, nil
	}
	var errs []error
	pick := func(q string, args ...any) string {
		s, err := one(q, args...)
		errs = append(errs, err)
		return s
	}
	common := pick("SELECT qid FROM detections WHERE type <> 'Info' GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 1")
	rare := pick("SELECT qid FROM detections WHERE type <> 'Info' AND closed = '' GROUP BY qid ORDER BY count(*), qid LIMIT 1")
	host := pick("SELECT min(host_id) FROM detections WHERE type <> 'Info' AND host_id >= (SELECT (min(id) + max(id)) / 2 FROM hosts)")
	name := pick("SELECT COALESCE(NULLIF(fqdn, ''), NULLIF(dns, ''), ip) FROM hosts WHERE id = ?", host)
	tag := pick("SELECT name FROM host_tags GROUP BY name ORDER BY count(*) DESC, name LIMIT 1")
	cve := pick("SELECT cve_id FROM kb_cves WHERE qid = ? ORDER BY ord LIMIT 1", common)
	title := pick("SELECT title FROM kb_vulns WHERE qid = ?", common)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fs := []string{
		"", "status=all", "status=closed", "status=fixed", "status=gone", "status=ignored", "status=disabled", "status=New", "status=Active", "status=Re-Opened", "status=New,gone", "status=Re-Opened,disabled",
		"rating=Critical", "rating=High", "rating=Low", "rating=None",
		"due=overdue", "due=week",
		"host=" + host, "host=" + url.QueryEscape(name), "qid=" + common, "qid=" + rare,
		"q=zzzz-no-such-title",
	}
	if cve != "" {
		fs = append(fs, "cve="+cve)
	}
	if tag != "" {
		fs = append(fs, "tag="+url.QueryEscape(tag))
	}
	if w := strings.Fields(title); len(w) > 0 {
		fs = append(fs, "q="+url.QueryEscape(w[0]), "q="+url.QueryEscape(title))
	}
	return fs, nil
}

// listSorts are the orders the scale benchmark measures the list in:
// every order of the dashboard, the priority order included (a common
// QID's first page in that order took 2.2 s at ten million findings when
// the benchmark left the order out); allSorts those a step may name.
var (
	allSorts  = []string{"rating", "deadline", "host", "priority"}
	listSorts = allSorts
)

// dashboard measures the findings list (a page of 100 under each filter
// and sort, the first page and the next) and the overview, through
// internal/web's own server: in the orders sorts, under the filters that
// hold only ("" for all).
func dashboard(ctx context.Context, st *store.Store, runs int, sorts []string, only string, out io.Writer) error {
	filters, err := listFilters(ctx, st.DB())
	if err != nil {
		return err
	}
	if only != "" {
		filters = slices.DeleteFunc(filters, func(f string) bool { return !strings.Contains(f, only) })
		if len(filters) == 0 {
			return fmt.Errorf("--scale-step: no filter of the list holds %q", only)
		}
	}
	// The overview cold: a server's first, built from the store (once
	// when only some filters are measured).
	var cold timings
	var spent time.Duration
	coldRuns := min(runs, 5)
	if only != "" {
		coldRuns = 1
	}
	for i := range coldRuns {
		if i > 0 && spent > caseBudget {
			break
		}
		s, err := web.New(st, web.Config{}, nil)
		if err != nil {
			return err
		}
		start := time.Now()
		_, err = s.Overview(ctx)
		cold = append(cold, time.Since(start))
		spent += cold[len(cold)-1]
		s.Close()
		if err != nil {
			return fmt.Errorf("overview: %w", err)
		}
	}
	s, err := web.New(st, web.Config{}, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	h := s.Handler()
	get := func(path string) error {
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
		req.Host = "127.0.0.1" // the dashboard answers to its own names only
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %s", path, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		return nil
	}
	if err := get("/"); err != nil { // the server's first build
		return err
	}
	warm, err := timeRuns(runs, func() error { return get("/") })
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dashboard overview: built from the store %.0f ms median, %.0f ms worst of %d; the page from the built overview %.1f ms median, %.1f ms p95\n",
		ms(cold.pct(50)), ms(cold.pct(100)), len(cold), ms(warm.pct(50)), ms(warm.pct(95)))

	type worst struct {
		d    time.Duration
		what string
	}
	var medians []time.Duration
	var worstMed, worstP95 worst
	var failed []string
	slowMed, slowP95 := 0, 0 // requests over the targets
	for _, f := range filters {
		var line []string
		for _, sort := range sorts {
			for _, page := range []string{"first", "next"} {
				v, _ := url.ParseQuery(f)
				v.Set("sort", sort)
				what := cmpOr(f, "open") + " sort=" + sort + " " + page
				q, err := web.ParseQuery(v)
				if err != nil {
					return fmt.Errorf("%s: %w", what, err)
				}
				if page == "next" {
					p, err := s.Findings(ctx, q)
					if err != nil {
						failed = append(failed, fmt.Sprintf("%s: %v", what, err))
						continue
					}
					if p.Next == nil {
						continue
					}
					q.After = p.Next
				}
				t, err := timeRuns(runs, func() error { _, err := s.Findings(ctx, q); return err })
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", what, err))
					continue
				}
				med, p95 := t.pct(50), t.pct(95)
				medians = append(medians, med)
				if med > 200*time.Millisecond {
					slowMed++
				}
				if p95 > time.Second {
					slowP95++
				}
				if med > worstMed.d {
					worstMed = worst{med, what}
				}
				if p95 > worstP95.d {
					worstP95 = worst{p95, what}
				}
				cell := fmt.Sprintf("%s/%s %.0f/%.0f", sort, page, ms(med), ms(p95))
				if len(t) < runs {
					cell += fmt.Sprintf(" (%d runs)", len(t))
				}
				line = append(line, cell)
			}
		}
		fmt.Fprintf(out, "    %s: %s ms\n", cmpOr(f, "open"), strings.Join(line, ", "))
	}
	if len(medians) > 0 {
		slices.Sort(medians)
		fmt.Fprintf(out, "dashboard findings list, a page of 100: %d requests (each filter and sort, first and next page; median/p95 of up to %d runs above): "+
			"median of medians %.1f ms; worst median %.0f ms (%s); worst p95 %.0f ms (%s); %d over 200 ms median, %d over 1 s p95\n",
			len(medians), runs, ms(medians[len(medians)/2]), ms(worstMed.d), worstMed.what, ms(worstP95.d), worstP95.what, slowMed, slowP95)
	}
	if len(failed) > 0 {
		return fmt.Errorf("the findings list failed %d requests:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
