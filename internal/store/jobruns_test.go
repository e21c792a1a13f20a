package store

import (
	"context"
	"testing"
	"time"

	"qvt/internal/runs"
	"qvt/internal/store/storetest"
)

// A run of the daily job is recorded when it starts and when it ends, and
// reads back with its report: the overview's last run and /readyz's last
// good one.
func TestJobRuns(t *testing.T) { storetest.Run(t, testJobRuns) }

func testJobRuns(t *testing.T, loc string) {
	ctx := context.Background()
	st := openAt(t, loc)
	if r, err := st.LastJobRun(ctx, ""); err != nil || r != nil {
		t.Fatalf("a new store's last run: %+v, %v", r, err)
	}
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	ok := runs.Report{RunID: "r1", Trigger: runs.TriggerSchedule, Started: t0}
	if err := st.Write(ctx, func(tx *Tx) (err error) { ok.ID, err = tx.StartJobRun(ok); return err }); err != nil {
		t.Fatal(err)
	}
	if r, err := st.LastJobRun(ctx, ""); err != nil || r != nil {
		t.Fatalf("a running run counts as finished: %+v, %v", r, err)
	}
	ok.Status, ok.Finished = runs.StatusOK, t0.Add(90*time.Second)
	ok.Phases = []runs.Phase{{Name: "detections", Records: 1200, Duration: time.Minute}}
	ok.Changes = runs.Changes{New: map[string]int{"P1": 2}, Fixed: 5}
	failed := runs.Report{RunID: "r2", Trigger: runs.TriggerManual, Started: t0.Add(time.Hour),
		Finished: t0.Add(time.Hour + time.Second), Status: runs.StatusFailed, Err: "sync: qualys: 401"}
	err := st.Write(ctx, func(tx *Tx) error {
		if err := tx.FinishJobRun(ok); err != nil {
			return err
		}
		return tx.FinishJobRun(failed) // never started: inserted whole
	})
	if err != nil {
		t.Fatal(err)
	}
	last, err := st.LastJobRun(ctx, "")
	if err != nil || last == nil || last.RunID != "r2" || last.Status != runs.StatusFailed || last.Err != failed.Err {
		t.Fatalf("last run: %+v, %v", last, err)
	}
	good, err := st.LastJobRun(ctx, runs.StatusOK)
	if err != nil || good == nil || good.RunID != "r1" || !good.Finished.Equal(ok.Finished) || !good.Started.Equal(t0) {
		t.Fatalf("last good run: %+v, %v", good, err)
	}
	if len(good.Phases) != 1 || good.Phases[0].Records != 1200 || good.Changes.New["P1"] != 2 || good.Changes.Fixed != 5 {
		t.Errorf("the report did not come back: %+v", good)
	}
	all, err := st.JobRuns(ctx, 10)
	if err != nil || len(all) != 2 || all[0].RunID != "r2" || all[1].RunID != "r1" {
		t.Errorf("job runs: %+v, %v", all, err)
	}
}
