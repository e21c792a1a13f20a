-- Who fixes each finding, and what a team has accepted
-- (internal/owners, internal/exceptions): the owner the rules give each
-- detection, and exceptions with their scope, expiry and audit trail.

-- +goose Up
-- owner: the name of the owner the rules give the finding, '' for none
-- (no rules, or none matches and there is no default). It is assigned
-- after the detections are written (Tx.AssignOwners), not by the
-- import's upsert, so the import's statements are unchanged and its
-- index is rewritten only when an owner changes.
-- exception_id: the exception covering the finding, 0 for none;
-- excepted_until: the last day it covers (YYYY-MM-DD, '9999-12-31' for
-- none). A reader tells an excepted finding by excepted_until >= today,
-- so an expired exception never hides a finding, whether or not a write
-- has since recorded the expiry.
ALTER TABLE detections ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE detections ADD COLUMN exception_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE detections ADD COLUMN excepted_until TEXT NOT NULL DEFAULT '';
-- sla_restart: when an exception that ended restarted the finding's SLA
-- clock (exceptions.restart_sla), Unix seconds, 0 for never: the deadline
-- then counts from it, on every later import and rescoring too.
ALTER TABLE detections ADD COLUMN sla_restart INTEGER NOT NULL DEFAULT 0;
-- The dashboard's and export's owner filter, and the owners page.
CREATE INDEX detections_owner ON detections (owner, host_id, qid, port);
-- The few excepted findings: subtracted from counts, badged in lists.
CREATE INDEX detections_exception ON detections (exception_id, host_id, qid, port) WHERE exception_id <> 0;
CREATE INDEX detections_sla_restart ON detections (host_id, qid, port, sla_restart) WHERE sla_restart <> 0;
-- history.actor: who made a change that a person made (an exception's
-- recording or revocation); '' for changes the data made.
ALTER TABLE history ADD COLUMN actor TEXT NOT NULL DEFAULT '';

CREATE TABLE exceptions (
    id           INTEGER PRIMARY KEY,
    type         TEXT    NOT NULL,             -- risk_accepted, false_positive, compensating_control
    scope_key    TEXT    NOT NULL DEFAULT '',  -- ip:qid:port for a one-finding scope
    qid          INTEGER  NOT NULL,
    port         INTEGER  NOT NULL DEFAULT -1,  -- -1: every port
    host         TEXT    NOT NULL DEFAULT '',  -- as given: address, host id or hostname
    tag          TEXT    NOT NULL DEFAULT '',
    cidr         TEXT    NOT NULL DEFAULT '',
    future_hosts INTEGER  NOT NULL DEFAULT 0,   -- 1: hosts that come to match are covered too
    reason       TEXT    NOT NULL,
    approver     TEXT    NOT NULL,
    recorded_by  TEXT    NOT NULL DEFAULT '',
    recorded_at  INTEGER  NOT NULL,             -- Unix seconds
    starts       TEXT    NOT NULL,             -- YYYY-MM-DD
    until        TEXT    NOT NULL DEFAULT '',  -- YYYY-MM-DD, the last day covered; '' for none
    state        TEXT    NOT NULL DEFAULT 'active', -- active, revoked, expired
    ended_at     INTEGER  NOT NULL DEFAULT 0,
    ended_by     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX exceptions_state ON exceptions (state, until);
-- The hosts a QID-wide exception covered when it was approved: its scope
-- never grows without a new approval (unless future_hosts).
CREATE TABLE exception_hosts (
    host_id      INTEGER NOT NULL,
    exception_id INTEGER NOT NULL,
    PRIMARY KEY (host_id, exception_id)
) WITHOUT ROWID;
CREATE INDEX exception_hosts_exception ON exception_hosts (exception_id, host_id);
-- Every change to an exception: add, edit, revoke, expire, with who and
-- when, and what changed (JSON).
CREATE TABLE exception_events (
    id           INTEGER PRIMARY KEY,
    exception_id INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    actor        TEXT   NOT NULL DEFAULT '',
    action       TEXT   NOT NULL,
    detail       TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX exception_events_exception ON exception_events (exception_id, id);

-- +goose Down
DROP TABLE exception_events;
DROP TABLE exception_hosts;
DROP TABLE exceptions;
ALTER TABLE history DROP COLUMN actor;
DROP INDEX detections_sla_restart;
DROP INDEX detections_exception;
DROP INDEX detections_owner;
ALTER TABLE detections DROP COLUMN sla_restart;
ALTER TABLE detections DROP COLUMN excepted_until;
ALTER TABLE detections DROP COLUMN exception_id;
ALTER TABLE detections DROP COLUMN owner;
