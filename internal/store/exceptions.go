package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/finding"
)

// ErrNoException is returned for an exception id the store does not hold.
var ErrNoException = errors.New("no such exception")

// ExceptionEvent is one change to an exception: add, edit, revoke or
// expire, with who made it and when, and what changed (JSON).
type ExceptionEvent struct {
	ExceptionID int64
	At          time.Time
	Actor       string
	Action      string
	Detail      string
}

const exceptionCols = `id, type, scope_key, qid, port, host, tag, cidr, future_hosts, reason, approver,
  recorded_by, recorded_at, starts, until, state, ended_at, ended_by`

func scanException(c Cols) exceptions.Exception {
	e := exceptions.Exception{ID: c.ColumnInt64(0), Type: c.ColumnText(1)}
	e.Scope = exceptions.Scope{Key: c.ColumnText(2), QID: c.ColumnInt(3), Host: c.ColumnText(5),
		Tag: c.ColumnText(6), CIDR: c.ColumnText(7), FutureHosts: c.ColumnInt(8) != 0}
	if p := c.ColumnInt(4); p >= 0 && e.Scope.Key == "" {
		e.Scope.Port = &p
	}
	e.Reason, e.Approver, e.RecordedBy = c.ColumnText(9), c.ColumnText(10), c.ColumnText(11)
	e.RecordedAt = time.Unix(c.ColumnInt64(12), 0).UTC()
	e.Start, e.Until, e.State = c.ColumnText(13), c.ColumnText(14), c.ColumnText(15)
	if t := c.ColumnInt64(16); t != 0 {
		e.EndedAt = time.Unix(t, 0).UTC()
	}
	e.EndedBy = c.ColumnText(17)
	return e
}

