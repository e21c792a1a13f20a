package web

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"qvt/internal/runs"
)

// recentRuns is how many of the newest runs of the daily job /metrics
// reads at each scrape: enough to find every phase's last success through
// a few weeks of daily failures, few enough to read in a millisecond.
const recentRuns = 50

// Runs of the daily job, from two sources. The counters below count the
// runs that finish in this process (the scheduler of qvt serve, "run
// now"), so that rate() works on them. The gauges (runCollector) are read
// from the store's job_runs at each scrape, so that they are right when
// the runs happen in another process: a systemd timer or cron running
// qvt run beside qvt serve.

// newRunCounters makes the in-process counters of runs and notifications.
func (m *Metrics) newRunCounters() []prometheus.Collector {
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "qvt_runs_total", Help: "Runs of the daily job that finished in this process, by trigger (schedule, manual, command) and status (ok, failed, skipped, interrupted).",
	}, []string{"trigger", "status"})
	m.phaseErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "qvt_phase_errors_total", Help: "Phases of runs in this process that failed, by phase and error kind (auth, rate_limit, network, server, store, config, other).",
	}, []string{"phase", "kind"})
	m.rateWait = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "qvt_rate_limit_wait_seconds_total", Help: "Time runs in this process spent waiting on API rate limits.",
	})
	m.notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "qvt_notifications_total", Help: "Notifications sent, by channel and result (ok, error).",
	}, []string{"channel", "result"})
	return []prometheus.Collector{m.runs, m.phaseErrors, m.rateWait, m.notifications}
}

var _ runs.Observer = (*Metrics)(nil)

// RunFinished counts a run of the daily job that finished in this
// process, skipped ones included. A nil *Metrics (no dashboard) counts
// nothing.
func (m *Metrics) RunFinished(_ context.Context, r runs.Report) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Trigger, r.Status).Inc()
	for _, p := range r.Phases {
		if p.Err != "" {
			m.phaseErrors.WithLabelValues(p.Name, errKind(p)).Inc()
		}
	}
	if r.Waited > 0 {
		m.rateWait.Add(r.Waited.Seconds())
	}
}

// NotifySent counts one notification sent on channel (email, slack,
// teams, webhook…), failed when err is not nil.
func (m *Metrics) NotifySent(channel string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.notifications.WithLabelValues(channel, result).Inc()
}

// errKind is a failed phase's error kind, "other" when the run did not
// classify it, so that every failure is counted under some kind.
func errKind(p runs.Phase) string {
	if p.ErrKind == "" {
		return "other"
	}
	return p.ErrKind
}

// phaseFigures is what the recent runs say of one phase.
type phaseFigures struct {
	name        string
	lastSuccess time.Time      // end of its newest successful attempt; zero when none among the recent runs
	last        time.Time      // end of its newest attempt
	duration    time.Duration  // of its newest attempt
	records     int            // of its newest attempt
	failedKind  string         // the newest attempt's error kind, "" when it succeeded
	errors      map[string]int // failed attempts among the recent runs, by kind
}

// runSummary is what the recent runs say, for the gauges.
type runSummary struct {
	last   *runs.Report   // the newest finished run that was not skipped; nil when none
	phases []phaseFigures // by name
}

