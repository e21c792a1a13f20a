-- The raw tables hold what Qualys and NVD said, one row per record, with
-- '' for absent text. Lists that nobody filters on are JSON arrays.
-- Dates are RFC 3339 text as the sources send them: they sort as text.

-- PostgreSQL: the same tables, columns and version numbers as the SQLite
-- schema (migrations/sqlite), so that one set of queries serves both:
-- integers are BIGINT, flags 0/1 integers, times Unix seconds; only the
-- findings view's text times are spelt differently. docs/scaling.md says
-- how the tables distribute on Citus; every key of a table keyed by host
-- holds the host.

-- +goose Up
CREATE TABLE kb_vulns (
    qid               BIGINT PRIMARY KEY,
    vuln_type         TEXT    NOT NULL DEFAULT '',
    severity          BIGINT NOT NULL DEFAULT 0,
    title             TEXT    NOT NULL DEFAULT '',
    category          TEXT    NOT NULL DEFAULT '',
    detection_info    TEXT    NOT NULL DEFAULT '',
    last_customized   TEXT    NOT NULL DEFAULT '',
    last_modified     TEXT    NOT NULL DEFAULT '',
    published         TEXT    NOT NULL DEFAULT '',
    patchable         BIGINT NOT NULL DEFAULT 0,
    diagnosis         TEXT    NOT NULL DEFAULT '',
    consequence       TEXT    NOT NULL DEFAULT '',
    solution          TEXT    NOT NULL DEFAULT '',
    cvss_base         TEXT    NOT NULL DEFAULT '',
    cvss_temporal     TEXT    NOT NULL DEFAULT '',
    cvss_vector       TEXT    NOT NULL DEFAULT '',
    cvss_impact_c     TEXT    NOT NULL DEFAULT '',
    cvss_impact_i     TEXT    NOT NULL DEFAULT '',
    cvss_impact_a     TEXT    NOT NULL DEFAULT '',
    cvss3_base        TEXT    NOT NULL DEFAULT '',
    cvss3_temporal    TEXT    NOT NULL DEFAULT '',
    cvss3_vector      TEXT    NOT NULL DEFAULT '',
    cvss3_version     TEXT    NOT NULL DEFAULT '',
    cvss3_impact_c    TEXT    NOT NULL DEFAULT '',
    cvss3_impact_i    TEXT    NOT NULL DEFAULT '',
    cvss3_impact_a    TEXT    NOT NULL DEFAULT '',
    pci_flag          BIGINT NOT NULL DEFAULT 0,
    supported_modules TEXT    NOT NULL DEFAULT '',
    remote            BIGINT NOT NULL DEFAULT 0,
    auth_types        TEXT    NOT NULL DEFAULT '[]', -- JSON ["Unix", ...]
    additional_info   TEXT    NOT NULL DEFAULT '',
    disabled          BIGINT NOT NULL DEFAULT 0,
    vendor_refs       TEXT    NOT NULL DEFAULT '[]', -- JSON [{"id":..,"url":..}]
    bugtraqs          TEXT    NOT NULL DEFAULT '[]', -- JSON [{"id":..,"url":..}]
    software          TEXT    NOT NULL DEFAULT '[]', -- JSON [{"product":..,"vendor":..}]
    threat_intel      TEXT    NOT NULL DEFAULT '[]', -- JSON [{"id":..,"text":..}]
    exploits          TEXT    NOT NULL DEFAULT '[]', -- JSON [{"source":..,"ref":..,"desc":..,"link":..}]
    malware           TEXT    NOT NULL DEFAULT '[]', -- JSON [{"source":..,"id":..,...}]
    cves              TEXT    NOT NULL DEFAULT '[]', -- JSON ["CVE-2020-15778", ...]: kb_cves as one value, for readers
    hash              BIGINT NOT NULL DEFAULT 0     -- of all the above: unchanged rows are not rewritten
);
CREATE INDEX kb_vulns_last_modified ON kb_vulns (last_modified);

-- The KB's CVE list, in KB order, empty ids dropped.
CREATE TABLE kb_cves (
    qid    BIGINT NOT NULL,
    ord    BIGINT NOT NULL,
    cve_id TEXT    NOT NULL,
    PRIMARY KEY (qid, ord)
);
CREATE INDEX kb_cves_cve ON kb_cves (cve_id);

