-- Exploitation evidence and the priority it gives (docs/priority.md):
-- CISA's KEV catalog and FIRST's EPSS scores kept whole, what they say of
-- each QID, and on each detection its QDS, priority and due date.

-- +goose Up
-- The KEV catalog as last stored: one row.
CREATE TABLE kev_catalog (
    id       BIGINT PRIMARY KEY CHECK (id = 1),
    version  TEXT    NOT NULL DEFAULT '', -- catalogVersion; '' from a CSV file
    released TEXT    NOT NULL DEFAULT '', -- dateReleased
    title    TEXT    NOT NULL DEFAULT '',
    entries  BIGINT NOT NULL DEFAULT 0,
    stored   BIGINT NOT NULL DEFAULT 0   -- when qvt stored it, Unix seconds
);
-- Every field of every entry; dates YYYY-MM-DD as the catalog writes them.
CREATE TABLE kev_entries (
    cve             TEXT PRIMARY KEY,
    vendor_project  TEXT NOT NULL DEFAULT '',
    product         TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    date_added      TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    required_action TEXT NOT NULL DEFAULT '',
    due_date        TEXT NOT NULL DEFAULT '',
    ransomware      TEXT NOT NULL DEFAULT '', -- knownRansomwareCampaignUse: Known or Unknown
    notes           TEXT NOT NULL DEFAULT '',
    cwes            TEXT NOT NULL DEFAULT '[]'
);
-- The EPSS file as last stored: one row.
CREATE TABLE epss_meta (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    model_version TEXT    NOT NULL DEFAULT '',
    score_date    TEXT    NOT NULL DEFAULT '',
    scores        BIGINT NOT NULL DEFAULT 0,
    stored        BIGINT NOT NULL DEFAULT 0
);
-- Each CVE's score and percentile, and the ones before the last change
-- (NULL until a score changes): "rising" compares them.
CREATE TABLE epss_scores (
    cve             TEXT PRIMARY KEY,
    epss            DOUBLE PRECISION NOT NULL,
    percentile      DOUBLE PRECISION NOT NULL,
    prev_epss       DOUBLE PRECISION,
    prev_percentile DOUBLE PRECISION
);
-- What the KEV catalog, EPSS and the KB's threat intelligence say of each
-- QID (its CVEs, KB order): computed with its scores, read with every
-- finding.
CREATE TABLE qid_risk (
    qid             BIGINT PRIMARY KEY,
    kev             BIGINT NOT NULL DEFAULT 0,
    kev_cves        TEXT    NOT NULL DEFAULT '[]',
    kev_date_added  TEXT    NOT NULL DEFAULT '',
    kev_due_date    TEXT    NOT NULL DEFAULT '',
    kev_ransomware  BIGINT NOT NULL DEFAULT 0,
    epss            DOUBLE PRECISION,
    epss_percentile DOUBLE PRECISION,
    epss_cve        TEXT    NOT NULL DEFAULT '',
    threat_intel    TEXT    NOT NULL DEFAULT '[]'
);
-- QIDs whose EPSS scores changed: their findings are re-prioritized
-- like those of rescore_queue, but only findings whose priority, due date
-- or order moved are rewritten (a day's EPSS file moves nearly every
-- score a little).
CREATE TABLE risk_queue (
    qid BIGINT PRIMARY KEY
);
-- qds: the detection's QDS, NULL when Qualys gave none. priority,
-- priority_reason, due_date: what the priority rules gave it; urgency:
-- KEV, EPSS and environmental score packed to sort by (priority.Urgency);
-- priority_cause: why the priority or due date last changed, which the
-- history trigger copies.
ALTER TABLE detections ADD COLUMN qds BIGINT;
ALTER TABLE detections ADD COLUMN priority TEXT NOT NULL DEFAULT '';
ALTER TABLE detections ADD COLUMN priority_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE detections ADD COLUMN due_date TEXT NOT NULL DEFAULT '';
ALTER TABLE detections ADD COLUMN urgency BIGINT NOT NULL DEFAULT 0;
ALTER TABLE detections ADD COLUMN priority_cause TEXT NOT NULL DEFAULT '';
ALTER TABLE history ADD COLUMN cause TEXT NOT NULL DEFAULT '';
-- The history trigger also records changes of priority and due date,
-- with their cause.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION qvt_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  t BIGINT := NULLIF(current_setting('qvt.now', true), '')::BIGINT;
BEGIN
  IF t IS NULL THEN
    RETURN NULL;
  END IF;
  IF OLD.status IS DISTINCT FROM NEW.status THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'status', OLD.status, NEW.status);
  END IF;
  IF OLD.closed IS DISTINCT FROM NEW.closed THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'closed', OLD.closed, NEW.closed);
  END IF;
  IF OLD.vuln_score IS DISTINCT FROM NEW.vuln_score THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'rating', OLD.vuln_score, NEW.vuln_score);
  END IF;
  IF OLD.breach_date IS DISTINCT FROM NEW.breach_date THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'deadline', OLD.breach_date, NEW.breach_date);
  END IF;
  -- A first prioritizing (from '') is not a change: the finding had none.
  IF OLD.priority IS DISTINCT FROM NEW.priority AND OLD.priority <> '' THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new, cause) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'priority', OLD.priority, NEW.priority, NEW.priority_cause);
  END IF;
  IF OLD.due_date IS DISTINCT FROM NEW.due_date AND OLD.priority <> '' THEN
    INSERT INTO history (host_id, qid, port, at, event, old, new, cause) VALUES (NEW.host_id, NEW.qid, NEW.port, t, 'due', OLD.due_date, NEW.due_date, NEW.priority_cause);
  END IF;
  RETURN NULL;
END
$$;
-- +goose StatementEnd
DROP TRIGGER qvt_history ON detections;
CREATE TRIGGER qvt_history AFTER UPDATE OF status, closed, vuln_score, breach_date, priority, due_date ON detections
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.closed IS DISTINCT FROM NEW.closed
  OR OLD.vuln_score IS DISTINCT FROM NEW.vuln_score OR OLD.breach_date IS DISTINCT FROM NEW.breach_date
  OR OLD.priority IS DISTINCT FROM NEW.priority OR OLD.due_date IS DISTINCT FROM NEW.due_date)
EXECUTE FUNCTION qvt_history();
-- A store made before this version has no priorities: the next write
-- computes them for every QID.
INSERT INTO rescore_queue (qid) SELECT qid FROM kb_vulns WHERE true ON CONFLICT DO NOTHING;

-- +goose Down
DROP TRIGGER qvt_history ON detections;
CREATE TRIGGER qvt_history AFTER UPDATE OF status, closed, vuln_score, breach_date ON detections
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.closed IS DISTINCT FROM NEW.closed
  OR OLD.vuln_score IS DISTINCT FROM NEW.vuln_score OR OLD.breach_date IS DISTINCT FROM NEW.breach_date)
EXECUTE FUNCTION qvt_history();
ALTER TABLE history DROP COLUMN cause;
ALTER TABLE detections DROP COLUMN priority_cause;
ALTER TABLE detections DROP COLUMN urgency;
ALTER TABLE detections DROP COLUMN due_date;
ALTER TABLE detections DROP COLUMN priority_reason;
ALTER TABLE detections DROP COLUMN priority;
ALTER TABLE detections DROP COLUMN qds;
DROP TABLE risk_queue;
DROP TABLE qid_risk;
DROP TABLE epss_scores;
DROP TABLE epss_meta;
DROP TABLE kev_entries;
DROP TABLE kev_catalog;
