package store

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"

	"qvt/internal/finding"
	"qvt/internal/jsonenc"
	"qvt/internal/qualys"
	"qvt/internal/unixtime"
)

// HostRecord is a host with its detections, as the store writes them: the
// rating and deadline of each detection are derived by the caller, and the
// detections are sorted by QID, port and most recently found first (as
// load.Loader.Rate leaves them).
type HostRecord struct {
	Host    *qualys.Host
	Policy  int       // environment policy of the host
	Derived []Derived // one per Host.Detections
}

// Derived holds what qvt adds to a detection, and the detection's extra
// column (see DetectionExtra), which callers build off the writer's
// goroutine.
type Derived struct {
	VulnScore  string
	BreachDate string
	Extra      string
	// The priority's fields (docs/priority.md), the packed sort key
	// (priority.Urgency) and the cause that history records if they change.
	Priority, PriorityReason, DueDate string
	Urgency                           int64
	Cause                             string
}

// DetectionExtra encodes the fields of a detection kept in its extra
// column, as a JSON object of the fields that are set.
func DetectionExtra(d *qualys.Detection) string {
	var o jsonenc.Object
	field := func(k, v string) {
		if v != "" {
			o.Field(k, v)
		}
	}
	field("last_test", d.LastTest)
	field("last_update", d.LastUpdate)
	field("first_reopened", d.FirstReopened)
	if d.SSL {
		field("ssl", "1")
	}
	field("fqdn", d.FQDN)
	field("instance", d.Instance)
	field("service", d.Service)
	if d.QDS != 0 {
		field("qds", strconv.Itoa(d.QDS))
	}
	field("qds_severity", d.QDSSeverity)
	if d.UniqueVulnID != 0 {
		field("unique_vuln_id", strconv.FormatInt(d.UniqueVulnID, 10))
	}
	field("last_processed", d.LastProcessed)
	return string(o.Close())
}

const upsertHost = `INSERT INTO hosts (id, asset_id, ip, ipv6, tracking_method, network_id, os, os_cpe,
 dns, dns_hostname, dns_domain, fqdn, netbios, qg_host_id, last_scan, last_vm_scanned,
 last_vm_scanned_duration, last_vm_auth_scanned, last_pc_scanned, policy, seen)
VALUES (?,?,?,?,?,?,?,?, ?,?,?,?,?,?,?,?, ?,?,?,?,?)
ON CONFLICT (id) DO UPDATE SET asset_id = excluded.asset_id, ip = excluded.ip, ipv6 = excluded.ipv6,
 tracking_method = excluded.tracking_method, network_id = excluded.network_id, os = excluded.os,
 os_cpe = excluded.os_cpe, dns = excluded.dns, dns_hostname = excluded.dns_hostname,
 dns_domain = excluded.dns_domain, fqdn = excluded.fqdn, netbios = excluded.netbios,
 qg_host_id = excluded.qg_host_id, last_scan = excluded.last_scan,
 last_vm_scanned = excluded.last_vm_scanned, last_vm_scanned_duration = excluded.last_vm_scanned_duration,
 last_vm_auth_scanned = excluded.last_vm_auth_scanned, last_pc_scanned = excluded.last_pc_scanned,
 policy = excluded.policy, seen = excluded.seen`

