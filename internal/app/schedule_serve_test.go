package app

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"qvt/internal/runs"
	"qvt/internal/sim"
)

// A schedule that does not parse is refused before anything serves,
// naming where it was written and what.
func TestServeRefusesBadSchedule(t *testing.T) {
	db := filepath.Join(t.TempDir(), "qvt.db")
	mustRun(t, "--db", db, "import", "testdata/worked/kb.xml", "testdata/worked/detections.xml")
	code, _, errs := qvtWithin(t, 10*time.Second, nil, "--db", db, "serve", "--schedule", "0 2 * *")
	if code != ExitUsage || !strings.Contains(errs, `--schedule "0 2 * *": expected exactly 5 fields`) {
		t.Errorf("serve --schedule '0 2 * *': exit %d, %s", code, errs)
	}
	code, _, errs = qvtWithin(t, 10*time.Second, map[string]string{"QVT_SCHEDULE": "@daily", "QVT_SCHEDULE_TZ": "Atlantis"}, "--db", db, "serve")
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.Contains(errs, `schedule.timezone "Atlantis"`) {
		t.Errorf("serve with QVT_SCHEDULE_TZ=Atlantis: exit %d, %s", code, errs)
	}
}

// qvt serve --schedule, started as a new service is (no store yet: it
// makes an empty one): the overview offers "Run now"; POST /api/runs
// starts the daily job, recorded as a manual run, which fills the store;
// the overview then shows it; an interrupt stops serve.
func TestServeScheduleRunNow(t *testing.T) {
	s := startSyncSim(t, sim.Config{Data: smallData})
	db := filepath.Join(t.TempDir(), "qvt.db")
	env := syncSimEnv(s, db)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--addr", addr, "--schedule", "0 2 * * *"}, &out, &errb, func(k string) string { return env[k] })
	}()
	page := waitGet(t, "http://"+addr+"/", done)
	if !strings.Contains(page, "Run now") || !strings.Contains(page, "<code>0 2 * * *</code>") || !strings.Contains(page, "next run") {
		t.Fatalf("the overview lacks the schedule:\n%.3000s", page)
	}
	res, err := http.Post("http://"+addr+"/api/runs", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		RunID string `json:"run_id"`
	}
	json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted || body.RunID == "" {
		t.Fatalf("POST /api/runs: %s %+v", res.Status, body)
	}
	// The run ends (a poll, bounded by a minute, for a real sync).
	var last runs.Report
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if rs := jobRuns(t, db); len(rs) > 0 && rs[0].Trigger == runs.TriggerManual && rs[0].Status != runs.StatusRunning {
			last = rs[0]
			break
		}
	}
	if last.RunID != body.RunID || last.Status != runs.StatusOK {
		t.Fatalf("the manual run: %+v\n%s", last, errb.String())
	}
	page = waitGet(t, "http://"+addr+"/", done)
	if !strings.Contains(page, `id="run-status">ok</b> (manual)`) {
		t.Errorf("the overview does not show the manual run:\n%.3000s", page)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d after the interrupt\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("serve did not stop when interrupted")
	}
	if !strings.Contains(errb.String(), "no store yet: made an empty one") {
		t.Errorf("serve did not say it made the store:\n%s", errb.String())
	}
	if n := len(jobRuns(t, db)); n != 1 {
		t.Errorf("%d runs recorded, want the manual one", n)
	}
	if !strings.Contains(errb.String(), "run_id="+body.RunID) {
		t.Errorf("no log line names the run:\n%s", errb.String())
	}
}
