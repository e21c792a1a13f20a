-- EPSS scores keyed by the CVE alone, without a rowid: a day's file reads
-- (the diff against the stored scores) and rewrites every row, and each
-- QID's rescoring looks its CVEs up by name; a rowid table with a
-- separate index on the CVE did both through two B-trees.

-- +goose Up
CREATE TABLE epss_scores_new (
    cve             TEXT PRIMARY KEY,
    epss            REAL NOT NULL,
    percentile      REAL NOT NULL,
    prev_epss       REAL,
    prev_percentile REAL
) WITHOUT ROWID;
INSERT INTO epss_scores_new (cve, epss, percentile, prev_epss, prev_percentile)
    SELECT cve, epss, percentile, prev_epss, prev_percentile FROM epss_scores;
DROP TABLE epss_scores;
ALTER TABLE epss_scores_new RENAME TO epss_scores;

-- +goose Down
CREATE TABLE epss_scores_old (
    cve             TEXT PRIMARY KEY,
    epss            REAL NOT NULL,
    percentile      REAL NOT NULL,
    prev_epss       REAL,
    prev_percentile REAL
);
INSERT INTO epss_scores_old (cve, epss, percentile, prev_epss, prev_percentile)
    SELECT cve, epss, percentile, prev_epss, prev_percentile FROM epss_scores;
DROP TABLE epss_scores;
ALTER TABLE epss_scores_old RENAME TO epss_scores;
