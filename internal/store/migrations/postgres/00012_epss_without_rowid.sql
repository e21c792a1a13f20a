-- SQLite's 00012 keys epss_scores by the CVE alone (WITHOUT ROWID);
-- PostgreSQL's table is a heap with its primary key's index either way,
-- so nothing changes here: the number keeps both engines' schema
-- versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
