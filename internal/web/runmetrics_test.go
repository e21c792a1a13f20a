package web

import (
	"context"
	"errors"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"qvt/internal/runs"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// scrape reads /metrics as Prometheus does, and returns each series'
// value by its name and labels in the text format's order, e.g.
// `qvt_phase_last_failed{kind="auth",phase="publish:jira"}`.
func scrape(t *testing.T, hs *httptest.Server) map[string]float64 {
	t.Helper()
	status, _, body := get(t, hs, "/metrics")
	if status != 200 {
		t.Fatalf("/metrics: status %d", status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if l.GetValue() == "" {
					continue // Prometheus reads an empty label as no label
				}
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = value(f.GetType(), m)
		}
	}
	return out
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// recordRuns writes reports into job_runs as the scheduler and qvt run
// do: finished ones whole, a running one started only.
func recordRuns(t *testing.T, st *store.Store, reports ...runs.Report) {
	t.Helper()
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		for _, r := range reports {
			if r.Status == runs.StatusRunning {
				if _, err := tx.StartJobRun(r); err != nil {
					return err
				}
				continue
			}
			if err := tx.FinishJobRun(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// /metrics shows the runs of the daily job that another process recorded
// in the store: the last run and the last good one, and each phase's last
// success, length, records and failure. A skipped run and one still under
// way are not "the last run".
func TestRunMetricsFromStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		hs := newHTTPTest(s)
		t.Cleanup(hs.Close)

		// A fresh store: no run, so no run figures at all (absent, not 0,
		// so that an alert on their age does not fire on 1970).
		m := scrape(t, hs)
		for _, name := range []string{"qvt_last_run_timestamp_seconds", "qvt_last_successful_run_timestamp_seconds", "qvt_last_run_success"} {
			if v, ok := m[name]; ok {
				t.Errorf("a store without runs exports %s %v", name, v)
			}
		}

		t0 := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC)
		phase := func(name string, start time.Duration, d time.Duration, records int, kind string) runs.Phase {
			p := runs.Phase{Name: name, Started: t0.Add(start), Duration: d, Records: records}
			if kind != "" {
				p.Err, p.ErrKind = "failed: "+kind, kind
			}
			return p
		}
		day := 24 * time.Hour
		good := runs.Report{RunID: "a1", Trigger: runs.TriggerSchedule, Status: runs.StatusOK, Started: t0, Finished: t0.Add(10 * time.Minute),
			Phases: []runs.Phase{
				phase("nvd", 0, time.Minute, 40, ""),
				phase("detections", time.Minute, 5*time.Minute, 1200, ""),
				phase("publish:jira", 6*time.Minute, 3*time.Minute, 17, ""),
			}}
		bad := runs.Report{RunID: "b2", Trigger: runs.TriggerCommand, Status: runs.StatusFailed, Started: t0.Add(day), Finished: t0.Add(day + 20*time.Minute),
			Err: "publish: jira: 401", Waited: 90 * time.Second, Retries: 3,
			Phases: []runs.Phase{
				phase("nvd", day, 2*time.Minute, 0, "rate_limit"),
				phase("detections", day+2*time.Minute, 4*time.Minute, 900, ""),
				{Name: "publish:jira", Started: t0.Add(day + 6*time.Minute), Duration: time.Second, Err: "publish: jira: who knows"},
			}}
		skipped := runs.Report{RunID: "c3", Trigger: runs.TriggerSchedule, Status: runs.StatusSkipped, Started: t0.Add(2 * day), Finished: t0.Add(2 * day)}
		running := runs.Report{RunID: "d4", Trigger: runs.TriggerManual, Status: runs.StatusRunning, Started: t0.Add(2*day + time.Hour)}
		recordRuns(t, st, good, bad, skipped, running)

		m = scrape(t, hs)
		unix := func(tm time.Time) float64 { return float64(tm.Unix()) }
		for name, want := range map[string]float64{
			"qvt_last_run_timestamp_seconds":            unix(bad.Finished),
			"qvt_last_run_success":                      0,
			"qvt_last_run_duration_seconds":             20 * 60,
			"qvt_last_run_rate_limit_wait_seconds":      90,
			"qvt_last_run_retries":                      3,
			"qvt_last_successful_run_timestamp_seconds": unix(good.Finished),
			// The failed publish leaves its last success at the good run.
			`qvt_phase_last_success_timestamp_seconds{phase="publish:jira"}`: unix(t0.Add(9 * time.Minute)),
			`qvt_phase_last_success_timestamp_seconds{phase="detections"}`:   unix(t0.Add(day + 6*time.Minute)),
			`qvt_phase_last_success_timestamp_seconds{phase="nvd"}`:          unix(t0.Add(time.Minute)),
			`qvt_phase_last_timestamp_seconds{phase="nvd"}`:                  unix(t0.Add(day + 2*time.Minute)),
			`qvt_phase_last_duration_seconds{phase="detections"}`:            4 * 60,
			`qvt_phase_last_records{phase="detections"}`:                     900,
			`qvt_phase_last_failed{kind="other",phase="publish:jira"}`:       1,
			`qvt_phase_last_failed{kind="rate_limit",phase="nvd"}`:           1,
			`qvt_phase_last_failed{phase="detections"}`:                      0,
			`qvt_phase_recent_errors{kind="rate_limit",phase="nvd"}`:         1,
			`qvt_phase_recent_errors{kind="other",phase="publish:jira"}`:     1,
		} {
			got, ok := m[name]
			if !ok {
				t.Errorf("/metrics lacks %s", name)
			} else if got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if _, ok := m[`qvt_phase_recent_errors{kind="other",phase="detections"}`]; ok {
			t.Error("a phase that never failed has recent errors")
		}

		// A later good run makes the last run a success, and the
		// publish phase's last failure 0.
		fixed := runs.Report{RunID: "e5", Trigger: runs.TriggerSchedule, Status: runs.StatusOK, Started: t0.Add(3 * day), Finished: t0.Add(3*day + time.Minute),
			Phases: []runs.Phase{phase("publish:jira", 3*day, 30*time.Second, 2, "")}}
		recordRuns(t, st, fixed)
		m = scrape(t, hs)
		for name, want := range map[string]float64{
			"qvt_last_run_success":                        1,
			"qvt_last_successful_run_timestamp_seconds":   unix(fixed.Finished),
			`qvt_phase_last_failed{phase="publish:jira"}`: 0,
			// Still among the recent runs.
			`qvt_phase_recent_errors{kind="other",phase="publish:jira"}`: 1,
		} {
			if got, ok := m[name]; !ok || got != want {
				t.Errorf("after a good run: %s = %v (exported %v), want %v", name, got, ok, want)
			}
		}
	})
}

// A store that only ever had plain syncs (no job_runs) gives the last
// successful sync as its last successful run.
func TestLastGoodRunFallsBackToSyncs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		end := time.Date(2026, 12, 4, 2, 0, 5, 0, time.UTC)
		if _, err := st.DB().ExecContext(context.Background(), `INSERT INTO sync_runs (kind, started_at, finished_at, status) VALUES
('full', 1, 2, 'done'), ('incremental', 10, `+strconv.FormatInt(end.Unix(), 10)+`, 'done'), ('incremental', 20, `+strconv.FormatInt(end.Unix()+3600, 10)+`, 'failed')`); err != nil {
			t.Fatal(err)
		}
		got, err := s.lastGoodRun(context.Background())
		if err != nil || !got.Equal(end) {
			t.Fatalf("last good run of a store with syncs only: %v, %v; want %v", got, err, end)
		}
		// Once runs are recorded, they are what counts, even when older.
		run := runs.Report{RunID: "x", Trigger: runs.TriggerCommand, Status: runs.StatusOK, Started: end.Add(-2 * time.Hour), Finished: end.Add(-time.Hour)}
		recordRuns(t, st, run)
		if got, err := s.lastGoodRun(context.Background()); err != nil || !got.Equal(run.Finished) {
			t.Errorf("last good run with a recorded run: %v, %v; want %v", got, err, run.Finished)
		}
	})
}

