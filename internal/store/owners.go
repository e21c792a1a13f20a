package store

import (
	"fmt"

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
// owner.
func (tx *Tx) AssignOwners(hosts []owners.Host, set owners.Set, at int64) (int, error) {
	rev, err := tx.rev()
	if err != nil {
		return 0, err
	}
	var a ownerAssigner
	if err := a.prepare(tx); err != nil {
		return 0, err
	}
	n := 0
	for _, h := range hosts {
		k, err := a.host(tx, h.ID, set.ForHost(h), at, rev)
		if err != nil {
			return n, fmt.Errorf("store: owners: host %d: %w", h.ID, err)
		}
		n += k
	}
	return n, nil
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

// ownerAssigner holds the statements of an assignment.
type ownerAssigner struct {
	histAll, setAll *binder // a host whose findings share one owner
	histOne, setOne *binder // one finding
}

func (a *ownerAssigner) prepare(tx *Tx) error {
	var err error
	if a.histAll, err = tx.bind(`INSERT INTO history (host_id, qid, port, at, event, old, new)
SELECT host_id, qid, port, ?, 'owner', owner, ? FROM detections
WHERE host_id = ? AND owner <> ? AND owner <> '' AND type <> 'Info'`); err != nil {
		return err
	}
	if a.setAll, err = tx.bind(`UPDATE detections SET owner = ?, rev = ? WHERE host_id = ? AND owner <> ?`); err != nil {
		return err
	}
	if a.histOne, err = tx.bind(`INSERT INTO history (host_id, qid, port, at, event, old, new)
SELECT host_id, qid, port, ?, 'owner', owner, ? FROM detections
WHERE host_id = ? AND qid = ? AND port = ? AND owner <> '' AND type <> 'Info'`); err != nil {
		return err
	}
	a.setOne, err = tx.bind(`UPDATE detections SET owner = ?, rev = ? WHERE host_id = ? AND qid = ? AND port = ?`)
	return err
}

func (a *ownerAssigner) host(tx *Tx, id int64, hr owners.HostRules, at, rev int64) (int, error) {
	if hr.PerHost() {
		owner := hr.Owner(0, "")
		a.histAll.int(at)
		a.histAll.text(owner)
		a.histAll.int(id)
		a.histAll.text(owner)
		if err := a.histAll.run(); err != nil {
			return 0, err
		}
		a.setAll.text(owner)
		a.setAll.int(rev)
		a.setAll.int(id)
		a.setAll.text(owner)
		if err := tx.runChanging(a.setAll); err != nil {
			return 0, err
		}
		return int(tx.changes()), nil
	}
	type change struct {
		qid, port int64
		owner     string
	}
	var changes []change
	err := tx.query(`SELECT d.qid, d.port, d.owner, COALESCE(k.category, '') FROM detections d
LEFT JOIN kb_vulns k ON k.qid = d.qid WHERE d.host_id = ?`, func(c Cols) error {
		if o := hr.Owner(c.ColumnInt(0), c.ColumnText(3)); o != c.ColumnText(2) {
			changes = append(changes, change{c.ColumnInt64(0), c.ColumnInt64(1), o})
		}
		return nil
	}, id)
	if err != nil {
		return 0, err
	}
	for _, ch := range changes {
		a.histOne.int(at)
		a.histOne.text(ch.owner)
		a.histOne.int(id)
		a.histOne.int(ch.qid)
		a.histOne.int(ch.port)
		if err := a.histOne.run(); err != nil {
			return 0, err
		}
		a.setOne.text(ch.owner)
		a.setOne.int(rev)
		a.setOne.int(id)
		a.setOne.int(ch.qid)
		a.setOne.int(ch.port)
		if err := tx.runChanging(a.setOne); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}
