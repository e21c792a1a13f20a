package schedule

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"qvt/internal/runs"
	"qvt/internal/store"
)

// DefaultBackoff is how long a failed run waits before each retry. The
// last step repeats; no retry starts past the next firing.
var DefaultBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// Scheduler runs the daily job at each firing of Spec, never two at once.
// Its clock (Now, After) and its randomness are fields, so that tests
// drive firings without waiting.
type Scheduler struct {
	Spec *Spec
	// Run runs the job once for seed (its RunID, Trigger and Attempt set)
	// and returns its report. An error wrapping *store.BusyError means
	// another process holds the writer lock: nothing ran.
	Run func(ctx context.Context, seed runs.Report) (runs.Report, error)
	// Record stores a run that never started (a skipped firing).
	Record func(ctx context.Context, r runs.Report) error
	// Last reads the last finished run from the store.
	Last      func(ctx context.Context) (*runs.Report, error)
	Observers []runs.Observer // told of every run, skipped ones included
	Log       *slog.Logger
	Backoff   []time.Duration                       // default DefaultBackoff
	Now       func() time.Time                      // default time.Now
	After     func(time.Duration) <-chan time.Time  // default time.After
	Jitter    func(max time.Duration) time.Duration // default uniform in [0, max)

	mu      sync.Mutex
	running bool
	next    time.Time
	wg      sync.WaitGroup // runs started by RunNow
	ctx     context.Context
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) after(d time.Duration) <-chan time.Time {
	if s.After != nil {
		return s.After(d)
	}
	return time.After(d)
}

func (s *Scheduler) jitter() time.Duration {
	if s.Spec.Jitter <= 0 {
		return 0
	}
	if s.Jitter != nil {
		return s.Jitter(s.Spec.Jitter)
	}
	return rand.N(s.Spec.Jitter)
}

func (s *Scheduler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Serve fires the job until ctx ends, then waits for the run under way
// (its Run sees ctx end and stops at its next commit).
func (s *Scheduler) Serve(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	defer s.wg.Wait()
	for {
		now := s.now()
		fire := s.Spec.Next(now)
		if fire.IsZero() {
			s.log().Warn("the schedule never fires again", "schedule", s.Spec.Text)
			<-ctx.Done()
			return
		}
		at := fire.Add(s.jitter())
		s.setNext(at)
		s.log().Info("next run", "at", at.In(s.Spec.Zone).Format(time.RFC3339))
		if !s.wait(ctx, at.Sub(now)) {
			return
		}
		s.fire(ctx)
	}
}

// fire runs one firing and its retries: a failed run waits its backoff
// and runs again, unless the retry would start past the next firing,
// which runs instead.
func (s *Scheduler) fire(ctx context.Context) {
	for attempt := 1; ; attempt++ {
		r, ok := s.start(ctx, runs.TriggerSchedule, attempt)
		if !ok || r.Status != runs.StatusFailed || ctx.Err() != nil {
			return
		}
		d := s.backoff(attempt)
		now := s.now()
		if next := s.Spec.Next(now); !next.IsZero() && !now.Add(d).Before(next) {
			s.log().Info("run failed; no retry before the next firing", "attempt", attempt, "next", next)
			return
		}
		s.setNext(now.Add(d))
		s.log().Info("run failed; retrying", "attempt", attempt, "in", d)
		if !s.wait(ctx, d) {
			return
		}
	}
}

func (s *Scheduler) backoff(attempt int) time.Duration {
	b := s.Backoff
	if len(b) == 0 {
		b = DefaultBackoff
	}
	return b[min(attempt-1, len(b)-1)]
}

func (s *Scheduler) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-s.after(max(d, 0)):
		return true
	}
}

func (s *Scheduler) setNext(t time.Time) {
	s.mu.Lock()
	s.next = t
	s.mu.Unlock()
}

// start runs the job now unless a run is under way; it returns the
// report, and false when the run did not happen.
func (s *Scheduler) start(ctx context.Context, trigger string, attempt int) (runs.Report, bool) {
	seed := runs.Report{RunID: runs.NewRunID(), Trigger: trigger, Attempt: attempt, Started: s.now()}
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		s.skip(ctx, seed, "the previous run is still under way")
		return seed, false
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	return s.run(ctx, seed)
}

// run runs the job and tells the observers.
func (s *Scheduler) run(ctx context.Context, seed runs.Report) (runs.Report, bool) {
	r, err := s.Run(ctx, seed)
	if busy, ok := errors.AsType[*store.BusyError](err); ok {
		s.skip(ctx, seed, busy.Error())
		return seed, false
	}
	if err != nil && r.Status == "" {
		// The job failed before it could report: still a failed run.
		r = seed
		r.Status, r.Err, r.Finished = runs.StatusFailed, err.Error(), s.now()
	}
	s.tell(ctx, r)
	return r, true
}

// skip records a firing that would have overlapped another writer.
func (s *Scheduler) skip(ctx context.Context, r runs.Report, why string) {
	r.Status, r.Err, r.Finished = runs.StatusSkipped, why, s.now()
	s.log().Warn("run skipped: it would overlap another writer", "run_id", r.RunID, "trigger", r.Trigger, "reason", why)
	if s.Record != nil {
		if err := s.Record(context.WithoutCancel(ctx), r); err != nil {
			s.log().Error("recording the skipped run", "run_id", r.RunID, "err", err)
		}
	}
	s.tell(ctx, r)
}

func (s *Scheduler) tell(ctx context.Context, r runs.Report) {
	for _, o := range s.Observers {
		o.RunFinished(context.WithoutCancel(ctx), r)
	}
}

// RunNow starts a run at once, beside the schedule, and returns its run
// id; runs.ErrRunning when one is under way.
func (s *Scheduler) RunNow(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return "", runs.ErrRunning
	}
	ctx := s.ctx
	if ctx == nil {
		return "", errors.New("the scheduler is not running")
	}
	if ctx.Err() != nil {
		return "", errors.New("qvt is stopping")
	}
	s.running = true
	seed := runs.Report{RunID: runs.NewRunID(), Trigger: runs.TriggerManual, Attempt: 1, Started: s.now()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
		}()
		s.run(ctx, seed)
	}()
	return seed.RunID, nil
}

// Status is the schedule, the next firing, whether a run is under way,
// and the last finished run.
func (s *Scheduler) Status(ctx context.Context) runs.Status {
	s.mu.Lock()
	st := runs.Status{Spec: s.Spec.Text, Timezone: s.Spec.Zone.String(), Next: s.next, Running: s.running}
	s.mu.Unlock()
	if s.Last != nil {
		last, err := s.Last(ctx)
		if err != nil {
			s.log().Error("reading the last run", "err", err)
		}
		st.Last = last
	}
	return st
}