// A QID reported on tcp and udp of one port is one finding: the most
// recently found report wins, whatever the order they arrive in.
// Newer data wins: a detection is rewritten by data seen later, and
// within one response (the same last_seen) by a report found more
// recently, so a QID reported on tcp and udp of one port is one finding:
// the most recently found, the first of them on a tie (detections come
// sorted). The same data again changes nothing, and older data (a file
// older than what the store holds) changes nothing either.
const upsertDetection = `INSERT INTO detections (host_id, qid, port, protocol, type, severity, status,
 first_found, last_found, times_found, last_fixed, last_reopened, times_reopened, results,
 ignored, disabled, extra, vuln_score, breach_date, first_seen, last_seen, closed, rev,
 qds, priority, priority_reason, due_date, urgency, priority_cause)
VALUES (?,?,?,?,?,?,?, ?,?,?,?,?,?,?, ?,?,?,?,?,?,?,?,?, ?,?,?,?,?,?)
ON CONFLICT (host_id, qid, port) DO UPDATE SET protocol = excluded.protocol, type = excluded.type,
 severity = excluded.severity, status = excluded.status, first_found = excluded.first_found,
 last_found = excluded.last_found, times_found = excluded.times_found, last_fixed = excluded.last_fixed,
 last_reopened = excluded.last_reopened, times_reopened = excluded.times_reopened,
 results = excluded.results, ignored = excluded.ignored, disabled = excluded.disabled,
 extra = excluded.extra, vuln_score = excluded.vuln_score, breach_date = excluded.breach_date,
 last_seen = excluded.last_seen, closed = excluded.closed,
 qds = excluded.qds, priority = excluded.priority, priority_reason = excluded.priority_reason,
 due_date = excluded.due_date, urgency = excluded.urgency,
 priority_cause = CASE WHEN excluded.priority IS DISTINCT FROM detections.priority
   OR excluded.due_date IS DISTINCT FROM detections.due_date THEN excluded.priority_cause ELSE detections.priority_cause END,
 rev = CASE WHEN excluded.status IS DISTINCT FROM detections.status OR excluded.closed IS DISTINCT FROM detections.closed
   OR excluded.last_found IS DISTINCT FROM detections.last_found OR excluded.times_found IS DISTINCT FROM detections.times_found
   OR excluded.vuln_score IS DISTINCT FROM detections.vuln_score OR excluded.breach_date IS DISTINCT FROM detections.breach_date
   OR excluded.last_fixed IS DISTINCT FROM detections.last_fixed OR excluded.first_found IS DISTINCT FROM detections.first_found
   OR excluded.results IS DISTINCT FROM detections.results OR excluded.severity IS DISTINCT FROM detections.severity
   OR excluded.type IS DISTINCT FROM detections.type OR excluded.protocol IS DISTINCT FROM detections.protocol
   OR excluded.times_reopened IS DISTINCT FROM detections.times_reopened OR excluded.last_reopened IS DISTINCT FROM detections.last_reopened
   OR excluded.ignored IS DISTINCT FROM detections.ignored OR excluded.disabled IS DISTINCT FROM detections.disabled
   OR excluded.qds IS DISTINCT FROM detections.qds OR excluded.priority IS DISTINCT FROM detections.priority
   OR excluded.priority_reason IS DISTINCT FROM detections.priority_reason OR excluded.due_date IS DISTINCT FROM detections.due_date
   THEN excluded.rev ELSE detections.rev END
WHERE excluded.last_seen > detections.last_seen
   OR (excluded.last_seen = detections.last_seen AND excluded.last_found > detections.last_found)`

// A host the store has never seen has no findings to change: its
// detections are plain inserts, which need none of the upsert's
// change-tracking (the history trigger makes SQLite journal every upsert
// statement). Detections come sorted with the most recently found of a
// tcp/udp pair first, so keeping the first is the upsert's rule too.
var insertDetection = upsertDetection[:strings.Index(upsertDetection, "ON CONFLICT")] + "ON CONFLICT DO NOTHING"