// The counters count the runs and notifications of this process, and the
// fixture's open findings by priority add up to its open findings.
func TestRunCountersAndPriorities(t *testing.T) {
	s, hs := newTestServer(t, Config{})
	ctx := context.Background()
	m := s.Metrics()
	m.RunFinished(ctx, runs.Report{Trigger: runs.TriggerSchedule, Status: runs.StatusOK, Waited: 30 * time.Second})
	m.RunFinished(ctx, runs.Report{Trigger: runs.TriggerSchedule, Status: runs.StatusSkipped})
	m.RunFinished(ctx, runs.Report{Trigger: runs.TriggerSchedule, Status: runs.StatusSkipped})
	m.RunFinished(ctx, runs.Report{Trigger: runs.TriggerManual, Status: runs.StatusFailed, Waited: 15 * time.Second,
		Phases: []runs.Phase{{Name: "kb", Err: "401", ErrKind: "auth"}, {Name: "publish:mysql", Err: "?"}, {Name: "detections"}}})
	m.NotifySent("email", nil)
	m.NotifySent("email", errors.New("smtp: 550"))
	m.NotifySent("slack", nil)
	var none *Metrics // qvt run without a dashboard
	none.RunFinished(ctx, runs.Report{Status: runs.StatusOK})
	none.NotifySent("email", nil)

	got := scrape(t, hs)
	for name, want := range map[string]float64{
		`qvt_runs_total{status="ok",trigger="schedule"}`:             1,
		`qvt_runs_total{status="skipped",trigger="schedule"}`:        2,
		`qvt_runs_total{status="failed",trigger="manual"}`:           1,
		`qvt_phase_errors_total{kind="auth",phase="kb"}`:             1,
		`qvt_phase_errors_total{kind="other",phase="publish:mysql"}`: 1,
		"qvt_rate_limit_wait_seconds_total":                          45,
		`qvt_notifications_total{channel="email",result="ok"}`:       1,
		`qvt_notifications_total{channel="email",result="error"}`:    1,
		`qvt_notifications_total{channel="slack",result="ok"}`:       1,
		`qvt_findings_kev_open`:                                      float64(mustOverview(t, s).KEVOpen),
		`qvt_findings_kev_overdue`:                                   float64(mustOverview(t, s).KEVOverdue),
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (exported %v), want %v", name, v, ok, want)
		}
	}
	if _, ok := got[`qvt_phase_errors_total{kind="other",phase="detections"}`]; ok {
		t.Error("a phase that succeeded is counted as an error")
	}
	var open, byPrio float64
	for name, v := range got {
		switch {
		case strings.HasPrefix(name, "qvt_findings_open{"):
			open += v
		case strings.HasPrefix(name, "qvt_findings_open_priority{"):
			byPrio += v
		}
	}
	if open == 0 || byPrio != open {
		t.Errorf("open findings by priority add up to %v, by rating to %v", byPrio, open)
	}
	if got[`qvt_findings_open_priority{priority="P1"}`] == 0 {
		t.Error("the fixture has no open P1 finding on /metrics")
	}
}

