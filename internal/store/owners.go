package store

import (
	"fmt"
	"slices"
	"strings"

	"qvt/internal/owners"
	"qvt/internal/qualys"
)

// OwnerHost is what the ownership rules match of a host.
func OwnerHost(h *qualys.Host) owners.Host {
	oh := owners.Host{ID: h.ID, IPs: []string{h.IP, h.IPv6}, Names: []string{h.FQDN, h.DNS, h.NetBIOS}, OS: h.OS}
	for _, t := range h.Tags {
		oh.Tags = append(oh.Tags, t.Name)
	}
	return oh
}

// AssignOwners gives the detections of these hosts the owners the rules
// give them, recording each change of owner in the history at time at
// (the first assignment of a finding that had none is not a change) and
// giving the changed findings this transaction's revision, so that the
// publishers route them again. It returns how many findings changed
// owner. Hosts go a few hundred to a statement: on PostgreSQL a statement
// per host would be a round trip per host on every import.
func (tx *Tx) AssignOwners(hosts []owners.Host, set owners.Set, at int64) (int, error) {
	rev, err := tx.rev()
	if err != nil {
		return 0, err
	}
	var whole []ownerChange // hosts whose findings share one owner (qid 0)
	type mixed struct {
		id int64
		hr owners.HostRules
	}
	var per []mixed
	for _, h := range hosts {
		hr := set.ForHost(h)
		if hr.PerHost() {
			whole = append(whole, ownerChange{host: h.ID, owner: hr.Owner(0, "")})
		} else {
			per = append(per, mixed{h.ID, hr})
		}
	}
	n := 0
	for c := range slices.Chunk(whole, ownerChunk) {
		k, err := tx.setOwners(c, false, at, rev)
		if err != nil {
			return n, fmt.Errorf("store: owners: %w", err)
		}
		n += k
	}
	for c := range slices.Chunk(per, ownerChunk) {
		rules := make(map[int64]owners.HostRules, len(c))
		args := make([]any, len(c))
		for i, m := range c {
			rules[m.id] = m.hr
			args[i] = m.id
		}
		var changes []ownerChange
		err := tx.query(`SELECT d.host_id, d.qid, d.port, d.owner, COALESCE(k.category, '') FROM detections d
LEFT JOIN kb_vulns k ON k.qid = d.qid WHERE d.host_id IN (`+marks(len(c))+`)`, func(r Cols) error {
			id := r.ColumnInt64(0)
			if o := rules[id].Owner(r.ColumnInt(1), r.ColumnText(4)); o != r.ColumnText(3) {
				changes = append(changes, ownerChange{id, r.ColumnInt64(1), r.ColumnInt64(2), o})
			}
			return nil
		}, args...)
		if err != nil {
			return n, fmt.Errorf("store: owners: %w", err)
		}
		for cc := range slices.Chunk(changes, ownerChunk) {
			if _, err := tx.setOwners(cc, true, at, rev); err != nil {
				return n, fmt.Errorf("store: owners: %w", err)
			}
		}
		n += len(changes)
	}
	return n, nil
}

// ownerChunk is how many hosts or findings one statement assigns.
const ownerChunk = 200

// ownerChange is a new owner for a host's findings (one, when byFinding)
type ownerChange struct {
	host, qid, port int64
	owner           string
}

// marks is n comma-separated parameters.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// setOwners gives each host's findings, or each finding (byFinding), its
// new owner, with a history row for each that had another. SQLite runs a
// statement per host or finding (cheap in process, and each a seek on
// the primary key); PostgreSQL one per chunk, the changes sent as arrays,
// for a round trip per statement would cost more than the work.
func (tx *Tx) setOwners(cs []ownerChange, byFinding bool, at, rev int64) (int, error) {
	if tx.pg != nil {
		return tx.pgSetOwners(cs, byFinding, at, rev)
	}
	where := "host_id = ?"
	if byFinding {
		where = "host_id = ? AND qid = ? AND port = ?"
	}
	hist, err := tx.bind(`INSERT INTO history (host_id, qid, port, at, event, old, new)
SELECT host_id, qid, port, ?, 'owner', owner, ? FROM detections
WHERE ` + where + ` AND owner <> ? AND owner <> '' AND type <> 'Info'`)
	if err != nil {
		return 0, err
	}
	set, err := tx.bind(`UPDATE detections SET owner = ?, rev = ? WHERE ` + where + ` AND owner <> ?`)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range cs {
		hist.int(at)
		hist.text(c.owner)
		hist.int(c.host)
		if byFinding {
			hist.int(c.qid)
			hist.int(c.port)
		}
		hist.text(c.owner)
		if err := hist.run(); err != nil {
			return n, err
		}
		set.text(c.owner)
		set.int(rev)
		set.int(c.host)
		if byFinding {
			set.int(c.qid)
			set.int(c.port)
		}
		set.text(c.owner)
		if err := tx.runChanging(set); err != nil {
			return n, err
		}
		n += int(tx.changes())
	}
	return n, nil
}

