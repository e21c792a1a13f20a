-- What the dashboard looks hosts up by, so that no request reads every
-- host (250,000 hosts: 100-300 ms a read on PostgreSQL).
--
-- On every request it asks whether the store has changed since it built
-- its overview; one of the things it asks is the newest data time of the
-- hosts (max(seen)). A sync moves each host it saw, an entry each.
--
-- The host filter names a host by address or by name in any case, or by
-- the short name of a DNS or fully qualified name (internal/web's
-- hostIDs): the names are indexed lower-case, with text_pattern_ops so
-- that the short name's prefix (lower(fqdn) from 'web-01.' up to
-- 'web-01/') is a range of the same index whatever the database's
-- collation. The tag filter finds its hosts by the tag's name, also in
-- any case. SQLite reads its hosts fast enough (migrations/sqlite/00013).

-- +goose Up
CREATE INDEX hosts_seen ON hosts (seen);
CREATE INDEX hosts_ipv6 ON hosts (ipv6);
CREATE INDEX hosts_fqdn_lower ON hosts (lower(fqdn) text_pattern_ops);
CREATE INDEX hosts_dns_lower ON hosts (lower(dns) text_pattern_ops);
CREATE INDEX hosts_netbios_lower ON hosts (lower(netbios));
CREATE INDEX host_tags_name_lower ON host_tags (lower(name));

-- +goose Down
DROP INDEX host_tags_name_lower;
DROP INDEX hosts_netbios_lower;
DROP INDEX hosts_dns_lower;
DROP INDEX hosts_fqdn_lower;
DROP INDEX hosts_ipv6;
DROP INDEX hosts_seen;
