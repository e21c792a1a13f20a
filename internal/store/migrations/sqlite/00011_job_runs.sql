-- The runs of qvt's daily job (sync, then publish): from qvt serve's
-- schedule, the dashboard's "run now" or qvt run and qvt sync on a
-- command line. The overview shows the last and /readyz asks how old the
-- last good one is; the report is the whole runs.Report as JSON.

-- +goose Up
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT    NOT NULL,                   -- the id on the run's log lines
    trigger     TEXT    NOT NULL,                   -- schedule | manual | command
    started_at  INTEGER NOT NULL,                   -- Unix seconds
    finished_at INTEGER NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL DEFAULT 'running', -- running | ok | failed | skipped | interrupted
    error       TEXT    NOT NULL DEFAULT '',
    report      TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX job_runs_status ON job_runs (status, finished_at);

-- +goose Down
DROP TABLE job_runs;