func mustOverview(t *testing.T, s *Server) *Overview {
	t.Helper()
	o, err := s.Overview(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// summarize reads newest first; its figures, case by case.
func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	ok := func(id string, at time.Duration, phases ...runs.Phase) runs.Report {
		return runs.Report{RunID: id, Status: runs.StatusOK, Started: t0.Add(at), Finished: t0.Add(at + time.Hour), Phases: phases}
	}
	failed := func(r runs.Report) runs.Report { r.Status = runs.StatusFailed; return r }
	p := func(name string, at time.Duration, err string) runs.Phase {
		return runs.Phase{Name: name, Started: t0.Add(at), Duration: time.Minute, Err: err}
	}
	for _, tc := range []struct {
		name        string
		reports     []runs.Report // newest first
		last        string        // RunID of the last run
		phase       string
		lastSuccess time.Time
		failedKind  string
		errors      int
	}{
		{name: "none", last: ""},
		{name: "one good", reports: []runs.Report{ok("a", 0, p("kb", 0, ""))}, last: "a", phase: "kb", lastSuccess: t0.Add(time.Minute)},
		{name: "newest failed, older good", reports: []runs.Report{failed(ok("b", 48*time.Hour, p("kb", 48*time.Hour, "x"))), ok("a", 0, p("kb", 0, ""))},
			last: "b", phase: "kb", lastSuccess: t0.Add(time.Minute), failedKind: "other", errors: 1},
		{name: "newest good, older failures", reports: []runs.Report{ok("c", 72*time.Hour, p("kb", 72*time.Hour, "")), failed(ok("b", 48*time.Hour, p("kb", 48*time.Hour, "x"))), failed(ok("a", 0, p("kb", 0, "y")))},
			last: "c", phase: "kb", lastSuccess: t0.Add(72*time.Hour + time.Minute), errors: 2},
		{name: "never succeeded", reports: []runs.Report{failed(ok("a", 0, p("kb", 0, "x")))}, last: "a", phase: "kb", failedKind: "other", errors: 1},
		{name: "skipped and running are not last", reports: []runs.Report{{RunID: "r", Status: runs.StatusRunning}, {RunID: "s", Status: runs.StatusSkipped}, ok("a", 0)}, last: "a"},
		{name: "interrupted is last", reports: []runs.Report{{RunID: "i", Status: runs.StatusInterrupted, Finished: t0.Add(50 * time.Hour)}, ok("a", 0)}, last: "i"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize(tc.reports)
			last := ""
			if s.last != nil {
				last = s.last.RunID
			}
			if last != tc.last {
				t.Errorf("last run %q, want %q", last, tc.last)
			}
			if tc.phase == "" {
				if len(s.phases) != 0 {
					t.Errorf("phases %+v, want none", s.phases)
				}
				return
			}
			if len(s.phases) != 1 || s.phases[0].name != tc.phase {
				t.Fatalf("phases %+v, want %s alone", s.phases, tc.phase)
			}
			f := s.phases[0]
			n := 0
			for _, c := range f.errors {
				n += c
			}
			if !f.lastSuccess.Equal(tc.lastSuccess) || f.failedKind != tc.failedKind || n != tc.errors {
				t.Errorf("got last success %v, failed %q, %d errors; want %v, %q, %d", f.lastSuccess, f.failedKind, n, tc.lastSuccess, tc.failedKind, tc.errors)
			}
		})
	}
}
