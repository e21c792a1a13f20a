package app

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"qvt/internal/runs"
	"qvt/internal/schedule"
	"qvt/internal/store"
	"qvt/internal/web"
)

func (e *env) serveCommand() *cobra.Command {
	var addr, sched string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard: overview, findings list, finding, host and QID pages",
		Long: `Serve the dashboard from the store: the overview (open findings by rating
and status, overdue and due within 7 days, new, fixed and reopened in the
last sync, open findings over time, remediation against the SLA, the top
QIDs and hosts), the findings list with its filters and downloads, the
pages of a finding, a host and a QID, the owners page, the exceptions
(list, page, audit trail, expiring soon), a JSON API under /api/,
/healthz and /metrics. It reads the store, so it can run beside qvt sync;
it shows each sync's results as soon as it commits. With a login, or on
loopback, it also adds, extends and revokes exceptions (forms protected
against cross-site request forgery; POST /api/exceptions… with the
bearer token), taking the store's writer lock for each.

It listens on 127.0.0.1:8080 unless --addr or web.addr (QVT_WEB_ADDR) says
otherwise, and refuses an address beyond loopback unless a login is set:
web.auth.user and web.auth.password (QVT_WEB_USER, QVT_WEB_PASSWORD) for
HTTP basic, or web.auth.token (QVT_WEB_TOKEN) for a bearer token, 12
characters or more. It answers requests for localhost, 127.0.0.1, [::1]
and the address it binds; the names people reach it by go in web.hosts
(QVT_WEB_HOSTS, comma separated), other names get 421 Misdirected Request.
With web.tls_cert and web.tls_key (QVT_WEB_TLS_CERT, QVT_WEB_TLS_KEY) it
serves HTTPS.

With --schedule (or schedule.run, QVT_SCHEDULE) it also runs the daily
job, what qvt run does, at each firing: a cron expression of 5 fields
("0 2 * * *") or @daily, @hourly, @weekly, @monthly, @every 6h, read in
schedule.timezone (QVT_SCHEDULE_TZ, an IANA zone; default UTC), each
firing delayed by a random part of schedule.jitter. A firing that would
overlap another writer of the store is skipped and recorded; a failed run
is retried after 1, 5, 15 and then every 60 minutes, never past the next
firing. The overview shows the last run and the next, and a "Run now"
button (POST /runs; POST /api/runs with the bearer token). SIGTERM or
SIGINT stops a run at its next commit (the next run resumes), or after
30 seconds at once.`,
		Example: `  qvt serve --schedule "0 2 * * *"
  qvt serve --schedule @daily
  QVT_SCHEDULE="30 1 * * 1-5" QVT_SCHEDULE_TZ=Europe/Paris qvt serve`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if addr != "" {
				e.cfg.Web.Addr = addr
			}
			return e.serveScheduled(cmd.Context(), sched, true)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "host:port to listen on (default 127.0.0.1:8080)")
	cmd.Flags().StringVar(&sched, "schedule", "", `run the daily job on this schedule: "0 2 * * *", @daily, @every 6h... (default schedule.run, QVT_SCHEDULE)`)
	return cmd
}

// stopGrace is how long a run may take to reach its next commit once
// SIGTERM came; then it is cut.
var stopGrace = 30 * time.Second

// scheduleSpec reads the schedule of the daily job from --schedule (flag)
// or schedule.run; nil when neither is set.
func (e *env) scheduleSpec(flag string) (*schedule.Spec, error) {
	c, name := e.cfg.Schedule, "schedule.run"
	if flag != "" {
		c.Run, name = flag, "--schedule"
	}
	if c.Run == "" {
		return nil, nil
	}
	spec, err := schedule.Parse(c, name)
	if err != nil {
		return nil, usageError{err}
	}
	return spec, nil
}