// touchDetection is the common case of a rescan: a detection found again
// with its status, closed reason, rating and deadline unchanged. It sets
// only columns that no index holds and the history trigger does not
// watch, so SQLite rewrites no index entry and needs no statement journal
// for the trigger; it matches no row (and the full upsert runs) when one
// of those changed, when the detection is new, or when the data is not
// newer than the store's. The revision moves, as with the upsert, when a
// column that the finding record shows changed (extra holds the times of
// the last test and processing, which move with every scan: it does not
// count). A change of priority or due date, which the history records,
// goes through the upsert too. Parameters: ?1 host_id, ?2 qid, ?3 port,
// ?4 seen, ?5 last_found, ?6 times_found, ?7 rev, then the other columns
// of upsertDetection in its order.
const touchDetection = `UPDATE detections SET last_seen = ?4, last_found = ?5, times_found = ?6,
 protocol = ?8, severity = ?10, last_reopened = ?14, times_reopened = ?15, results = ?16,
 ignored = ?17, disabled = ?18, extra = ?19, qds = ?23, priority_reason = ?25, urgency = ?27,
 rev = CASE WHEN last_found IS DISTINCT FROM ?5 OR times_found IS DISTINCT FROM ?6 OR protocol IS DISTINCT FROM ?8
   OR severity IS DISTINCT FROM ?10 OR last_reopened IS DISTINCT FROM ?14 OR times_reopened IS DISTINCT FROM ?15
   OR results IS DISTINCT FROM ?16 OR ignored IS DISTINCT FROM ?17 OR disabled IS DISTINCT FROM ?18
   OR qds IS DISTINCT FROM ?23 OR priority_reason IS DISTINCT FROM ?25 THEN ?7 ELSE rev END
WHERE host_id = ?1 AND qid = ?2 AND port = ?3
 AND (?4 > last_seen OR (?4 = last_seen AND ?5 > last_found))
 AND type IS NOT DISTINCT FROM ?9 AND status IS NOT DISTINCT FROM ?11 AND first_found IS NOT DISTINCT FROM ?12 AND last_fixed IS NOT DISTINCT FROM ?13
 AND vuln_score IS NOT DISTINCT FROM ?20 AND breach_date IS NOT DISTINCT FROM ?21 AND closed IS NOT DISTINCT FROM ?22
 AND priority IS NOT DISTINCT FROM ?24 AND due_date IS NOT DISTINCT FROM ?26`

// detRow is a detection's row as the statements bind it.
type detRow struct {
	hostID, qid, port                      int64
	protocol, typ                          string
	severity                               int64
	status                                 string
	firstFound, lastFound, timesFound      int64
	lastFixed, lastReopened, timesReopened int64
	results                                string
	ignored, disabled                      bool
	extra, vulnScore, breachDate, closed   string
	qds                                    int64 // 0: none (NULL)
	priority, priorityReason, dueDate      string
	urgency                                int64
	priorityCause                          string
}

// newDetRow builds the row of a host's i-th detection, as both engines'
// PutHosts write it.
func newDetRow(h *qualys.Host, d *qualys.Detection, i int, derived []Derived) (detRow, error) {
	row := detRow{
		hostID: h.ID, qid: int64(d.QID), port: int64(d.Port),
		protocol: d.Protocol, typ: d.Type, severity: int64(d.Severity), status: d.Status,
		timesFound: int64(d.TimesFound), timesReopened: int64(d.TimesReopened),
		results: d.Results, ignored: d.Ignored, disabled: d.Disabled, closed: closedReason(d),
	}
	for _, tm := range [4]struct {
		name, v string
		dst     *int64
	}{
		{"FIRST_FOUND_DATETIME", d.FirstFound, &row.firstFound},
		{"LAST_FOUND_DATETIME", d.LastFound, &row.lastFound},
		{"LAST_FIXED_DATETIME", d.LastFixed, &row.lastFixed},
		{"LAST_REOPENED_DATETIME", d.LastReopened, &row.lastReopened},
	} {
		t, ok := unixtime.Parse(tm.v)
		if !ok {
			return row, fmt.Errorf("store: host %d qid %d port %d: %s %q is not an RFC 3339 time", h.ID, d.QID, d.Port, tm.name, tm.v)
		}
		*tm.dst = t
	}
	var dv Derived
	if i < len(derived) {
		dv = derived[i]
	}
	if dv.Extra == "" {
		dv.Extra = DetectionExtra(d)
	}
	row.extra, row.vulnScore, row.breachDate = dv.Extra, dv.VulnScore, dv.BreachDate
	row.qds = int64(d.QDS)
	row.priority, row.priorityReason, row.dueDate = dv.Priority, dv.PriorityReason, dv.DueDate
	row.urgency, row.priorityCause = dv.Urgency, dv.Cause
	return row, nil
}

