-- The findings of a QID set (a QID, a CVE, a title search), which the
-- dashboard's list reads whole and sorts (internal/web/list.go,
-- fromQIDs). On the QID alone, detections_qid made each of those
-- thousands of findings a lookup in the table for the columns the list
-- sorts and filters by, a page read each: a title of 128 QIDs in priority
-- order took 100-166 ms at a million findings. It now holds those
-- columns, so a set is read from the index alone.
--
-- All but urgency, the priority order's sort key, which a day's EPSS
-- file moves for most findings: with it, a rerating moved this index's
-- entries as well as detections_priority's, 6-8 s more at a million. The
-- list computes a set's urgencies from their QIDs' risk and scores
-- (internal/web/prioritylist.go), by the hosts' environment policies,
-- which hosts_policy finds without reading every host.
--
-- An import's upsert of a changed detection rewrites the entry, as it
-- does detections_status's; a rescan that changes nothing does not. It
-- stays whole (Info detections too): a rescoring of one QID finds its
-- detections through it.

-- +goose Up
DROP INDEX detections_qid;
CREATE INDEX detections_qid ON detections
    (qid, priority, due_date, host_id, port, closed, status, vuln_score, breach_date, type);
CREATE INDEX hosts_policy ON hosts (policy) WHERE policy <> 0;

-- +goose Down
DROP INDEX hosts_policy;
DROP INDEX detections_qid;
CREATE INDEX detections_qid ON detections (qid);
