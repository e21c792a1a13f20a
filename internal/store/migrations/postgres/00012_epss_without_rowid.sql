-- SQLite keys epss_scores by the CVE alone (migrations/sqlite/00012); a
-- PostgreSQL table has no rowid to drop. The version is kept so that both
-- engines' schemas number alike.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
