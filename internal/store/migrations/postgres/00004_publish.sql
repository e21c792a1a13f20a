-- What publishing needs: a revision on each finding, bumped whenever a
-- field trackers show changes, so a publisher asks only for what changed
-- since its last run; and the publishers' own state.

-- +goose Up
ALTER TABLE detections ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;

-- Watermarks and settings of each target (mysql, jira, assets).
CREATE TABLE publish_state (
    target TEXT NOT NULL,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (target, name)
);

-- What a target holds for each item qvt publishes (a finding key, or a
-- group key): its id there (a Jira issue key, an Assets object id), the
-- state last published and a hash of what was sent.
CREATE TABLE publish_map (
    target     TEXT    NOT NULL,
    item       TEXT    NOT NULL,
    remote     TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL DEFAULT '',
    hash       TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (target, item)
);

-- +goose Down
DROP TABLE publish_map;
DROP TABLE publish_state;
ALTER TABLE detections DROP COLUMN rev;