// AddException records an exception (Validate it first) at time at and
// returns its id. A scope of one finding key, or of a QID without
// FutureHosts, is fixed now: the store keeps the hosts it covers, and
// it never covers another. A scope that covers no finding is refused.
func (tx *Tx) AddException(e *exceptions.Exception, at time.Time) (int64, error) {
	hosts, err := tx.scopeHosts(&e.Scope)
	if err != nil {
		return 0, err
	}
	if len(hosts) == 0 && !e.Scope.FutureHosts {
		return 0, fmt.Errorf("exception: %s covers no open finding", e.Scope)
	}
	port := int64(-1)
	if e.Scope.Key != "" {
		_, _, p, _ := finding.ParseKey(e.Scope.Key)
		port = int64(p)
	} else if e.Scope.Port != nil {
		port = int64(*e.Scope.Port)
	}
	var id int64
	err = tx.query(`INSERT INTO exceptions (type, scope_key, qid, port, host, tag, cidr, future_hosts, reason, approver,
  recorded_by, recorded_at, starts, until, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active') RETURNING id`,
		func(c Cols) error { id = c.ColumnInt64(0); return nil },
		e.Type, e.Scope.Key, int64(e.Scope.QID), port, e.Scope.Host, e.Scope.Tag, e.Scope.CIDR, boolInt(e.Scope.FutureHosts),
		e.Reason, e.Approver, e.RecordedBy, at.Unix(), e.Start, e.Until)
	if err != nil {
		return 0, fmt.Errorf("store: exception: %w", err)
	}
	b, err := tx.bind("INSERT INTO exception_hosts (host_id, exception_id) VALUES (?, ?)")
	if err != nil {
		return 0, err
	}
	for _, h := range hosts {
		b.int(h)
		b.int(id)
		if err := b.run(); err != nil {
			return 0, err
		}
	}
	e.ID, e.State, e.RecordedAt, e.Hosts = id, exceptions.Active, at.UTC(), hosts
	detail := map[string]any{"type": e.Type, "scope": e.Scope, "reason": e.Reason, "approver": e.Approver,
		"start": e.Start, "until": e.Until, "hosts": len(hosts)}
	return id, tx.exceptionEvent(id, at, e.RecordedBy, "add", detail)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// scopeHosts resolves a fixed scope to the hosts it covers now: the host
// of a finding key, or the hosts with an open finding of the QID that
// the scope's host, tag and range select. A FutureHosts scope keeps none.
func (tx *Tx) scopeHosts(sc *exceptions.Scope) ([]int64, error) {
	if sc.FutureHosts {
		return nil, nil
	}
	if sc.Key != "" {
		addr, qid, port, _ := finding.ParseKey(sc.Key)
		var hosts []int64
		err := tx.query(`SELECT d.host_id FROM hosts h JOIN detections d ON d.host_id = h.id AND d.qid = ? AND d.port = ?
WHERE (h.ip = ? OR (h.ip = '' AND h.ipv6 = ?)) AND d.closed = ''`, func(c Cols) error {
			hosts = append(hosts, c.ColumnInt64(0))
			return nil
		}, int64(qid), int64(port), addr, addr)
		return hosts, err
	}
	var hosts []int64
	err := tx.coverCandidates(sc, true, func(hostID int64, _ int) { hosts = append(hosts, hostID) })
	slices.Sort(hosts)
	return slices.Compact(hosts), err
}

// coverCandidates calls fn for each detection of the scope's QID (open
// ones only if open) on a host the scope selects, and port it covers.
func (tx *Tx) coverCandidates(sc *exceptions.Scope, open bool, fn func(hostID int64, port int)) error {
	q := `SELECT d.host_id, d.port, h.ip, h.ipv6, h.fqdn, h.dns, h.netbios FROM detections d JOIN hosts h ON h.id = d.host_id
WHERE d.qid = ?`
	if open {
		q += ` AND d.closed = ''`
	}
	type cand struct {
		host int64
		port int
		h    exceptions.Host
	}
	var cands []cand
	err := tx.query(q, func(c Cols) error {
		port := c.ColumnInt(1)
		if !sc.SelectsPort(port) {
			return nil
		}
		cands = append(cands, cand{c.ColumnInt64(0), port, exceptions.Host{ID: c.ColumnInt64(0),
			IPs: []string{c.ColumnText(2), c.ColumnText(3)}, Names: []string{c.ColumnText(4), c.ColumnText(5), c.ColumnText(6)}}})
		return nil
	}, int64(sc.QID))
	if err != nil {
		return err
	}
	tags := map[int64][]string{} // a host's tags, read once for all its ports
	for i := range cands {
		if sc.Tag != "" {
			t, ok := tags[cands[i].host]
			if !ok {
				err := tx.query(`SELECT name FROM host_tags WHERE host_id = ?`, func(c Cols) error {
					t = append(t, c.ColumnText(0))
					return nil
				}, cands[i].host)
				if err != nil {
					return err
				}
				tags[cands[i].host] = t
			}
			cands[i].h.Tags = t
		}
		if sc.SelectsHost(cands[i].h) {
			fn(cands[i].host, cands[i].port)
		}
	}
	return nil
}

func (tx *Tx) exceptionEvent(id int64, at time.Time, actor, action string, detail any) error {
	js, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	b, err := tx.bind("INSERT INTO exception_events (exception_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	b.int(id)
	b.int(at.Unix())
	b.text(actor)
	b.text(action)
	b.text(string(js))
	return b.run()
}

// GetException reads one exception, with the hosts of its fixed scope.
func (tx *Tx) GetException(id int64) (exceptions.Exception, error) {
	var e exceptions.Exception
	found := false
	err := tx.query(`SELECT `+exceptionCols+` FROM exceptions WHERE id = ?`, func(c Cols) error {
		e, found = scanException(c), true
		return nil
	}, id)
	if err != nil {
		return e, err
	}
	if !found {
		return e, fmt.Errorf("%s: %w", exceptions.Name(id), ErrNoException)
	}
	err = tx.query(`SELECT host_id FROM exception_hosts WHERE exception_id = ? ORDER BY host_id`, func(c Cols) error {
		e.Hosts = append(e.Hosts, c.ColumnInt64(0))
		return nil
	}, id)
	return e, err
}

// EditException changes an active exception's expiry and reason (an
// empty value leaves a field as it was), recording who and when. Its
// scope never changes: a wider one needs a new exception.
func (tx *Tx) EditException(id int64, until, reason, actor string, at time.Time) error {
	e, err := tx.GetException(id)
	if err != nil {
		return err
	}
	if e.State != exceptions.Active {
		return fmt.Errorf("%s is %s: record a new exception instead", e.Name(), e.State)
	}
	detail := map[string]string{}
	if until != "" && until != e.Until {
		detail["until"] = e.Until + " → " + until
		e.Until = until
	}
	if reason != "" && reason != e.Reason {
		detail["reason"] = reason
		e.Reason = reason
	}
	if len(detail) == 0 {
		return nil
	}
	b, err := tx.bind("UPDATE exceptions SET until = ?, reason = ? WHERE id = ?")
	if err != nil {
		return err
	}
	b.text(e.Until)
	b.text(e.Reason)
	b.int(id)
	if err := b.run(); err != nil {
		return err
	}
	return tx.exceptionEvent(id, at, actor, "edit", detail)
}

// RevokeException ends an active exception now; the findings it covered
// come back with the next ApplyExceptions.
func (tx *Tx) RevokeException(id int64, actor, why string, at time.Time) error {
	e, err := tx.GetException(id)
	if err != nil {
		return err
	}
	if e.State != exceptions.Active {
		return fmt.Errorf("%s is already %s", e.Name(), e.State)
	}
	if err := tx.endException(id, exceptions.Revoked, actor, at); err != nil {
		return err
	}
	return tx.exceptionEvent(id, at, actor, "revoke", map[string]string{"why": why})
}

func (tx *Tx) endException(id int64, state, actor string, at time.Time) error {
	b, err := tx.bind("UPDATE exceptions SET state = ?, ended_at = ?, ended_by = ? WHERE id = ?")
	if err != nil {
		return err
	}
	b.text(state)
	b.int(at.Unix())
	b.text(actor)
	b.int(id)
	return b.run()
}

// ApplyResult tells what ApplyExceptions changed.
type ApplyResult struct {
	Expired   []int64 // exceptions that expired
	Excepted  int     // findings that an exception came to cover
	Returned  int     // findings no exception covers any more
	Restarted int     // of those, the ones whose SLA clock restarted
	// Active are the exceptions in force after it, for warnings of those
	// about to expire.
	Active []exceptions.Exception
}

// Restart gives a finding that comes back from an exception on day today
// its new deadline and due date, when exceptions.restart_sla is set:
// nil leaves the deadlines as they are.
type Restart func(rating, priority string, restart time.Time) (breachDate, dueDate string)

// ApplyExceptions brings the findings in line with the exceptions as of
// now: it records the expiry of those past their last day, marks the
// findings each active one covers as excepted and brings back those no
// exception covers any more, with a history event on each and this
// transaction's revision (the publishers resolve or reopen their
// issues). restart, when not nil, restarts the SLA clock of the findings
// that come back. Every command that writes runs it.
func (tx *Tx) ApplyExceptions(now time.Time, restart Restart) (ApplyResult, error) {
	var res ApplyResult
	today := now.UTC().Format(time.DateOnly)
	var all []exceptions.Exception
	err := tx.query(`SELECT `+exceptionCols+` FROM exceptions WHERE state = 'active' ORDER BY id`, func(c Cols) error {
		all = append(all, scanException(c))
		return nil
	})
	if err != nil {
		return res, err
	}
	why := map[int64]string{} // why an exception no longer covers: expired or revoked
	var active []exceptions.Exception
	for _, e := range all {
		if e.Until != "" && e.Until < today {
			if err := tx.endException(e.ID, exceptions.Expired, "", now); err != nil {
				return res, err
			}
			if err := tx.exceptionEvent(e.ID, now, "", "expire", map[string]string{"until": e.Until}); err != nil {
				return res, err
			}
			res.Expired = append(res.Expired, e.ID)
			why[e.ID] = "expired " + e.Until
			continue
		}
		res.Active = append(res.Active, e)
		if e.Start <= today {
			active = append(active, e)
		}
	}
	type key struct {
		host      int64
		qid, port int
	}
	type cover struct {
		id    int64
		until string
		label string
		actor string
	}
	want := map[key]cover{}
	for _, e := range active {
		c := cover{id: e.ID, until: e.Until, actor: e.RecordedBy}
		if c.until == "" {
			c.until = NoExpiry
		}
		c.label = e.Type + ", approved by " + e.Approver
		if e.Until != "" {
			c.label += ", until " + e.Until
		}
		add := func(host int64, port int) {
			k := key{host, e.Scope.QID, port}
			// Of two exceptions on one finding, the one that lasts longer.
			if old, ok := want[k]; !ok || c.until > old.until || c.until == old.until && c.id < old.id {
				want[k] = c
			}
		}
		if e.Scope.FutureHosts {
			if err := tx.coverCandidates(&e.Scope, false, add); err != nil {
				return res, err
			}
			continue
		}
		var keyPort = -1
		if e.Scope.Key != "" {
			_, _, keyPort, _ = finding.ParseKey(e.Scope.Key)
		}
		err := tx.query(`SELECT d.host_id, d.port FROM exception_hosts x JOIN detections d ON d.host_id = x.host_id AND d.qid = ?
WHERE x.exception_id = ?`, func(c Cols) error {
			port := c.ColumnInt(1)
			if keyPort >= 0 && port != keyPort || !e.Scope.SelectsPort(port) {
				return nil
			}
			add(c.ColumnInt64(0), port)
			return nil
		}, int64(e.Scope.QID), e.ID)
		if err != nil {
			return res, err
		}
	}
	type current struct {
		k                key
		id               int64
		until            string
		rating, priority string
	}
	var drop []current
	err = tx.query(`SELECT host_id, qid, port, exception_id, excepted_until, vuln_score, priority FROM detections WHERE exception_id <> 0`, func(c Cols) error {
		cur := current{key{c.ColumnInt64(0), c.ColumnInt(1), c.ColumnInt(2)}, c.ColumnInt64(3), c.ColumnText(4), c.ColumnText(5), c.ColumnText(6)}
		if w, ok := want[cur.k]; ok && w.id == cur.id && w.until == cur.until {
			delete(want, cur.k) // already so
			return nil
		} else if ok {
			return nil // covered by another or for longer: set below
		}
		drop = append(drop, cur)
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(drop) == 0 && len(want) == 0 {
		return res, nil
	}
	rev, err := tx.rev()
	if err != nil {
		return res, err
	}
	hist, err := tx.bind(`INSERT INTO history (host_id, qid, port, at, event, old, new, cause, actor)
SELECT host_id, qid, port, ?, 'exception', CASE WHEN exception_id = 0 THEN '' ELSE 'EXC-' || exception_id END, ?, ?, ? FROM detections
WHERE host_id = ? AND qid = ? AND port = ? AND type <> 'Info'`)
	if err != nil {
		return res, err
	}
	set, err := tx.bind(`UPDATE detections SET exception_id = ?, excepted_until = ?, rev = ? WHERE host_id = ? AND qid = ? AND port = ?`)
	if err != nil {
		return res, err
	}
	setRestart, err := tx.bind(`UPDATE detections SET exception_id = 0, excepted_until = '', sla_restart = ?, breach_date = ?, due_date = ?, rev = ?
WHERE host_id = ? AND qid = ? AND port = ?`)
	if err != nil {
		return res, err
	}
	record := func(k key, newName, cause, actor string) error {
		hist.int(now.Unix())
		hist.text(newName)
		hist.text(cause)
		hist.text(actor)
		hist.int(k.host)
		hist.int(int64(k.qid))
		hist.int(int64(k.port))
		return hist.run()
	}
	for _, d := range drop {
		cause, ok := why[d.id]
		if !ok {
			// Once per exception, not per finding: a revoked one may
			// have covered thousands.
			cause = "revoked"
			if e, err := tx.GetException(d.id); err == nil && e.State == exceptions.Active {
				cause = "no longer in its scope"
			} else if err == nil && e.State == exceptions.Expired {
				cause = "expired " + e.Until
			}
			why[d.id] = cause
		}
		if err := record(d.k, "", cause, ""); err != nil {
			return res, err
		}
		if restart != nil {
			breach, due := restart(d.rating, d.priority, now)
			setRestart.int(now.Unix())
			setRestart.text(breach)
			setRestart.text(due)
			setRestart.int(rev)
			setRestart.int(d.k.host)
			setRestart.int(int64(d.k.qid))
			setRestart.int(int64(d.k.port))
			if err := tx.runChanging(setRestart); err != nil {
				return res, err
			}
			res.Restarted++
		} else {
			set.int(0)
			set.text("")
			set.int(rev)
			set.int(d.k.host)
			set.int(int64(d.k.qid))
			set.int(int64(d.k.port))
			if err := tx.runChanging(set); err != nil {
				return res, err
			}
		}
		res.Returned++
	}
	keys := make([]key, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.host != b.host {
			return int(a.host - b.host)
		}
		if a.qid != b.qid {
			return a.qid - b.qid
		}
		return a.port - b.port
	})
	for _, k := range keys {
		w := want[k]
		if err := record(k, exceptions.Name(w.id), w.label, w.actor); err != nil {
			return res, err
		}
		set.int(w.id)
		set.text(w.until)
		set.int(rev)
		set.int(k.host)
		set.int(int64(k.qid))
		set.int(int64(k.port))
		if err := tx.runChanging(set); err != nil {
			return res, err
		}
		res.Excepted++
	}
	return res, nil
}

// ExceptionFilter selects exceptions.
type ExceptionFilter struct {
	States []string // active, revoked, expired; none: all
	// Active ones whose last day is on or before this date (YYYY-MM-DD).
	ExpiringBy string
}

// Exceptions lists exceptions, newest first, each with the findings it
// covers today (Covered).
func (s *Store) Exceptions(ctx context.Context, f ExceptionFilter) ([]exceptions.Exception, error) {
	var out []exceptions.Exception
	err := s.Snapshot(ctx, func(q *Snap) error {
		err := q.Each(`SELECT `+exceptionCols+` FROM exceptions ORDER BY id DESC`, nil, func(c Cols) error {
			e := scanException(c)
			if len(f.States) > 0 && !slices.Contains(f.States, e.State) {
				return nil
			}
			if f.ExpiringBy != "" && (e.State != exceptions.Active || e.Until == "" || e.Until > f.ExpiringBy) {
				return nil
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			return err
		}
		counts := map[int64]int{}
		err = q.Each(`SELECT exception_id, COUNT(*) FROM detections WHERE exception_id <> 0 AND excepted_until >= ? AND type <> 'Info'
GROUP BY exception_id`, []any{clockToday()}, func(c Cols) error {
			counts[c.ColumnInt64(0)] = c.ColumnInt(1)
			return nil
		})
		for i := range out {
			out[i].Covered = counts[out[i].ID]
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	return out, nil
}

// Exception reads one exception with its audit trail, oldest first.
func (s *Store) Exception(ctx context.Context, id int64) (exceptions.Exception, []ExceptionEvent, error) {
	var e exceptions.Exception
	var events []ExceptionEvent
	found := false
	err := s.Snapshot(ctx, func(q *Snap) error {
		err := q.Each(`SELECT `+exceptionCols+` FROM exceptions WHERE id = ?`, []any{id}, func(c Cols) error {
			e, found = scanException(c), true
			return nil
		})
		if err != nil || !found {
			return err
		}
		if err := q.Each(`SELECT host_id FROM exception_hosts WHERE exception_id = ? ORDER BY host_id`, []any{id}, func(c Cols) error {
			e.Hosts = append(e.Hosts, c.ColumnInt64(0))
			return nil
		}); err != nil {
			return err
		}
		if err := q.Each(`SELECT COUNT(*) FROM detections WHERE exception_id = ? AND excepted_until >= ? AND type <> 'Info'`,
			[]any{id, clockToday()}, func(c Cols) error {
				e.Covered = c.ColumnInt(0)
				return nil
			}); err != nil {
			return err
		}
		return q.Each(`SELECT at, actor, action, detail FROM exception_events WHERE exception_id = ? ORDER BY id`, []any{id}, func(c Cols) error {
			events = append(events, ExceptionEvent{ExceptionID: id, At: time.Unix(c.ColumnInt64(0), 0).UTC(),
				Actor: c.ColumnText(1), Action: c.ColumnText(2), Detail: c.ColumnText(3)})
			return nil
		})
	})
	if err != nil {
		return e, nil, fmt.Errorf("store: exception %d: %w", id, err)
	}
	if !found {
		return e, nil, fmt.Errorf("%s: %w", exceptions.Name(id), ErrNoException)
	}
	return e, events, nil
}

// ExceptionEvents lists every change to every exception, oldest first.
func (s *Store) ExceptionEvents(ctx context.Context) ([]ExceptionEvent, error) {
	var out []ExceptionEvent
	err := s.Snapshot(ctx, func(q *Snap) error {
		return q.Each(`SELECT exception_id, at, actor, action, detail FROM exception_events ORDER BY id`, nil, func(c Cols) error {
			out = append(out, ExceptionEvent{ExceptionID: c.ColumnInt64(0), At: time.Unix(c.ColumnInt64(1), 0).UTC(),
				Actor: c.ColumnText(2), Action: c.ColumnText(3), Detail: c.ColumnText(4)})
			return nil
		})
	})
	return out, err
}

func clockToday() string { return clock.Today() }

// DetKey names a detection: host, QID and port.
type DetKey struct {
	HostID    int64
	QID, Port int
}

// SLARestarts reads the detections whose SLA clock an ended exception
// restarted, and when (Unix seconds): few, read through a partial index.
func (tx *Tx) SLARestarts() (map[DetKey]int64, error) {
	out := map[DetKey]int64{}
	err := tx.query(`SELECT host_id, qid, port, sla_restart FROM detections WHERE sla_restart <> 0`, func(c Cols) error {
		out[DetKey{c.ColumnInt64(0), c.ColumnInt(1), c.ColumnInt(2)}] = c.ColumnInt64(3)
		return nil
	})
	return out, err
}
