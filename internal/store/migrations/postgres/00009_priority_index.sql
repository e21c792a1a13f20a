-- The dashboard's findings list in priority order, most urgent first
-- (docs/priority.md): priority, then urgency (KEV, EPSS and environmental
-- score packed by priority.Urgency) highest first, then due date, then
-- the key. The list walks one range per priority and, within it, the
-- urgencies in turn; a page of the first rows reads about a page of
-- entries whatever the store's size (internal/web/list.go).

-- +goose Up
-- Like detections_status (00005), it covers what the list's filters test
-- (closed, status, rating, deadline) and everything the overview's pass
-- over the findings reads (it reads this index, which has the priorities,
-- rather than detections_status); it leaves Info detections out and holds
-- `type` so that SQLite tells from the entry alone that one passes.
-- The import's upsert assigns priority, due_date and urgency, so each
-- upserted row rewrites its entry: this index costs every detection
-- import about what detections_status does (internal/web/bench_test.go).
CREATE INDEX detections_priority ON detections
    (priority, urgency DESC, due_date, host_id, qid, port, closed, status, vuln_score, breach_date, first_seen, first_found, last_fixed, type)
    WHERE type <> 'Info';

-- +goose Down
DROP INDEX detections_priority;
