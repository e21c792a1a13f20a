package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"qvt/internal/runs"
	"qvt/internal/store"
)

// fakeClock is the scheduler's clock in tests: each After call is handed
// to the test, which moves the time on and fires it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan timer
}

type timer struct {
	d  time.Duration
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waits: make(chan timer)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- timer{d, ch}
	return ch
}

// next returns the scheduler's next wait; fire ends it.
func (c *fakeClock) next(t *testing.T) timer {
	t.Helper()
	select {
	case w := <-c.waits:
		return w
	case <-time.After(10 * time.Second): // a hang guard, not a timing
		t.Fatal("the scheduler never waited")
		return timer{}
	}
}

func (c *fakeClock) fire(w timer) {
	c.mu.Lock()
	c.now = c.now.Add(w.d)
	now := c.now
	c.mu.Unlock()
	w.ch <- now
}

// recorder is the store and the job in tests.
type recorder struct {
	mu       sync.Mutex
	seeds    []runs.Report
	recorded []runs.Report
	told     []runs.Report
	outcome  func(seed runs.Report) (runs.Report, error)
	ran      chan runs.Report
}

func (r *recorder) Run(ctx context.Context, seed runs.Report) (runs.Report, error) {
	r.mu.Lock()
	r.seeds = append(r.seeds, seed)
	r.mu.Unlock()
	rep, err := r.outcome(seed)
	if r.ran != nil {
		r.ran <- rep
	}
	return rep, err
}

func (r *recorder) Record(ctx context.Context, rep runs.Report) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recorded = append(r.recorded, rep)
	return nil
}

func (r *recorder) RunFinished(ctx context.Context, rep runs.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.told = append(r.told, rep)
}

func (r *recorder) snapshot() (seeds, recorded, told []runs.Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runs.Report(nil), r.seeds...), append([]runs.Report(nil), r.recorded...), append([]runs.Report(nil), r.told...)
}

func status(s string) func(runs.Report) (runs.Report, error) {
	return func(seed runs.Report) (runs.Report, error) {
		seed.Status = s
		if s == runs.StatusFailed {
			return seed, errors.New("qualys: 503")
		}
		return seed, nil
	}
}

func start(t *testing.T, spec Config, rec *recorder, clk *fakeClock, backoff ...time.Duration) (*Scheduler, func()) {
	t.Helper()
	sp, err := Parse(spec, "--schedule")
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Spec: sp, Run: rec.Run, Record: rec.Record, Observers: []runs.Observer{rec},
		Now: clk.Now, After: clk.After, Backoff: backoff,
		Jitter: func(max time.Duration) time.Duration { return max / 2 }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	return s, func() {
		cancel()
		// The scheduler may be handing a wait over: take it.
		for {
			select {
			case <-done:
				return
			case <-clk.waits:
			}
		}
	}
}

var saturdayNoon = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// The first wait runs to the next firing plus the jitter; Status shows it
// in the schedule's zone; each firing runs the job once.
func TestSchedulerFiresAtNextWithJitter(t *testing.T) {
	clk := newFakeClock(saturdayNoon)
	rec := &recorder{outcome: status(runs.StatusOK)}
	s, stop := start(t, Config{Run: "0 2 * * *", Timezone: "Europe/Paris", Jitter: 20 * time.Minute}, rec, clk)
	defer stop()
	w := clk.next(t)
	// 02:00 in Paris is 01:00 UTC, plus half the jitter.
	if want := 13*time.Hour + 10*time.Minute; w.d != want {
		t.Fatalf("first wait %v, want %v", w.d, want)
	}
	st := s.Status(context.Background())
	if got := st.Next.In(time.UTC).Format(time.RFC3339); got != "2026-12-06T01:10:00Z" || st.Timezone != "Europe/Paris" || st.Spec != "0 2 * * *" {
		t.Errorf("status %+v", st)
	}
	clk.fire(w)
	w = clk.next(t) // the day after
	if want := 24 * time.Hour; w.d != want {
		t.Errorf("second wait %v, want %v", w.d, want)
	}
	seeds, _, told := rec.snapshot()
	if len(seeds) != 1 || seeds[0].Trigger != runs.TriggerSchedule || seeds[0].Attempt != 1 || seeds[0].RunID == "" {
		t.Errorf("runs %+v", seeds)
	}
	if len(told) != 1 || told[0].Status != runs.StatusOK {
		t.Errorf("observers heard %+v", told)
	}
}

// The default jitter stays within [0, jitter) and varies.
func TestJitterBounds(t *testing.T) {
	sp, err := Parse(Config{Run: "@daily", Jitter: time.Minute}, "--schedule")
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Spec: sp}
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := s.jitter()
		if d < 0 || d >= time.Minute {
			t.Fatalf("jitter %v out of [0, 1m)", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("jitter took %d values in 1000 draws", len(seen))
	}
	s.Spec.Jitter = 0
	if d := s.jitter(); d != 0 {
		t.Errorf("no jitter configured, got %v", d)
	}
}