// scheduler is the scheduler of the daily job on spec, recording its
// runs in st.
func (e *env) scheduler(spec *schedule.Spec, st *store.Store) *schedule.Scheduler {
	return &schedule.Scheduler{
		Spec: spec,
		Log:  e.log,
		Run:  e.scheduledRun,
		Record: func(ctx context.Context, r runs.Report) error {
			return st.Write(ctx, func(tx *store.Tx) error { return tx.FinishJobRun(r) })
		},
		Last: func(ctx context.Context) (*runs.Report, error) { return st.LastJobRun(ctx, "") },
	}
}

// createForSchedule makes the store a scheduled service starts without
// (an empty volume, a new database): its first run fills it, and until
// then the dashboard shows it empty, with the next run and "Run now".
func (e *env) createForSchedule(ctx context.Context) error {
	if ok, err := store.Exists(e.cfg.DB); err != nil || ok {
		return err
	}
	st, err := e.openWriter(ctx, "sync")
	if err != nil {
		return err
	}
	st.Close()
	e.unlockStore()
	e.log.Info("no store yet: made an empty one for the scheduled runs to fill", "store", store.Shown(e.cfg.DB))
	return nil
}

// scheduledRun is one run inside qvt serve. When ctx ends (SIGTERM) the
// sync stops at its next commit; a run still going stopGrace later is
// cut.
func (e *env) scheduledRun(ctx context.Context, seed runs.Report) (runs.Report, error) {
	hard, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(stopGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-done:
			}
		case <-done:
		}
	}()
	return e.runJob(hard, job{seed: seed, sync: scheduledSync(), publish: true, stop: ctx.Done(), background: true})
}

// scheduledSync is the sync of a scheduled run: qvt run's defaults.
var scheduledSync = func() syncFlags {
	var f syncFlags
	f.add(&cobra.Command{})
	return f
}

// serve runs the dashboard on the configured store until ctx ends (qvt
// demo: no schedule).
func (e *env) serve(ctx context.Context) error { return e.serveScheduled(ctx, "", false) }

// serveScheduled runs the dashboard on the configured store until ctx
// ends, and, with scheduled, the scheduler beside it when a schedule is
// set (--schedule, else schedule.run).
func (e *env) serveScheduled(ctx context.Context, schedFlag string, scheduled bool) error {
	var spec *schedule.Spec
	if scheduled {
		var err error
		if spec, err = e.scheduleSpec(schedFlag); err != nil {
			return err
		}
	}
	if spec != nil {
		if err := e.createForSchedule(ctx); err != nil {
			return err
		}
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := e.cfg.Web
	if cfg.JiraURL == "" {
		cfg.JiraURL = e.cfg.Jira.URL
	}
	cfg.SLADays = e.cfg.Policy().SLADays
	cfg.Environments = e.cfg.Environments
	cfg.Exceptions = e.cfg.Exceptions
	// The dashboard reads without the writer lock; it takes it for each
	// exception added, extended or revoked, as any writer does, and
	// applies the exceptions as the loader does (restart_sla).
	cfg.Lock = func(ctx context.Context) (store.WriteLock, error) {
		return store.LockWriter(ctx, e.cfg.DB, store.LockOptions{Command: "serve", Wait: true, Via: e.lockVia(e.cfg.DB)})
	}
	l := e.loader()
	cfg.Apply = func(tx *store.Tx) error {
		_, err := l.ApplyExceptions(tx)
		return err
	}
	var sched *schedule.Scheduler
	if spec != nil {
		sched = e.scheduler(spec, st)
		cfg.Scheduler = sched
	}
	srv, err := web.New(st, cfg, e.log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	defer srv.Close()
	if sched == nil {
		return srv.ListenAndServe(ctx)
	}
	// The metrics and the notifiers hear every run, skipped ones too.
	sched.Observers = append(sched.Observers, srv.Metrics())
	if o := e.notifyObserver(srv.Metrics().NotifySent); o != nil {
		sched.Observers = append(sched.Observers, o)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		sched.Serve(ctx)
	}()
	err = srv.ListenAndServe(ctx)
	// A dashboard that failed to start stops the scheduler too; on a
	// signal, the run under way reaches its next commit first.
	cancel()
	<-stopped
	return err
}
