-- The state of syncs with the Qualys and NVD APIs: watermarks, and the
-- runs and batches that let an interrupted sync resume where it stopped.

-- +goose Up
CREATE TABLE sync_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,              -- full | incremental
    started_at  INTEGER NOT NULL,              -- Unix seconds, this machine's clock
    params      TEXT    NOT NULL DEFAULT '{}', -- JSON: what the run asks for (watermarks used), kept for a resume
    finished_at INTEGER NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL DEFAULT 'running', -- running | done | failed
    error       TEXT    NOT NULL DEFAULT ''
);

-- One row per batch of a run (a range of host IDs, of QIDs): a batch is
-- marked done in the same transaction that writes its records.
CREATE TABLE sync_batches (
    run_id  INTEGER NOT NULL,
    phase   TEXT    NOT NULL, -- detections | kb
    seq     INTEGER NOT NULL,
    spec    TEXT    NOT NULL, -- what the batch fetches, e.g. "1001-1999,2005"
    done    INTEGER NOT NULL DEFAULT 0,
    records INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, phase, seq)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE sync_batches;
DROP TABLE sync_runs;
DROP TABLE sync_state;
