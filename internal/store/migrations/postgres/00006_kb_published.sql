-- The QID's publication date beside its scores, so that an SLA policy may
-- count deadlines from it (scoring.sla_from: published). Stores written
-- before it get 0, which counts from first_found, until the next rescoring
-- (a policy change queues every QID for one).

-- +goose Up
ALTER TABLE qid_scores ADD COLUMN kb_published BIGINT NOT NULL DEFAULT 0; -- Unix seconds

-- +goose Down
ALTER TABLE qid_scores DROP COLUMN kb_published;
