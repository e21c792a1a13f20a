package store

import (
	"fmt"
	"slices"
	"strconv"
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
			whole = append(whole, ownerChange{host: h.ID, owner: hr.Owner(0, ""), had: true})
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
		type det struct {
			host, qid, port int64
			owner           string
		}
		var dets []det
		err := tx.query(`SELECT host_id, qid, port, owner FROM detections WHERE host_id IN (`+marks(len(c))+`)`, func(r Cols) error {
			dets = append(dets, det{r.ColumnInt64(0), r.ColumnInt64(1), r.ColumnInt64(2), r.ColumnText(3)})
			return nil
		}, args...)
		if err != nil {
			return n, fmt.Errorf("store: owners: %w", err)
		}
		if set.UsesCategories() {
			qids := make([]int64, len(dets))
			for i, d := range dets {
				qids[i] = d.qid
			}
			if err := tx.loadCategories(qids); err != nil {
				return n, fmt.Errorf("store: owners: %w", err)
			}
		}
		var changes []ownerChange
		for _, d := range dets {
			if o := rules[d.host].Owner(int(d.qid), tx.categories[d.qid]); o != d.owner {
				changes = append(changes, ownerChange{d.host, d.qid, d.port, o, d.owner != ""})
			}
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
	had             bool // it had an owner before: a change the history records
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
	// A host's findings that change to one owner go in one statement, their
	// QIDs as a JSON array (an owner depends on the QID, not the port): on
	// a first import every finding changes, and a statement per finding
	// would double the import.
	type group struct {
		host  int64
		owner string
		qids  []int64
		had   bool // one of them had an owner: the history may have changes
	}
	var groups []group
	at2 := map[struct {
		host  int64
		owner string
	}]int{}
	for _, c := range cs {
		k := struct {
			host  int64
			owner string
		}{c.host, c.owner}
		i, ok := at2[k]
		if !ok {
			i = len(groups)
			at2[k] = i
			groups = append(groups, group{host: c.host, owner: c.owner})
		}
		groups[i].had = groups[i].had || c.had
		if byFinding {
			if q := groups[i].qids; len(q) == 0 || q[len(q)-1] != c.qid {
				groups[i].qids = append(groups[i].qids, c.qid)
			}
		}
	}
	where := "host_id = ?"
	if byFinding {
		where = "host_id = ? AND qid IN (SELECT value FROM json_each(?))"
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
	var buf []byte
	n := 0
	for _, g := range groups {
		var qids string
		if byFinding {
			buf = append(buf[:0], '[')
			for i, q := range g.qids {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = strconv.AppendInt(buf, q, 10)
			}
			qids = string(append(buf, ']'))
		}
		if g.had {
			hist.int(at)
			hist.text(g.owner)
			hist.int(g.host)
			if byFinding {
				hist.text(qids)
			}
			hist.text(g.owner)
			if err := hist.run(); err != nil {
				return n, err
			}
		}
		set.text(g.owner)
		set.int(rev)
		set.int(g.host)
		if byFinding {
			set.text(qids)
		}
		set.text(g.owner)
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
	// Findings that had no owner (a first import's) make no history.
	if slices.ContainsFunc(cs, func(c ownerChange) bool { return c.had }) {
		if _, err := tx.pg.Exec(tx.ctx, `INSERT INTO history (host_id, qid, port, at, event, old, new)
SELECT d.host_id, d.qid, d.port, $1, 'owner', d.owner, v.owner FROM `+v+` JOIN detections d ON `+on+`
WHERE d.owner <> v.owner AND d.owner <> '' AND d.type <> 'Info'`, args...); err != nil {
			return 0, fmt.Errorf("store: %w", err)
		}
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

// loadCategories reads the KB categories of the QIDs not read yet in
// this transaction: a host's findings repeat the same few thousand QIDs,
// and a KB row is wide.
func (tx *Tx) loadCategories(qids []int64) error {
	if tx.categories == nil {
		tx.categories = map[int64]string{}
	}
	var missing []int64
	for _, q := range qids {
		if _, ok := tx.categories[q]; !ok {
			tx.categories[q] = "" // a QID the KB lacks has no category
			missing = append(missing, q)
		}
	}
	for c := range slices.Chunk(missing, 500) {
		args := make([]any, len(c))
		for i, q := range c {
			args[i] = q
		}
		err := tx.query(`SELECT qid, category FROM kb_vulns WHERE qid IN (`+marks(len(c))+`)`, func(r Cols) error {
			tx.categories[r.ColumnInt64(0)] = r.ColumnText(1)
			return nil
		}, args...)
		if err != nil {
			return err
		}
	}
	return nil
}
