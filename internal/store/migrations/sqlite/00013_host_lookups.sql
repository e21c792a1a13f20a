-- The dashboard asks on every request whether the store has changed since
-- it built its overview; one of the things it asks is the newest data
-- time of the hosts (max(seen)), which read every host without an index.
-- A sync moves each host it saw, an entry each. PostgreSQL's version of
-- this migration also indexes the names the host and tag filters look
-- up; SQLite's reads of every host for those stayed within the
-- dashboard's targets at 250,000 hosts (README, Performance).

-- +goose Up
CREATE INDEX hosts_seen ON hosts (seen);

-- +goose Down
DROP INDEX hosts_seen;
