-- PostgreSQL leaves room in the detections table's pages for in-place
-- updates (migrations/postgres/00007); SQLite has no such setting. The
-- version is kept so that both engines' schemas number alike.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