// bindRow binds the row in upsertDetection's (and insertDetection's) order.
func bindRow(b *binder, r *detRow, seen, rev int64) {
	b.int(r.hostID)
	b.int(r.qid)
	b.int(r.port)
	b.text(r.protocol)
	b.text(r.typ)
	b.int(r.severity)
	b.text(r.status)
	b.int(r.firstFound)
	b.int(r.lastFound)
	b.int(r.timesFound)
	b.int(r.lastFixed)
	b.int(r.lastReopened)
	b.int(r.timesReopened)
	b.text(r.results)
	b.bool(r.ignored)
	b.bool(r.disabled)
	b.text(r.extra)
	b.text(r.vulnScore)
	b.text(r.breachDate)
	b.int(seen) // first_seen (kept by the upsert)
	b.int(seen) // last_seen
	b.text(r.closed)
	b.int(rev)
	bindPriority(b, r, true)
}

// bindPriority binds the QDS and priority columns, upsertDetection's last
// (with the cause) and touchDetection's ?23 to ?27 (without: a touch
// changes neither priority nor due date).
func bindPriority(b *binder, r *detRow, cause bool) {
	if r.qds == 0 {
		b.null()
	} else {
		b.int(r.qds)
	}
	b.text(r.priority)
	b.text(r.priorityReason)
	b.text(r.dueDate)
	b.int(r.urgency)
	if cause {
		b.text(r.priorityCause)
	}
}

// copyValues appends the row's values in upsertDetection's column order,
// as PostgreSQL's COPY takes them: seen is first_seen and last_seen.
func (r *detRow) copyValues(v []any, seen, rev int64) []any {
	return append(v, r.hostID, r.qid, r.port, r.protocol, r.typ, r.severity, r.status,
		r.firstFound, r.lastFound, r.timesFound, r.lastFixed, r.lastReopened, r.timesReopened, r.results,
		b2i(r.ignored), b2i(r.disabled), r.extra, r.vulnScore, r.breachDate, seen, seen, r.closed, rev,
		r.qdsValue(), r.priority, r.priorityReason, r.dueDate, r.urgency, r.priorityCause)
}

// qdsValue is the qds column's value for PostgreSQL: nil for none.
func (r *detRow) qdsValue() any {
	if r.qds == 0 {
		return nil
	}
	return r.qds
}

// bindTouch binds the row in touchDetection's order.
func bindTouch(b *binder, r *detRow, seen, rev int64) {
	b.int(r.hostID)
	b.int(r.qid)
	b.int(r.port)
	b.int(seen)
	b.int(r.lastFound)
	b.int(r.timesFound)
	b.int(rev)
	b.text(r.protocol)
	b.text(r.typ)
	b.int(r.severity)
	b.text(r.status)
	b.int(r.firstFound)
	b.int(r.lastFixed)
	b.int(r.lastReopened)
	b.int(r.timesReopened)
	b.text(r.results)
	b.bool(r.ignored)
	b.bool(r.disabled)
	b.text(r.extra)
	b.text(r.vulnScore)
	b.text(r.breachDate)
	b.text(r.closed)
	bindPriority(b, r, false)
}

// Closed reasons (finding.ClosedReasons).
const (
	ClosedFixed    = finding.ClosedFixed
	ClosedGone     = finding.ClosedGone
	ClosedIgnored  = finding.ClosedIgnored
	ClosedDisabled = finding.ClosedDisabled
)

// closedReason is why Qualys' data closes a detection, "" if it is open.
func closedReason(d *qualys.Detection) string {
	switch {
	case d.Status == "Fixed":
		return ClosedFixed
	case d.Disabled:
		return ClosedDisabled
	case d.Ignored:
		return ClosedIgnored
	}
	return ""
}

