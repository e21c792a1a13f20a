// Package runs holds what one run of qvt's daily job (sync, then publish)
// reports: when it ran, why, what each phase did and what changed. The
// scheduler makes reports, the store keeps them (job_runs), and the
// dashboard, /metrics and the notifiers read them.
package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// How a run was started.
const (
	TriggerSchedule = "schedule" // a firing of qvt serve --schedule
	TriggerManual   = "manual"   // the dashboard's "run now"
	TriggerCommand  = "command"  // qvt run or qvt sync from a shell, cron or a systemd timer
)

// The outcome of a run.
const (
	StatusRunning     = "running"
	StatusOK          = "ok"
	StatusFailed      = "failed"
	StatusSkipped     = "skipped"     // it would have overlapped another writer
	StatusInterrupted = "interrupted" // SIGTERM or SIGINT stopped it at a commit
)

// Phase is one step of a run: "nvd", "kb", "detections", "kev", "epss",
// or "publish:<target>" (mysql, jira, assets).
type Phase struct {
	Name     string        `json:"name"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Records  int           `json:"records"`              // records fetched or written
	Err      string        `json:"error,omitempty"`      // why it failed, secrets redacted
	ErrKind  string        `json:"error_kind,omitempty"` // a short class for metrics: auth, rate_limit, network, server, store, config, other
}

// Changes is what a run changed in the findings, for notifications.
type Changes struct {
	New          map[string]int `json:"new,omitempty"`           // new findings by priority (P1…P4) or, without priorities, by rating
	NewKEV       int            `json:"new_kev,omitempty"`       // new findings on a KEV CVE
	Fixed        int            `json:"fixed,omitempty"`         // findings Qualys reported Fixed in this run
	Reopened     int            `json:"reopened,omitempty"`      // findings Qualys reported Re-Opened in this run
	NewlyOverdue int            `json:"newly_overdue,omitempty"` // open findings whose due date passed since the previous run
}

// Add is the sum of two counts of changes (a run's, from its owners').
func (c Changes) Add(o Changes) Changes {
	if len(o.New) > 0 {
		sum := make(map[string]int, len(c.New)+len(o.New))
		for k, n := range c.New {
			sum[k] = n
		}
		for k, n := range o.New {
			sum[k] += n
		}
		c.New = sum
	}
	c.NewKEV += o.NewKEV
	c.Fixed += o.Fixed
	c.Reopened += o.Reopened
	c.NewlyOverdue += o.NewlyOverdue
	return c
}

// Report is one run.
type Report struct {
	ID       int64         `json:"id"`     // the store's job_runs id, 0 before it is recorded
	RunID    string        `json:"run_id"` // on every log line of the run
	Trigger  string        `json:"trigger"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Status   string        `json:"status"`
	Err      string        `json:"error,omitempty"`
	Phases   []Phase       `json:"phases,omitempty"`
	Changes  Changes       `json:"changes"`
	Waited   time.Duration `json:"rate_limit_wait,omitempty"` // time spent waiting on API rate limits
	Retries  int           `json:"retries,omitempty"`         // API requests repeated after a retryable failure
	Attempt  int           `json:"attempt,omitempty"`         // 1 for a firing, 2… for its retries
}

// OK tells a run that finished without error.
func (r Report) OK() bool { return r.Status == StatusOK }

// Observer is told of every finished run (the metrics, the notifiers).
// It must not fail the run: it logs and counts its own errors.
type Observer interface {
	RunFinished(ctx context.Context, r Report)
}

// Status is what the dashboard shows of the scheduler.
type Status struct {
	Spec     string    // the schedule, e.g. "0 2 * * *", "" when none
	Timezone string    // the zone the schedule is read in
	Next     time.Time // the next firing, zero when none
	Running  bool      // a run is under way in this process
	Last     *Report   // the last finished run, from the store
}

// Scheduler is what the dashboard asks of the scheduler: its state, and
// to run now. RunNow starts a run and returns its run id, or ErrRunning
// when a run is under way in this process.
type Scheduler interface {
	Status(ctx context.Context) Status
	RunNow(ctx context.Context) (runID string, err error)
}

// ErrRunning is RunNow's answer while a run is under way.
var ErrRunning = errors.New("a run is under way")

// NewRunID returns a random id for a run, to find its log lines: 12 hex
// digits, unique enough among the runs of one installation.
func NewRunID() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