// A failed run is retried on the backoff, each retry numbered, until a
// retry would start past the next firing; then the next firing runs.
func TestSchedulerRetriesThenNextFiring(t *testing.T) {
	clk := newFakeClock(saturdayNoon)
	rec := &recorder{outcome: status(runs.StatusFailed)}
	_, stop := start(t, Config{Run: "0 2 * * *"}, rec, clk, time.Hour, 10*time.Hour, 30*time.Hour)
	defer stop()
	var waits []time.Duration
	for range 4 {
		w := clk.next(t)
		waits = append(waits, w.d)
		clk.fire(w)
	}
	w := clk.next(t)
	waits = append(waits, w.d)
	// 12:00 → 02:00 fails → 03:00 fails → 13:00 fails; 30h would pass
	// the next 02:00 → 02:00 runs (attempt 1) and fails → 03:00.
	want := []time.Duration{14 * time.Hour, time.Hour, 10 * time.Hour, 13 * time.Hour, time.Hour}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	seeds, _, _ := rec.snapshot()
	var attempts []int
	for _, s := range seeds {
		attempts = append(attempts, s.Attempt)
	}
	if fmt.Sprint(attempts) != "[1 2 3 1]" {
		t.Errorf("attempts %v, want [1 2 3 1]", attempts)
	}
}

// A run that succeeds is not retried; one interrupted is not either.
func TestSchedulerNoRetryAfterSuccess(t *testing.T) {
	for _, st := range []string{runs.StatusOK, runs.StatusInterrupted} {
		clk := newFakeClock(saturdayNoon)
		rec := &recorder{outcome: status(st)}
		_, stop := start(t, Config{Run: "@hourly"}, rec, clk, time.Minute)
		clk.fire(clk.next(t))
		if w := clk.next(t); w.d != time.Hour {
			t.Errorf("%s: wait after the run %v, want the next firing (1h)", st, w.d)
		}
		stop()
	}
}

// A firing while another process holds the writer lock is skipped: the
// skip is recorded, logged and told, and not retried.
func TestSchedulerSkipsWhenStoreBusy(t *testing.T) {
	clk := newFakeClock(saturdayNoon)
	rec := &recorder{outcome: func(seed runs.Report) (runs.Report, error) {
		return runs.Report{}, fmt.Errorf("sync: %w", &store.BusyError{Path: "qvt.db"})
	}}
	_, stop := start(t, Config{Run: "@hourly"}, rec, clk, time.Minute)
	defer stop()
	clk.fire(clk.next(t))
	if w := clk.next(t); w.d != time.Hour {
		t.Errorf("wait after a skip %v, want the next firing (1h), not a retry", w.d)
	}
	_, recorded, told := rec.snapshot()
	if len(recorded) != 1 || recorded[0].Status != runs.StatusSkipped || recorded[0].Trigger != runs.TriggerSchedule || recorded[0].ID != 0 {
		t.Fatalf("recorded %+v, want one skipped firing", recorded)
	}
	if len(told) != 1 || told[0].Status != runs.StatusSkipped {
		t.Errorf("observers heard %+v", told)
	}
}

// "Run now" starts a run beside the schedule; a second one, or a firing,
// while it runs is refused or skipped, never doubled.
func TestRunNowAndOverlap(t *testing.T) {
	clk := newFakeClock(saturdayNoon)
	release := make(chan struct{})
	rec := &recorder{ran: make(chan runs.Report, 4), outcome: func(seed runs.Report) (runs.Report, error) {
		if seed.Trigger == runs.TriggerManual {
			<-release
		}
		seed.Status = runs.StatusOK
		return seed, nil
	}}
	s, stop := start(t, Config{Run: "@hourly"}, rec, clk)
	defer stop()
	w := clk.next(t)
	id, err := s.RunNow(context.Background())
	if err != nil || id == "" {
		t.Fatalf("RunNow: %q, %v", id, err)
	}
	if !s.Status(context.Background()).Running {
		t.Error("status does not show the run under way")
	}
	if _, err := s.RunNow(context.Background()); !errors.Is(err, runs.ErrRunning) {
		t.Errorf("second RunNow: %v, want ErrRunning", err)
	}
	clk.fire(w) // the firing comes while the manual run is under way
	clk.next(t)
	_, recorded, _ := rec.snapshot()
	if len(recorded) != 1 || recorded[0].Status != runs.StatusSkipped || recorded[0].Err != "the previous run is still under way" {
		t.Fatalf("recorded %+v, want the firing skipped", recorded)
	}
	close(release)
	if r := <-rec.ran; r.RunID != id || r.Trigger != runs.TriggerManual {
		t.Errorf("the manual run reported %+v", r)
	}
	seeds, _, _ := rec.snapshot()
	if len(seeds) != 1 {
		t.Errorf("%d runs started, want 1 (the manual one)", len(seeds))
	}
}