// PutHosts upserts hosts, their tags and their detections, as data of the
// given time (Unix seconds: the response's DATETIME, or the sync's start).
// A host scanned again since the store last saw it reports its complete
// detection list, so its stored detections missing from it are closed as
// gone.
func (tx *Tx) PutHosts(hs []HostRecord, seen int64) error {
	if err := tx.watchChanges(seen); err != nil {
		return err
	}
	if err := tx.deferIndexes(); err != nil {
		return err
	}
	rev, err := tx.rev()
	if err != nil {
		return err
	}
	if tx.pg != nil {
		return tx.pgPutHosts(hs, seen, rev)
	}
	hb, err := tx.bind(upsertHost)
	if err != nil {
		return err
	}
	upsert, err := tx.bind(upsertDetection)
	if err != nil {
		return err
	}
	insert, err := tx.bind(insertDetection)
	if err != nil {
		return err
	}
	touch, err := tx.bind(touchDetection)
	if err != nil {
		return err
	}
	exists, err := tx.stmt("SELECT 1 FROM detections WHERE host_id = ? AND qid = ? AND port = ?")
	if err != nil {
		return err
	}
	for _, r := range hs {
		h := r.Host
		tx.Stats.Hosts++
		prev, err := tx.hostState(h, r.Policy, seen)
		if err != nil {
			return err
		}
		if prev.older {
			tx.Stats.Stale++
			continue
		}
		if prev.reorders || !prev.exists {
			tx.reorder()
		}
		hb.int(h.ID)
		hb.int(h.AssetID)
		hb.text(h.IP)
		hb.text(h.IPv6)
		hb.text(h.TrackingMethod)
		hb.text(h.NetworkID)
		hb.text(h.OS)
		hb.text(h.OSCPE)
		hb.text(h.DNS)
		hb.text(h.DNSHostname)
		hb.text(h.DNSDomain)
		hb.text(h.FQDN)
		hb.text(h.NetBIOS)
		hb.text(h.QGHostID)
		hb.text(h.LastScan)
		hb.text(h.LastVMScanned)
		hb.int(int64(h.LastVMScannedDuration))
		hb.text(h.LastVMAuthScanned)
		hb.text(h.LastPCScanned)
		hb.int(int64(r.Policy))
		hb.int(seen)
		if err := hb.run(); err != nil {
			return fmt.Errorf("store: host %d: %w", h.ID, err)
		}
		if err := tx.putTags(h); err != nil {
			return fmt.Errorf("store: host %d: %w", h.ID, err)
		}
		for i := range h.Detections {
			d := &h.Detections[i]
			tx.Stats.Detections++
			row, err := newDetRow(h, d, i, r.Derived)
			if err != nil {
				return err
			}
			// Detections come sorted: the second of a tcp/udp pair
			// follows the first, and is the same finding.
			finding := d.Type != "Info" && (i == 0 || h.Detections[i-1].QID != d.QID || h.Detections[i-1].Port != d.Port)
			if finding {
				tx.Stats.Reported++
			}
			if !prev.exists {
				if finding {
					tx.Stats.New++
				}
				bindRow(insert, &row, seen, rev)
				if err := insert.run(); err != nil {
					return fmt.Errorf("store: host %d qid %d port %d: %w", h.ID, d.QID, d.Port, err)
				}
				continue
			}
			bindTouch(touch, &row, seen, rev)
			if err := touch.run(); err != nil {
				return fmt.Errorf("store: host %d qid %d port %d: %w", h.ID, d.QID, d.Port, err)
			}
			if tx.changes() > 0 {
				tx.Stats.Rescanned++
				continue
			}
			if finding {
				known, err := tx.has(exists, &row)
				if err != nil {
					return fmt.Errorf("store: host %d qid %d port %d: %w", h.ID, d.QID, d.Port, err)
				}
				if !known {
					tx.Stats.New++
				}
			}
			bindRow(upsert, &row, seen, rev)
			if err := upsert.run(); err != nil {
				return fmt.Errorf("store: host %d qid %d port %d: %w", h.ID, d.QID, d.Port, err)
			}
		}
		if prev.rescanned {
			if err := tx.closeGone(h.ID, seen, rev); err != nil {
				return err
			}
		}
		if prev.renamed {
			// Its findings show the host's address, name and OS.
			if err := tx.touchHost(h.ID, rev); err != nil {
				return err
			}
		}
		if !tx.revUsed {
			// Whether an upsert changed a finding (and gave it the
			// revision) only the rows tell; once one has, no need to ask.
			if err := tx.checkRev(h.ID, rev); err != nil {
				return err
			}
		}
	}
	return nil
}

