package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/config"
	"qvt/internal/runs"
	"qvt/internal/sim"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

func jobRuns(t *testing.T, loc string) []runs.Report {
	t.Helper()
	st, err := store.OpenWith(context.Background(), loc, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.JobRuns(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// qvt sync and qvt run record each run in job_runs: its trigger, status,
// phases with their records, and its id on every log line; a command
// refused before it opens the store leaves it as it was. Their output
// stays what it was.
func TestCommandRunsRecorded(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s := startSyncSim(t, sim.Config{Data: smallData, Password: "qualys-secret-pw"})
		env := syncSimEnv(s, loc)
		env["QUALYS_PASSWORD"] = "qualys-secret-pw"
		code, out, errs := qvt(t, env, "-v", "run", "--batch", "10")
		if code != 0 || !strings.Contains(out, "full sync done") || !strings.Contains(out, "no publish target is configured: sync only") {
			t.Fatalf("qvt run: exit %d\n%s\n%s", code, out, errs)
		}
		rs := jobRuns(t, loc)
		if len(rs) != 1 {
			t.Fatalf("%d runs recorded, want 1", len(rs))
		}
		r := rs[0]
		if r.Trigger != runs.TriggerCommand || r.Status != runs.StatusOK || r.Err != "" || r.Finished.Before(r.Started) || !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(r.RunID) {
			t.Errorf("run %+v", r)
		}
		records := map[string]int{}
		for _, p := range r.Phases {
			records[p.Name] = p.Records
		}
		for _, name := range []string{"nvd", "kev", "epss", "kb", "detections"} {
			if records[name] == 0 {
				t.Errorf("phase %s: %d records (phases %+v)", name, records[name], r.Phases)
			}
		}
		// Every log line of the run names it.
		for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
			if !strings.Contains(line, "run_id="+r.RunID) {
				t.Errorf("a log line without the run's id: %s", line)
			}
		}
		s.Advance()
		if code, out, errs := qvt(t, env, "sync"); code != 0 || !strings.Contains(out, "incremental sync done") {
			t.Fatalf("qvt sync: exit %d\n%s\n%s", code, out, errs)
		}
		env["QUALYS_PASSWORD"] = "wrong-secret-pw"
		if code, _, _ := qvt(t, env, "sync"); code != ExitFailure {
			t.Fatalf("qvt sync with a wrong password: exit %d", code)
		}
		// The refused sync left the store as it was: not even a run.
		rs = jobRuns(t, loc)
		if len(rs) != 2 {
			t.Fatalf("%d runs recorded, want 2", len(rs))
		}
		if rs[0].Status != runs.StatusOK || rs[0].Changes.Fixed+rs[0].Changes.Reopened == 0 {
			t.Errorf("the day after: %+v, want fixed or reopened findings counted", rs[0])
		}
	})
}

// testEnv is qvt serve's environment on the configuration env gives.
func testEnv(t *testing.T, vars map[string]string, log io.Writer) *env {
	t.Helper()
	getenv := func(k string) string { return vars[k] }
	cfg, err := config.Load("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	return &env{stdout: io.Discard, stderr: log, getenv: getenv, cfg: cfg, command: "serve",
		log: slog.New(slog.NewTextHandler(log, nil))}
}

// lockedBuffer is a log the run and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// SIGTERM during a scheduled run: the batch in flight ends and is
// committed, no other starts, the run is recorded interrupted, and the
// next run resumes without fetching a batch twice.
func TestScheduledRunStopsAtCommit(t *testing.T) {
	old := scheduledSync
	scheduledSync = func() syncFlags {
		f := old()
		f.batch, f.workers = 5, 1
		return f
	}
	defer func() { scheduledSync = old }()
	storetest.Run(t, func(t *testing.T, loc string) {
		s := startSyncSim(t, sim.Config{Data: smallData})
		// The Qualys API through a proxy that counts detection batches and
		// sends SIGTERM (ends ctx) as the first one has been answered.
		ctx, sigterm := context.WithCancel(context.Background())
		defer sigterm()
		var batches atomic.Int32
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.ServeHTTP(w, r)
			if r.URL.Path == sim.PathDetections && r.FormValue("ids") != "" {
				if batches.Add(1) == 1 {
					sigterm()
				}
			}
		}))
		defer proxy.Close()
		env := syncSimEnv(s, loc)
		env["QUALYS_API_URL"] = proxy.URL
		var log lockedBuffer
		e := testEnv(t, env, &log)
		rep, err := e.scheduledRun(ctx, runs.Report{RunID: "5eed0001", Trigger: runs.TriggerSchedule, Attempt: 1})
		if err == nil || rep.Status != runs.StatusInterrupted || !strings.Contains(rep.Err, "stopped at a commit") {
			t.Fatalf("the stopped run: %v, %+v", err, rep)
		}
		if e.lock != nil {
			t.Error("the writer lock is still held after the run")
		}
		stopped := batches.Load()
		if stopped < 1 || stopped > 2 {
			t.Fatalf("%d detection batches fetched before the stop, want the one in flight (or the next, already handed out)", stopped)
		}
		rs := jobRuns(t, loc)
		if len(rs) != 1 || rs[0].Status != runs.StatusInterrupted || rs[0].RunID != "5eed0001" {
			t.Fatalf("recorded %+v", rs)
		}
		st, err := store.OpenWith(context.Background(), loc, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var done int
		if err := st.DB().QueryRow("SELECT count(*) FROM sync_batches WHERE phase = 'detections' AND done <> 0").Scan(&done); err != nil {
			t.Fatal(err)
		}
		st.Close()
		if done != int(stopped) {
			t.Errorf("%d batches committed done, %d fetched", done, stopped)
		}
		// The next run resumes: the other batches only.
		rep, err = e.scheduledRun(context.Background(), runs.Report{RunID: "5eed0002", Trigger: runs.TriggerSchedule, Attempt: 1})
		if err != nil || rep.Status != runs.StatusOK {
			t.Fatalf("the next run: %v, %+v\n%s", err, rep, log.String())
		}
		if n := batches.Load(); n != 6 {
			t.Errorf("%d detection batches fetched in both runs, want 6 (30 hosts by 5)", n)
		}
		if !strings.Contains(log.String(), "resuming the interrupted sync") || !strings.Contains(log.String(), "run_id=5eed0002") {
			t.Errorf("the log does not show the resumed run:\n%s", log.String())
		}
	})
}

// A run records how long the API clients slept (the waits a 503 or a
// rate limit asked for) and how many requests they repeated: what
// /metrics reports as qvt_last_run_rate_limit_wait_seconds.
func TestRunRecordsAPIWaits(t *testing.T) {
	loc := t.TempDir() + "/qvt.db"
	s := startSyncSim(t, sim.Config{Data: smallData, Faults: sim.Faults{Seed: 11, P503: 0.4}})
	start := time.Now()
	if code, out, errs := qvt(t, syncSimEnv(s, loc), "run", "--batch", "1000", "--skip-nvd"); code != 0 {
		t.Fatalf("qvt run: exit %d\n%s\n%s", code, out, errs)
	}
	took := time.Since(start)
	rs := jobRuns(t, loc)
	if len(rs) != 1 {
		t.Fatalf("%d runs recorded", len(rs))
	}
	r := rs[0]
	if r.Retries == 0 || r.Waited <= 0 || r.Waited > took {
		t.Errorf("a run through 503s: %d retries, waited %v of %v", r.Retries, r.Waited, took)
	}
}
