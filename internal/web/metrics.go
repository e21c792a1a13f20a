package web

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is what /metrics exports, on a registry of its own (not
// Prometheus' global one, so that tests and several servers in one
// process stay apart):
//
//   - qvt_findings{rating,status}: findings by rating and Qualys status,
//     qvt_findings_open{rating}, qvt_findings_overdue{rating}, from the
//     overview (recomputed when the store changes);
//   - qvt_last_sync_timestamp_seconds, qvt_last_sync_duration_seconds:
//     the last successful sync (sync_runs), and
//     qvt_last_data_timestamp_seconds: the time of the newest data, which
//     an import moves too;
//   - qvt_api_calls_total{api,endpoint}, qvt_api_retries_total{api,endpoint}:
//     Qualys and NVD calls, fed by whoever syncs in this process
//     (AddAPICalls);
//   - qvt_findings_open_priority{priority}, qvt_findings_kev_open,
//     qvt_findings_kev_overdue: open findings by priority and on a KEV
//     CVE, from the overview;
//   - the runs of the daily job (runmetrics.go): in-process counters
//     (qvt_runs_total, qvt_phase_errors_total,
//     qvt_rate_limit_wait_seconds_total, qvt_notifications_total) and
//     gauges read from the store's job_runs (the last run, the last
//     successful one, and each phase's last success, duration, records
//     and failure);
//   - qvt_http_requests_total{route,code},
//     qvt_http_request_duration_seconds{route}: the dashboard itself;
//   - Go runtime and process metrics.
type Metrics struct {
	reg             *prometheus.Registry
	apiCalls        *prometheus.CounterVec
	apiRetries      *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	overviewSeconds prometheus.Gauge
	// Runs and notifications in this process (runmetrics.go).
	runs          *prometheus.CounterVec
	phaseErrors   *prometheus.CounterVec
	rateWait      prometheus.Counter
	notifications *prometheus.CounterVec
}

func newMetrics(s *Server) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qvt_api_calls_total", Help: "HTTP requests sent to the Qualys and NVD APIs, by endpoint.",
		}, []string{"api", "endpoint"}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qvt_api_retries_total", Help: "Requests to the Qualys and NVD APIs repeated after a retryable failure, by endpoint.",
		}, []string{"api", "endpoint"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "qvt_http_requests_total", Help: "Requests the dashboard answered, by route and status code.",
		}, []string{"route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "qvt_http_request_duration_seconds", Help: "Time the dashboard took to answer, by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		overviewSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "qvt_dashboard_overview_build_seconds", Help: "Time the last computation of the overview took.",
		}),
	}
	m.reg.MustRegister(m.apiCalls, m.apiRetries, m.httpRequests, m.httpDuration, m.overviewSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{s: s}, &runCollector{s: s})
	m.reg.MustRegister(m.newRunCounters()...)
	return m
}

// Registry is the registry /metrics serves; register more collectors on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// AddAPICalls counts calls to an API endpoint ("qualys" or "nvd", and the
// endpoint's path) and how many of them were retries.
func (m *Metrics) AddAPICalls(api, endpoint string, calls, retries int) {
	if calls > 0 {
		m.apiCalls.WithLabelValues(api, endpoint).Add(float64(calls))
	}
	if retries > 0 {
		m.apiRetries.WithLabelValues(api, endpoint).Add(float64(retries))
	}
}

// storeCollector reads the findings and sync metrics from the store when
// Prometheus scrapes.
type storeCollector struct{ s *Server }

var (
	findingsDesc = prometheus.NewDesc("qvt_findings", "Findings by rating (vuln_score) and Qualys status.", []string{"rating", "status"}, nil)
	openDesc     = prometheus.NewDesc("qvt_findings_open", "Open findings (not fixed, gone, ignored or disabled) by rating.", []string{"rating"}, nil)
	overdueDesc  = prometheus.NewDesc("qvt_findings_overdue", "Open findings past their deadline, by rating.", []string{"rating"}, nil)
	syncTimeDesc = prometheus.NewDesc("qvt_last_sync_timestamp_seconds", "End of the last successful sync, Unix seconds.", nil, nil)
	syncDurDesc  = prometheus.NewDesc("qvt_last_sync_duration_seconds", "Length of the last successful sync.", nil, nil)
	dataTimeDesc = prometheus.NewDesc("qvt_last_data_timestamp_seconds", "Time of the newest data in the store (a sync's start, an imported file's date), Unix seconds.", nil, nil)
	prioDesc     = prometheus.NewDesc("qvt_findings_open_priority", "Open findings by priority (P1 to P4, none when not prioritized).", []string{"priority"}, nil)
	kevOpenDesc  = prometheus.NewDesc("qvt_findings_kev_open", "Open findings whose QID is in CISA's KEV catalog.", nil, nil)
	kevLateDesc  = prometheus.NewDesc("qvt_findings_kev_overdue", "Open findings on a KEV CVE past their due date.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{findingsDesc, openDesc, overdueDesc, syncTimeDesc, syncDurDesc, dataTimeDesc, prioDesc, kevOpenDesc, kevLateDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var started, finished, seen sql.NullInt64
	err := c.s.st.DB().QueryRowContext(ctx, `SELECT
  (SELECT started_at FROM sync_runs WHERE status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1),
  (SELECT finished_at FROM sync_runs WHERE status = 'done' ORDER BY finished_at DESC, id DESC LIMIT 1),
  (SELECT max(seen) FROM hosts)`).Scan(&started, &finished, &seen)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(syncTimeDesc, err)
	} else {
		if finished.Valid {
			ch <- prometheus.MustNewConstMetric(syncTimeDesc, prometheus.GaugeValue, float64(finished.Int64))
			ch <- prometheus.MustNewConstMetric(syncDurDesc, prometheus.GaugeValue, float64(finished.Int64-started.Int64))
		}
		if seen.Valid && seen.Int64 > 0 {
			ch <- prometheus.MustNewConstMetric(dataTimeDesc, prometheus.GaugeValue, float64(seen.Int64))
		}
	}
	o, err := c.s.Overview(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			ch <- prometheus.NewInvalidMetric(findingsDesc, err)
		}
		return
	}
	for _, m := range o.Matrix {
		ch <- prometheus.MustNewConstMetric(findingsDesc, prometheus.GaugeValue, float64(m.Count), m.Rating, m.Status)
	}
	for i, r := range o.ByRating {
		ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(r.Count), r.Name)
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(o.OverdueBy[i].Count), r.Name)
	}
	for _, p := range o.ByPriority {
		ch <- gauge(prioDesc, float64(p.Count), p.Name)
	}
	ch <- gauge(kevOpenDesc, float64(o.KEVOpen))
	ch <- gauge(kevLateDesc, float64(o.KEVOverdue))
}
