-- epss_scores keyed by the CVE alone (WITHOUT ROWID): a day's file writes
-- about 250,000 rows, each into one B-tree rather than the table and its
-- index on cve, and a QID's assessment finds each CVE's score in one
-- search rather than two. The rows are copied as they are.

-- +goose Up
CREATE TABLE epss_scores_new (
    cve             TEXT PRIMARY KEY,
    epss            REAL NOT NULL,
    percentile      REAL NOT NULL,
    prev_epss       REAL,
    prev_percentile REAL
) WITHOUT ROWID;
INSERT INTO epss_scores_new (cve, epss, percentile, prev_epss, prev_percentile)
    SELECT cve, epss, percentile, prev_epss, prev_percentile FROM epss_scores ORDER BY cve;
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
    SELECT cve, epss, percentile, prev_epss, prev_percentile FROM epss_scores ORDER BY cve;
DROP TABLE epss_scores;
ALTER TABLE epss_scores_old RENAME TO epss_scores;
