package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// State reads a sync watermark; "" when never set.
func (s *Store) State(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM sync_state WHERE name = ?", name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: sync state %s: %w", name, err)
	}
	return v, nil
}

// SetState writes sync watermarks in the transaction.
func (tx *Tx) SetState(kv map[string]string) error {
	b, err := tx.bind("INSERT INTO sync_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
	if err != nil {
		return err
	}
	for k, v := range kv {
		b.text(k)
		b.text(v)
		if err := b.run(); err != nil {
			return err
		}
	}
	return nil
}

// Run is a sync run.
type Run struct {
	ID      int64
	Kind    string
	Started time.Time
	Params  string
	Status  string
}

// Batch is one batch of a run.
type Batch struct {
	Phase string
	Seq   int
	Spec  string
	Done  bool
}

// OpenRun returns the unfinished run of this kind to resume, or nil.
func (s *Store) OpenRun(ctx context.Context, kind string) (*Run, error) {
	r := &Run{}
	var started int64
	err := s.db.QueryRowContext(ctx, `SELECT id, kind, started_at, params, status FROM sync_runs
WHERE kind = ? AND status <> 'done' ORDER BY id DESC LIMIT 1`, kind).Scan(&r.ID, &r.Kind, &started, &r.Params, &r.Status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: sync runs: %w", err)
	}
	r.Started = time.Unix(started, 0)
	return r, nil
}

// StartRun records a new run. Older unfinished runs are abandoned: a new
// run of another kind supersedes them.
func (tx *Tx) StartRun(kind, params string, now time.Time) (int64, error) {
	if err := tx.exec("UPDATE sync_runs SET status = 'abandoned' WHERE status IN ('running', 'failed')"); err != nil {
		return 0, err
	}
	var id int64
	err := tx.query("INSERT INTO sync_runs (kind, started_at, params) VALUES (?, ?, ?) RETURNING id",
		func(c Cols) error { id = c.ColumnInt64(0); return nil }, kind, now.Unix(), params)
	return id, err
}

// SetRunParams updates what a run asks for (once its watermarks are known).
func (tx *Tx) SetRunParams(id int64, params string) error {
	b, err := tx.bind("UPDATE sync_runs SET params = ? WHERE id = ?")
	if err != nil {
		return err
	}
	b.text(params)
	b.int(id)
	return b.run()
}

// FinishRun marks a run done or failed.
func (tx *Tx) FinishRun(id int64, runErr error, now time.Time) error {
	status, msg := "done", ""
	if runErr != nil {
		status, msg = "failed", runErr.Error()
	}
	b, err := tx.bind("UPDATE sync_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?")
	if err != nil {
		return err
	}
	b.text(status)
	b.text(msg)
	b.int(now.Unix())
	b.int(id)
	return b.run()
}

// AddBatches records the batches of a phase of a run.
func (tx *Tx) AddBatches(runID int64, phase string, specs []string) error {
	b, err := tx.bind("INSERT INTO sync_batches (run_id, phase, seq, spec) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	for i, spec := range specs {
		b.int(runID)
		b.text(phase)
		b.int(int64(i))
		b.text(spec)
		if err := b.run(); err != nil {
			return err
		}
	}
	return nil
}

// BatchDone marks a batch written, in the transaction that wrote it.
func (tx *Tx) BatchDone(runID int64, phase string, seq, records int) error {
	b, err := tx.bind("UPDATE sync_batches SET done = 1, records = ? WHERE run_id = ? AND phase = ? AND seq = ?")
	if err != nil {
		return err
	}
	b.int(int64(records))
	b.int(runID)
	b.text(phase)
	b.int(int64(seq))
	return b.run()
}

// Batches lists the batches of a phase of a run.
func (s *Store) Batches(ctx context.Context, runID int64, phase string) ([]Batch, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT seq, spec, done FROM sync_batches WHERE run_id = ? AND phase = ? ORDER BY seq", runID, phase)
	if err != nil {
		return nil, fmt.Errorf("store: batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		b := Batch{Phase: phase}
		if err := rows.Scan(&b.Seq, &b.Spec, &b.Done); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// MaxKBModified is the newest LAST_SERVICE_MODIFICATION_DATETIME stored.
func (s *Store) MaxKBModified(ctx context.Context) (string, error) {
	var v sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT max(last_modified) FROM kb_vulns").Scan(&v); err != nil {
		return "", fmt.Errorf("store: kb: %w", err)
	}
	return v.String, nil
}

// MissingQIDs lists QIDs that detections name but the KB lacks.
func (s *Store) MissingQIDs(ctx context.Context) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT d.qid FROM detections d
WHERE NOT EXISTS (SELECT 1 FROM kb_vulns k WHERE k.qid = d.qid) ORDER BY d.qid`)
	if err != nil {
		return nil, fmt.Errorf("store: missing qids: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var q int
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}