func (tx *Tx) pgSetOwners(cs []ownerChange, byFinding bool, at, rev int64) (int, error) {
	if err := tx.pgFlush(); err != nil {
		return 0, err
	}
	hosts, qids, ports := make([]int64, len(cs)), make([]int64, len(cs)), make([]int64, len(cs))
	names := make([]string, len(cs))
	for i, c := range cs {
		hosts[i], qids[i], ports[i], names[i] = c.host, c.qid, c.port, c.owner
	}
	v := `unnest($2::bigint[], $3::text[]) AS v(host_id, owner)`
	// host_id = ANY lets the planner seek the hosts' rows on the primary
	// key instead of scanning detections for the join.
	on := `d.host_id = ANY($2::bigint[]) AND d.host_id = v.host_id`
	args := []any{nil, hosts, names}
	if byFinding {
		v = `unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[]) AS v(host_id, owner, qid, port)`
		on = `d.host_id = ANY($2::bigint[]) AND d.host_id = v.host_id AND d.qid = v.qid AND d.port = v.port`
		args = append(args, qids, ports)
	}
	args[0] = at
	if _, err := tx.pg.Exec(tx.ctx, `INSERT INTO history (host_id, qid, port, at, event, old, new)
SELECT d.host_id, d.qid, d.port, $1, 'owner', d.owner, v.owner FROM `+v+` JOIN detections d ON `+on+`
WHERE d.owner <> v.owner AND d.owner <> '' AND d.type <> 'Info'`, args...); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	args[0] = rev
	tag, err := tx.pg.Exec(tx.ctx, `UPDATE detections d SET owner = v.owner, rev = $1 FROM `+v+`
WHERE `+on+` AND d.owner <> v.owner`, args...)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	tx.pgRows = tag.RowsAffected()
	if tx.pgRows > 0 {
		tx.usedRev()
	}
	return int(tx.pgRows), nil
}

// ReassignOwners assigns the owners of every host's detections again: the
// rules changed. Hosts are read a thousand at a time.
func (tx *Tx) ReassignOwners(set owners.Set, at int64) (int, error) {
	n := 0
	after := int64(-1)
	for {
		var batch []owners.Host
		idx := map[int64]int{}
		err := tx.query(`SELECT id, ip, ipv6, fqdn, dns, netbios, os FROM hosts WHERE id > ? ORDER BY id LIMIT 1000`, func(c Cols) error {
			h := owners.Host{ID: c.ColumnInt64(0), IPs: []string{c.ColumnText(1), c.ColumnText(2)},
				Names: []string{c.ColumnText(3), c.ColumnText(4), c.ColumnText(5)}, OS: c.ColumnText(6)}
			idx[h.ID] = len(batch)
			batch = append(batch, h)
			return nil
		}, after)
		if err != nil {
			return n, err
		}
		if len(batch) == 0 {
			return n, nil
		}
		last := batch[len(batch)-1].ID
		err = tx.query(`SELECT host_id, name FROM host_tags WHERE host_id > ? AND host_id <= ?`, func(c Cols) error {
			if i, ok := idx[c.ColumnInt64(0)]; ok {
				batch[i].Tags = append(batch[i].Tags, c.ColumnText(1))
			}
			return nil
		}, after, last)
		if err != nil {
			return n, err
		}
		k, err := tx.AssignOwners(batch, set, at)
		n += k
		if err != nil {
			return n, err
		}
		after = last
	}
}