CREATE TABLE nvd_cves (
    id                TEXT    PRIMARY KEY,
    source_identifier TEXT    NOT NULL DEFAULT '',
    published         TEXT    NOT NULL DEFAULT '',
    last_modified     TEXT    NOT NULL DEFAULT '',
    status            TEXT    NOT NULL DEFAULT '',
    description       TEXT    NOT NULL DEFAULT '',
    cwes              TEXT    NOT NULL DEFAULT '[]', -- JSON ["CWE-79", ...]
    kev_added         TEXT    NOT NULL DEFAULT '',
    kev_due           TEXT    NOT NULL DEFAULT '',
    kev_action        TEXT    NOT NULL DEFAULT '',
    kev_name          TEXT    NOT NULL DEFAULT '',
    hash              BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX nvd_cves_last_modified ON nvd_cves (last_modified);

-- Every CVSS entry of a record (NVD's and the CNAs'), in record order.
CREATE TABLE nvd_metrics (
    cve_id     TEXT    NOT NULL,
    ord        BIGINT NOT NULL,
    version    TEXT    NOT NULL,
    source     TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL DEFAULT '',
    vector     TEXT    NOT NULL DEFAULT '',
    base_score DOUBLE PRECISION    NOT NULL DEFAULT 0,
    severity   TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (cve_id, ord)
);

CREATE TABLE hosts (
    id                       BIGINT PRIMARY KEY,
    asset_id                 BIGINT NOT NULL DEFAULT 0,
    ip                       TEXT    NOT NULL DEFAULT '',
    ipv6                     TEXT    NOT NULL DEFAULT '',
    tracking_method          TEXT    NOT NULL DEFAULT '',
    network_id               TEXT    NOT NULL DEFAULT '',
    os                       TEXT    NOT NULL DEFAULT '',
    os_cpe                   TEXT    NOT NULL DEFAULT '',
    dns                      TEXT    NOT NULL DEFAULT '',
    dns_hostname             TEXT    NOT NULL DEFAULT '',
    dns_domain               TEXT    NOT NULL DEFAULT '',
    fqdn                     TEXT    NOT NULL DEFAULT '',
    netbios                  TEXT    NOT NULL DEFAULT '',
    qg_host_id               TEXT    NOT NULL DEFAULT '',
    last_scan                TEXT    NOT NULL DEFAULT '',
    last_vm_scanned          TEXT    NOT NULL DEFAULT '',
    last_vm_scanned_duration BIGINT NOT NULL DEFAULT 0,
    last_vm_auth_scanned     TEXT    NOT NULL DEFAULT '',
    last_pc_scanned          TEXT    NOT NULL DEFAULT '',
    policy                   BIGINT NOT NULL DEFAULT 0 -- environment policy (scoring), 0 = none
);
CREATE INDEX hosts_ip ON hosts (ip);

CREATE TABLE host_tags (
    host_id BIGINT NOT NULL,
    name    TEXT    NOT NULL,
    tag_id  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (host_id, name)
);

-- One row per host, QID and port: a finding's raw detection, with the
-- rating and deadline qvt derived for it. A QID reported on tcp and udp
-- of one port is one finding: the most recently found row is kept.
-- Times are Unix seconds (0 = absent): an import writes hundreds of
-- thousands of rows and integers bind and compare far cheaper than text;
-- the findings view shows them as RFC 3339.
-- Fields nobody filters or sorts on are kept together in extra, a JSON
-- object: last_test, last_update, first_reopened, ssl, fqdn, instance,
-- service, qds, qds_severity, unique_vuln_id, last_processed.
CREATE TABLE detections (
    host_id        BIGINT NOT NULL,
    qid            BIGINT NOT NULL,
    port           BIGINT NOT NULL,
    protocol       TEXT    NOT NULL DEFAULT '',
    type           TEXT    NOT NULL DEFAULT '',
    severity       BIGINT NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL DEFAULT '',
    first_found    BIGINT NOT NULL DEFAULT 0,
    last_found     BIGINT NOT NULL DEFAULT 0,
    times_found    BIGINT NOT NULL DEFAULT 0,
    last_fixed     BIGINT NOT NULL DEFAULT 0,
    last_reopened  BIGINT NOT NULL DEFAULT 0,
    times_reopened BIGINT NOT NULL DEFAULT 0,
    results        TEXT    NOT NULL DEFAULT '',
    ignored        BIGINT NOT NULL DEFAULT 0,
    disabled       BIGINT NOT NULL DEFAULT 0,
    extra          TEXT    NOT NULL DEFAULT '{}',
    vuln_score     TEXT    NOT NULL DEFAULT '', -- derived: the finding's rating
    breach_date    TEXT    NOT NULL DEFAULT '', -- derived: YYYY-MM-DD deadline, '' for none
    PRIMARY KEY (host_id, qid, port)
);

-- Scores depend on the QID and the host's environment policy only, so
-- they are computed once per (qid, policy), not per detection.
CREATE TABLE qid_scores (
    qid             BIGINT NOT NULL,
    policy          BIGINT NOT NULL,
    cve_id          TEXT    NOT NULL DEFAULT '',
    cvss_version    TEXT    NOT NULL DEFAULT '',
    cvss_vector     TEXT    NOT NULL DEFAULT '',
    vector_source   TEXT    NOT NULL DEFAULT '',
    base            DOUBLE PRECISION,
    temporal        DOUBLE PRECISION,
    env_score       DOUBLE PRECISION,
    rating          TEXT    NOT NULL DEFAULT '', -- '' when there is no vector: detections rate by severity
    base_rating     TEXT    NOT NULL DEFAULT '',
    temporal_rating TEXT    NOT NULL DEFAULT '',
    env_rating      TEXT    NOT NULL DEFAULT '',
    kb_severity     BIGINT NOT NULL DEFAULT 0,  -- copied so rating detections never reads kb_vulns
    PRIMARY KEY (qid, policy)
);

-- QIDs whose inputs changed since they were last scored.
CREATE TABLE rescore_queue (
    qid BIGINT PRIMARY KEY
);

CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The finding list as docs/findings.md names its fields.
CREATE VIEW findings AS
SELECT
    COALESCE(NULLIF(h.ip, ''), h.ipv6) || ':' || d.qid || ':' || d.port AS key,
    COALESCE(NULLIF(h.ip, ''), h.ipv6) AS ip,
    d.host_id,
    COALESCE(NULLIF(h.fqdn, ''), NULLIF(h.dns, ''), h.netbios) AS hostname,
    h.os,
    d.qid,
    d.port,
    d.protocol,
    d.type,
    CASE WHEN d.severity > 0 THEN d.severity ELSE COALESCE(k.severity, 0) END AS severity,
    d.status,
    d.times_found,
    to_char(to_timestamp(NULLIF(d.first_found, 0)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS first_found,
    to_char(to_timestamp(NULLIF(d.last_found, 0)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_found,
    to_char(to_timestamp(NULLIF(d.last_fixed, 0)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS last_fixed,
    d.results,
    COALESCE(k.title, '') AS title,
    COALESCE(k.category, '') AS category,
    COALESCE(k.vuln_type, '') AS vuln_type,
    COALESCE(k.diagnosis, '') AS diagnosis,
    COALESCE(k.consequence, '') AS consequence,
    COALESCE(k.solution, '') AS solution,
    COALESCE(k.patchable, 0) AS patchable,
    COALESCE(k.remote, 0) AS remote,
    COALESCE(s.cve_id, '') AS cve_id,
    COALESCE(s.cvss_version, '') AS cvss_version,
    COALESCE(s.cvss_vector, '') AS cvss_vector,
    s.base,
    s.temporal,
    s.env_score,
    d.vuln_score,
    d.breach_date
FROM detections d
JOIN hosts h ON h.id = d.host_id
LEFT JOIN kb_vulns k ON k.qid = d.qid
LEFT JOIN qid_scores s ON s.qid = d.qid AND s.policy = h.policy
WHERE d.type <> 'Info';

-- +goose Down
DROP VIEW findings;
DROP TABLE meta;
DROP TABLE rescore_queue;
DROP TABLE qid_scores;
DROP TABLE detections;
DROP TABLE host_tags;
DROP TABLE hosts;
DROP TABLE nvd_metrics;
DROP TABLE nvd_cves;
DROP TABLE kb_cves;
DROP TABLE kb_vulns;
