package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"qvt/internal/runs"
)

// StartJobRun records that a run of the daily job began, and returns its
// id in job_runs.
func (tx *Tx) StartJobRun(r runs.Report) (int64, error) {
	var id int64
	err := tx.query("INSERT INTO job_runs (run_id, trigger, started_at, status) VALUES (?, ?, ?, ?) RETURNING id",
		func(c Cols) error { id = c.ColumnInt64(0); return nil },
		r.RunID, r.Trigger, r.Started.Unix(), runs.StatusRunning)
	if err != nil {
		return 0, fmt.Errorf("store: job runs: %w", err)
	}
	return id, nil
}

// FinishJobRun records how run r ended, its report included. A run never
// started in the store (a skipped firing, ID 0) is inserted whole.
func (tx *Tx) FinishJobRun(r runs.Report) error {
	rep, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: job run %s: %w", r.RunID, err)
	}
	if r.ID == 0 {
		return tx.query(`INSERT INTO job_runs (run_id, trigger, started_at, finished_at, status, error, report)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, func(Cols) error { return nil },
			r.RunID, r.Trigger, r.Started.Unix(), r.Finished.Unix(), r.Status, r.Err, string(rep))
	}
	b, err := tx.bind("UPDATE job_runs SET finished_at = ?, status = ?, error = ?, report = ? WHERE id = ?")
	if err != nil {
		return err
	}
	b.int(r.Finished.Unix())
	b.text(r.Status)
	b.text(r.Err)
	b.text(string(rep))
	b.int(r.ID)
	return b.run()
}

// JobRuns returns the newest runs of the daily job, newest first, at most
// limit of them.
func (s *Store) JobRuns(ctx context.Context, limit int) ([]runs.Report, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, trigger, started_at, finished_at, status, error, report
FROM job_runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: job runs: %w", err)
	}
	defer rows.Close()
	var out []runs.Report
	for rows.Next() {
		r, err := scanJobRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: job runs: %w", err)
	}
	return out, nil
}

// LastJobRun returns the newest finished run with the given status ("" for
// any finished run), or nil when there is none.
func (s *Store) LastJobRun(ctx context.Context, status string) (*runs.Report, error) {
	q := `SELECT id, run_id, trigger, started_at, finished_at, status, error, report
FROM job_runs WHERE status <> 'running' AND (? = '' OR status = ?) ORDER BY id DESC LIMIT 1`
	r, err := scanJobRun(s.db.QueryRowContext(ctx, q, status, status))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanJobRun(row scanner) (runs.Report, error) {
	var r runs.Report
	var id, started, finished int64
	var runID, trigger, status, msg, rep string
	err := row.Scan(&id, &runID, &trigger, &started, &finished, &status, &msg, &rep)
	if errors.Is(err, sql.ErrNoRows) {
		return r, err
	}
	if err != nil {
		return r, fmt.Errorf("store: job runs: %w", err)
	}
	// The report carries the phases and the changes; the columns are
	// what the run's last update set, and win.
	if rep != "" && rep != "{}" {
		if err := json.Unmarshal([]byte(rep), &r); err != nil {
			return r, fmt.Errorf("store: job run %d: report: %w", id, err)
		}
	}
	r.ID, r.RunID, r.Trigger, r.Status, r.Err = id, runID, trigger, status, msg
	r.Started = time.Unix(started, 0)
	r.Finished = time.Time{}
	if finished > 0 {
		r.Finished = time.Unix(finished, 0)
	}
	return r, nil
}
