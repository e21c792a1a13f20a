package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/pull"
	"qvt/internal/runs"
	"qvt/internal/store"
)

// job is one run of the daily job: a sync, then (for qvt run and the
// scheduler) a publish to the configured targets.
type job struct {
	seed      runs.Report     // its RunID, Trigger and Attempt; the rest is filled in
	sync      syncFlags       //
	publish   bool            // publish after the sync (qvt run, the scheduler)
	targets   []string        // --to; nil: every configured target
	stop      <-chan struct{} // closes to stop the sync at its next commit
	observers []runs.Observer // told of the run once recorded
	// background runs inside qvt serve: nothing printed, and the writer
	// lock released at the end (a command keeps it until it exits).
	background bool
}

// runJob runs j under one writer lock, records it in job_runs from its
// start to its end, and tells the observers. Its errors are the
// commands' (qvt sync and qvt run print them as before). An error
// wrapping *store.BusyError means nothing ran, and nothing is recorded.
func (e *env) runJob(ctx context.Context, j job) (rep runs.Report, err error) {
	rep = j.seed
	if rep.RunID == "" {
		rep.RunID = runs.NewRunID()
	}
	if rep.Started.IsZero() {
		rep.Started = time.Now()
	}
	if rep.Attempt == 0 {
		rep.Attempt = 1
	}
	if err := j.sync.check(); err != nil {
		return rep, err
	}
	// Every log line of the run carries its id: the run works on a copy
	// of the environment with its own logger.
	je := *e
	je.log = e.log.With("run_id", rep.RunID)
	if j.background {
		je.stdout, je.quiet = io.Discard, true
	}
	defer func() {
		e.lock = je.lock
		if j.background {
			e.unlockStore()
		}
	}()
	var st *store.Store
	defer func() {
		rep.Finished = time.Now()
		rep.Status = runs.StatusOK
		switch {
		case err == nil:
		case errors.Is(err, pull.ErrStopped) || ctx.Err() != nil:
			rep.Status, rep.Err = runs.StatusInterrupted, redact(err.Error(), e.secrets())
		default:
			rep.Status, rep.Err = runs.StatusFailed, redact(err.Error(), e.secrets())
		}
		for i := range rep.Phases {
			rep.Phases[i].Err = redact(rep.Phases[i].Err, e.secrets())
		}
		if _, busy := errors.AsType[*store.BusyError](err); busy {
			return
		}
		// A command refused before it opened the store leaves the store
		// as it was; inside qvt serve the dashboard shows every failure.
		if st != nil || j.background {
			if rerr := je.recordRun(ctx, st, rep); rerr != nil {
				je.log.Error("recording the run", "err", rerr)
			}
		}
		if st != nil {
			st.Close()
		}
		// A command prints its own outcome; inside qvt serve the log
		// is where a run's end shows.
		level := slog.LevelDebug
		if j.background {
			level = slog.LevelInfo
		}
		je.log.Log(context.WithoutCancel(ctx), level, "run finished", "trigger", rep.Trigger, "status", rep.Status, "took", rep.Finished.Sub(rep.Started).Round(time.Millisecond))
		for _, o := range j.observers {
			o.RunFinished(context.WithoutCancel(ctx), rep)
		}
	}()
	st, err = je.syncJob(ctx, j, &rep)
	if err != nil || !j.publish {
		return rep, err
	}
	names := j.targets
	if len(names) == 0 {
		names = e.configured()
	}
	if len(names) == 0 {
		fmt.Fprintln(je.stdout, "no publish target is configured: sync only")
		return rep, nil
	}
	return rep, je.publishPhases(ctx, names, false, false, &rep.Phases)
}

// recordRun writes the run's end in job_runs: on its own store when the
// sync opened one, else, for a scheduled run that failed before, on the
// store if there is one (a small insert that needs no writer lock).
func (e *env) recordRun(ctx context.Context, st *store.Store, rep runs.Report) error {
	ctx = context.WithoutCancel(ctx)
	if st == nil {
		if ok, err := store.Exists(e.cfg.DB); err != nil || !ok {
			return err
		}
		var err error
		if st, err = store.OpenWith(ctx, e.cfg.DB, store.Options{}); err != nil {
			return err
		}
		defer st.Close()
		rep.ID = 0
	}
	return st.Write(ctx, func(tx *store.Tx) error { return tx.FinishJobRun(rep) })
}

// syncJob is the sync of a run; it returns the store it opened (nil when
// it failed before) and fills rep's start, phases and changes.
func (e *env) syncJob(ctx context.Context, j job, rep *runs.Report) (*store.Store, error) {
	f := j.sync
	var waited atomic.Int64
	f.waited = &waited
	defer func() { rep.Waited = time.Duration(waited.Load()) }()
	q, n, base, err := e.clients(f)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	// Before the store is opened: a sync with a bad account creates none.
	if err := pull.CheckAccount(ctx, q); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	st, err := e.openSyncStore(ctx)
	if err != nil {
		return nil, err
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		id, err := tx.StartJobRun(*rep)
		rep.ID = id
		return err
	})
	if err != nil {
		return st, err
	}
	progress, wait := e.newProgress()
	s := &pull.Syncer{Store: st, Qualys: q, QualysURL: base, Loader: e.loader(), Log: e.log, Progress: progress, Stop: j.stop}
	if n != nil {
		s.NVD = n
	}
	if !f.skipKEV {
		s.KEV = kev.NewClient(kev.ClientConfig{URL: e.cfg.KEVURL, Log: e.log, UserAgent: "qvt/" + buildVersion(),
			MaxWait: f.maxWait, ConnectBudget: e.cfg.Limits.ConnectBudget, BodyTimeout: e.cfg.Limits.BodyTimeout})
	}
	if !f.skipEPSS {
		s.EPSS = epss.NewClient(epss.ClientConfig{URL: e.cfg.EPSSURL, Log: e.log, UserAgent: "qvt/" + buildVersion(),
			MaxWait: f.maxWait, ConnectBudget: e.cfg.Limits.ConnectBudget, BodyTimeout: e.cfg.Limits.BodyTimeout})
	}
	started := time.Now()
	opt := f.options()
	opt.AccountChecked = true
	res, err := s.Run(ctx, opt)
	wait()
	rep.Phases = append(rep.Phases, res.Phases...)
	rep.Retries = q.Stats().Retries
	if n != nil {
		rep.Retries += n.Stats().Retries
	}
	if err != nil {
		return st, fmt.Errorf("sync: %w (the next sync resumes from here)", err)
	}
	since := res.Start
	if since.IsZero() {
		since = rep.Started
	}
	if rep.Changes, err = st.RunChanges(ctx, since, time.Now()); err != nil {
		return st, err
	}
	return st, e.printSync(ctx, st, res, time.Since(started))
}

// commandJob is a run from the command line (qvt sync, qvt run): the
// notifiers are told of it when configured.
func (e *env) commandJob(f syncFlags) job {
	// The invocation's id: the stored report and every log line of the
	// command, those before the run began too, carry the same.
	j := job{seed: runs.Report{Trigger: runs.TriggerCommand, RunID: e.runID}, sync: f}
	if o := e.notifyObserver(nil); o != nil {
		j.observers = []runs.Observer{o}
	}
	return j
}
