-- What the dashboard (internal/web) needs to answer in milliseconds over a
-- million findings: two indexes on detections, and nothing else. Each
-- index costs every detection import; internal/web/bench_test.go says how
-- much, and what the dashboard gains.

-- +goose Up
-- The findings list by rating and by deadline: one range per status and
-- rating, read in deadline order (several are merged). The list's filters
-- (closed, the deadline, host, QID) are tested on the entry, and the
-- overview reads it whole (counts, ages, fix times), so it covers every
-- column they read. The primary key follows the sort columns: "the rows
-- after this one" (keyset pagination) is one seek. It leaves Info
-- detections out (they are not findings) and holds `type` so that SQLite
-- can tell from the entry alone that it passes `type <> 'Info'`.
-- Every column but the key's is assigned by the import's upsert, so SQLite
-- rewrites this entry with each upserted row: it is the costly one.
CREATE INDEX detections_status ON detections
    (status, vuln_score, breach_date, host_id, qid, port, closed, first_seen, first_found, last_fixed, type)
    WHERE type <> 'Info';
-- The findings of a QID: the QID page; the QID, CVE and title filters.
-- Key columns only, which the upsert never assigns: a new detection adds
-- an entry, an update leaves it alone (an index with `type`, even as a
-- partial index's WHERE, would be rewritten with every upserted row).
CREATE INDEX detections_qid ON detections (qid);

-- +goose Down
DROP INDEX detections_qid;
DROP INDEX detections_status;