// summarize reads runs, newest first (as Store.JobRuns returns them).
// Runs still under way are left out, and so are skipped runs for the
// last run: a firing skipped because another qvt was writing did nothing,
// and the run it yielded to is the one to judge.
func summarize(reports []runs.Report) runSummary {
	var s runSummary
	byName := map[string]*phaseFigures{}
	for i := range reports {
		r := &reports[i]
		if r.Status == runs.StatusRunning || r.Status == runs.StatusSkipped {
			continue
		}
		if s.last == nil {
			s.last = r
		}
		for _, p := range r.Phases {
			end := r.Finished
			if !p.Started.IsZero() {
				end = p.Started.Add(p.Duration)
			}
			f := byName[p.Name]
			if f == nil {
				// Newest first: the first attempt met is the newest.
				f = &phaseFigures{name: p.Name, last: end, duration: p.Duration, records: p.Records, errors: map[string]int{}}
				if p.Err != "" {
					f.failedKind = errKind(p)
				}
				byName[p.Name] = f
			}
			if p.Err != "" {
				f.errors[errKind(p)]++
			} else if f.lastSuccess.IsZero() {
				f.lastSuccess = end
			}
		}
	}
	for _, f := range byName {
		s.phases = append(s.phases, *f)
	}
	slices.SortFunc(s.phases, func(a, b phaseFigures) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return s
}

// lastGoodRun is the end of the newest successful run of the daily job,
// or, in a store that has none (one only ever synced by a qvt that did
// not record runs), of the newest successful sync. Zero when there is
// neither.
func (s *Server) lastGoodRun(ctx context.Context) (time.Time, error) {
	r, err := s.st.LastJobRun(ctx, runs.StatusOK)
	if err != nil {
		return time.Time{}, err
	}
	if r != nil {
		return r.Finished, nil
	}
	var finished sql.NullInt64
	if err := s.st.DB().QueryRowContext(ctx, "SELECT max(finished_at) FROM sync_runs WHERE status = 'done'").Scan(&finished); err != nil {
		return time.Time{}, fmt.Errorf("store: sync runs: %w", err)
	}
	if !finished.Valid || finished.Int64 <= 0 {
		return time.Time{}, nil
	}
	return time.Unix(finished.Int64, 0), nil
}

// runCollector reads the runs of the daily job from the store when
// Prometheus scrapes.
type runCollector struct{ s *Server }

var (
	lastRunTimeDesc = prometheus.NewDesc("qvt_last_run_timestamp_seconds",
		"End of the newest finished run of the daily job (skipped runs left out), Unix seconds.", nil, nil)
	lastRunOKDesc = prometheus.NewDesc("qvt_last_run_success",
		"1 when the newest finished run of the daily job (skipped runs left out) succeeded, else 0.", nil, nil)
	lastRunDurDesc = prometheus.NewDesc("qvt_last_run_duration_seconds",
		"Length of the newest finished run of the daily job.", nil, nil)
	lastRunWaitDesc = prometheus.NewDesc("qvt_last_run_rate_limit_wait_seconds",
		"Time the newest finished run of the daily job spent waiting on API rate limits.", nil, nil)
	lastRunRetriesDesc = prometheus.NewDesc("qvt_last_run_retries",
		"API requests the newest finished run of the daily job repeated after a retryable failure.", nil, nil)
	lastGoodDesc = prometheus.NewDesc("qvt_last_successful_run_timestamp_seconds",
		"End of the newest successful run of the daily job (of the newest successful sync in a store that recorded no runs), Unix seconds.", nil, nil)
	phaseSuccessDesc = prometheus.NewDesc("qvt_phase_last_success_timestamp_seconds",
		"End of the newest successful attempt of a phase (nvd, kb, detections, kev, epss, publish:<target>) among the recent runs, Unix seconds.", []string{"phase"}, nil)
	phaseTimeDesc = prometheus.NewDesc("qvt_phase_last_timestamp_seconds",
		"End of the newest attempt of a phase, failed or not, Unix seconds.", []string{"phase"}, nil)
	phaseDurDesc = prometheus.NewDesc("qvt_phase_last_duration_seconds",
		"Length of the newest attempt of a phase.", []string{"phase"}, nil)
	phaseRecordsDesc = prometheus.NewDesc("qvt_phase_last_records",
		"Records fetched or written by the newest attempt of a phase.", []string{"phase"}, nil)
	phaseFailedDesc = prometheus.NewDesc("qvt_phase_last_failed",
		"1 when the newest attempt of a phase failed (kind: its error kind), 0 when it succeeded.", []string{"phase", "kind"}, nil)
	phaseErrorsDesc = prometheus.NewDesc("qvt_phase_recent_errors",
		"Failed attempts of a phase among the recent runs of the daily job (the last 50), by error kind.", []string{"phase", "kind"}, nil)
)

func (c *runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastRunTimeDesc, lastRunOKDesc, lastRunDurDesc, lastRunWaitDesc, lastRunRetriesDesc,
		lastGoodDesc, phaseSuccessDesc, phaseTimeDesc, phaseDurDesc, phaseRecordsDesc, phaseFailedDesc, phaseErrorsDesc} {
		ch <- d
	}
}

func (c *runCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	good, err := c.s.lastGoodRun(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lastGoodDesc, err)
		return
	}
	if !good.IsZero() {
		ch <- gauge(lastGoodDesc, unixSeconds(good))
	}
	reports, err := c.s.st.JobRuns(ctx, recentRuns)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(lastRunTimeDesc, err)
		return
	}
	sum := summarize(reports)
	if r := sum.last; r != nil {
		ok := 0.0
		if r.OK() {
			ok = 1
		}
		ch <- gauge(lastRunTimeDesc, unixSeconds(r.Finished))
		ch <- gauge(lastRunOKDesc, ok)
		ch <- gauge(lastRunDurDesc, r.Finished.Sub(r.Started).Seconds())
		ch <- gauge(lastRunWaitDesc, r.Waited.Seconds())
		ch <- gauge(lastRunRetriesDesc, float64(r.Retries))
	}
	for _, p := range sum.phases {
		if !p.lastSuccess.IsZero() {
			ch <- gauge(phaseSuccessDesc, unixSeconds(p.lastSuccess), p.name)
		}
		ch <- gauge(phaseTimeDesc, unixSeconds(p.last), p.name)
		ch <- gauge(phaseDurDesc, p.duration.Seconds(), p.name)
		ch <- gauge(phaseRecordsDesc, float64(p.records), p.name)
		failed := 0.0
		if p.failedKind != "" {
			failed = 1
		}
		ch <- gauge(phaseFailedDesc, failed, p.name, p.failedKind)
		for kind, n := range p.errors {
			ch <- gauge(phaseErrorsDesc, float64(n), p.name, kind)
		}
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// unixSeconds keeps sub-second precision: a run's phases end within the
// same second.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
