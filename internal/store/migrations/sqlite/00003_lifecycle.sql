-- The life of each finding: when qvt first and last saw it, whether it is
-- closed and why, and a history of every change.

-- +goose Up
-- first_seen, last_seen: the time of the data (the Qualys response's
-- DATETIME of a file, the server's time at the start of a sync) that first
-- and last reported the detection, Unix seconds.
-- closed: '' while open, else why it closed: fixed (Qualys says Fixed),
-- ignored or disabled (the detection was turned so), gone (its host was
-- scanned again and Qualys no longer reports it).
ALTER TABLE detections ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE detections ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE detections ADD COLUMN closed TEXT NOT NULL DEFAULT '';
-- The time of the newest data written for the host: older data for it
-- (a file older than what the store holds) is not written at all.
ALTER TABLE hosts ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;

-- One row per change of a finding. event: status (Qualys status), closed
-- (reason, '' when it opens again), rating (vuln_score), deadline
-- (breach_date). A finding's first appearance is its detections row
-- (first_seen), not a history row: a first import writes no history.
CREATE TABLE history (
    id      INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL,
    qid     INTEGER NOT NULL,
    port    INTEGER NOT NULL,
    at      INTEGER NOT NULL, -- the time of the data that showed the change, Unix seconds
    event   TEXT    NOT NULL,
    old     TEXT    NOT NULL DEFAULT '',
    new     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX history_finding ON history (host_id, qid, port, id);
CREATE INDEX history_at ON history (at);

-- +goose Down
DROP TABLE history;
ALTER TABLE hosts DROP COLUMN seen;
ALTER TABLE detections DROP COLUMN closed;
ALTER TABLE detections DROP COLUMN last_seen;
ALTER TABLE detections DROP COLUMN first_seen;