// has tells whether the store holds the detection of r's key.
func (tx *Tx) has(exists *sqlite3.Stmt, r *detRow) (bool, error) {
	defer exists.Reset()
	exists.BindInt64(1, r.hostID)
	exists.BindInt64(2, r.qid)
	exists.BindInt64(3, r.port)
	found := exists.Step()
	return found, exists.Err()
}

// checkRev notes the revision used if a finding of the host has it.
func (tx *Tx) checkRev(hostID, rev int64) error {
	st, err := tx.stmt("SELECT 1 FROM detections WHERE host_id = ? AND rev = ? LIMIT 1")
	if err != nil {
		return err
	}
	defer st.Reset()
	st.BindInt64(1, hostID)
	st.BindInt64(2, rev)
	if st.Step() {
		tx.usedRev()
	}
	return st.Err()
}

// hostPrev is what the store held for a host before it is rewritten.
type hostPrev struct {
	exists    bool // the store has the host
	rescanned bool // scanned since the store last saw it
	older     bool // the store holds newer data for it
	renamed   bool // its address, name or OS changed
	// reorders: its findings' urgencies may move (the data is newer,
	// or its environment policy another); the same data again moves
	// nothing. A new host's findings are new.
	reorders bool
}

func (tx *Tx) hostState(h *qualys.Host, policy int, seen int64) (hostPrev, error) {
	st, err := tx.stmt("SELECT last_vm_scanned, seen, ip, ipv6, fqdn, dns, netbios, os, policy FROM hosts WHERE id = ?")
	if err != nil {
		return hostPrev{}, err
	}
	defer st.Reset()
	if err := st.BindInt64(1, h.ID); err != nil {
		return hostPrev{}, err
	}
	if !st.Step() {
		return hostPrev{}, st.Err()
	}
	prev := st.ColumnText(0)
	return hostPrev{
		exists:    true,
		rescanned: prev != "" && h.LastVMScanned > prev,
		older:     st.ColumnInt64(1) > seen,
		renamed: st.ColumnText(2) != h.IP || st.ColumnText(3) != h.IPv6 || st.ColumnText(4) != h.FQDN ||
			st.ColumnText(5) != h.DNS || st.ColumnText(6) != h.NetBIOS || st.ColumnText(7) != h.OS,
		reorders: seen > st.ColumnInt64(1) || st.ColumnInt(8) != policy,
	}, nil
}

// touchHost marks every finding of a host changed.
func (tx *Tx) touchHost(hostID, rev int64) error {
	b, err := tx.bind("UPDATE detections SET rev = ? WHERE host_id = ?")
	if err != nil {
		return err
	}
	b.int(rev)
	b.int(hostID)
	return tx.runChanging(b)
}

// closeGone closes the host's open detections that the data of this time
// did not report.
func (tx *Tx) closeGone(hostID, seen, rev int64) error {
	b, err := tx.bind("UPDATE detections SET closed = 'gone', rev = ? WHERE host_id = ? AND last_seen < ? AND closed = ''")
	if err != nil {
		return err
	}
	b.int(rev)
	b.int(hostID)
	b.int(seen)
	return tx.runChanging(b)
}

func (tx *Tx) putTags(h *qualys.Host) error {
	del, err := tx.bind("DELETE FROM host_tags WHERE host_id = ?")
	if err != nil {
		return err
	}
	del.int(h.ID)
	if err := del.run(); err != nil {
		return err
	}
	if len(h.Tags) == 0 {
		return nil
	}
	ins, err := tx.bind("INSERT INTO host_tags (host_id, name, tag_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
	if err != nil {
		return err
	}
	for _, t := range h.Tags {
		ins.int(h.ID)
		ins.text(t.Name)
		ins.int(t.ID)
		if err := ins.run(); err != nil {
			return err
		}
	}
	return nil
}
