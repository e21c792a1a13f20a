package store

import (
	"context"
	"fmt"
	"strings"

	"qvt/internal/finding"
)

// Change is one history row.
type Change struct {
	At       int64  // Unix seconds
	Event    string // status, closed, rating, deadline, priority, due
	Old, New string
	Cause    string // why a priority or due date changed ("added to KEV 2025-03-01")
	Actor    string // who made a change a person made (an exception's), else ""
}

// Life is a finding's current state and its history.
type Life struct {
	Key         string
	HostID      int64
	Hostname    string
	QID         int
	Port        int
	Title       string
	Status      string
	Closed      string
	VulnScore   string
	BreachDate  string
	Priority    string
	Reason      string // the rule that gave the priority
	DueDate     string
	FirstFound  int64
	LastFound   int64
	LastFixed   int64
	TimesReopen int
	FirstSeen   int64
	LastSeen    int64
	Changes     []Change
}

// History returns the life of the finding with this key, one Life per
// host that carries it (normally one).
func (s *Store) History(ctx context.Context, key string) ([]Life, error) {
	addr, qid, port, ok := finding.ParseKey(key)
	if !ok {
		return nil, fmt.Errorf("%q is not a finding key (want <address>:<qid>:<port>, e.g. 10.1.2.3:105936:443)", key)
	}
	// The address is looked up in hosts_ip first (an OR of the two
	// columns would make SQLite start from the QID's detections instead:
	// thousands of rows for a common QID).
	q := `WITH a(id) AS (SELECT id FROM hosts WHERE ip = ?1
  UNION SELECT id FROM hosts WHERE ip = '' AND ipv6 = ?1)
SELECT d.host_id, COALESCE(NULLIF(h.fqdn, ''), NULLIF(h.dns, ''), h.netbios),
  COALESCE(k.title, ''), d.status, d.closed, d.vuln_score, d.breach_date, d.first_found, d.last_found,
  d.last_fixed, d.times_reopened, d.first_seen, d.last_seen, d.priority, d.priority_reason, d.due_date
FROM a CROSS JOIN detections d ON d.host_id = a.id AND d.qid = ?2 AND d.port = ?3
JOIN hosts h ON h.id = d.host_id
LEFT JOIN kb_vulns k ON k.qid = d.qid
ORDER BY d.last_seen DESC`
	if s.pg != nil {
		// SQLite's CROSS JOIN fixes the join order; PostgreSQL's planner
		// starts from the addresses anyway, and has no CROSS JOIN ... ON.
		q = strings.Replace(q, "CROSS JOIN", "JOIN", 1)
	}
	rows, err := s.db.QueryContext(ctx, q, addr, qid, port)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	var lives []Life
	for rows.Next() {
		l := Life{Key: finding.Key(addr, qid, port), QID: qid, Port: port}
		if err := rows.Scan(&l.HostID, &l.Hostname, &l.Title, &l.Status, &l.Closed, &l.VulnScore, &l.BreachDate,
			&l.FirstFound, &l.LastFound, &l.LastFixed, &l.TimesReopen, &l.FirstSeen, &l.LastSeen,
			&l.Priority, &l.Reason, &l.DueDate); err != nil {
			rows.Close()
			return nil, err
		}
		lives = append(lives, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range lives {
		l := &lives[i]
		hr, err := s.db.QueryContext(ctx, `SELECT at, event, old, new, cause, actor FROM history
WHERE host_id = ? AND qid = ? AND port = ? ORDER BY id`, l.HostID, qid, port)
		if err != nil {
			return nil, fmt.Errorf("store: history: %w", err)
		}
		for hr.Next() {
			var c Change
			if err := hr.Scan(&c.At, &c.Event, &c.Old, &c.New, &c.Cause, &c.Actor); err != nil {
				hr.Close()
				return nil, err
			}
			l.Changes = append(l.Changes, c)
		}
		hr.Close()
		if err := hr.Err(); err != nil {
			return nil, err
		}
	}
	return lives, nil
}

// ChangeCounts counts what changed from a time on, or in one run.
type ChangeCounts struct {
	New       int // findings first seen
	Fixed     int // turned Fixed
	Reopened  int // turned Re-Opened
	Gone      int // closed as gone
	Ignored   int // closed as ignored
	Disabled  int // closed as disabled
	Closed    int // closed for any reason
	Rerated   int // rating changed
	Unchanged int // of a run's findings, those found again neither closed, fixed nor reopened (Run only)
	Run       bool
}

// Changes counts the findings that appeared and the changes recorded at
// or after since (Unix seconds).
func (s *Store) Changes(ctx context.Context, since int64) (ChangeCounts, error) {
	var c ChangeCounts
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM detections WHERE first_seen >= ? AND type <> 'Info'`, since).Scan(&c.New)
	if err != nil {
		return c, fmt.Errorf("store: changes: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT `+changeSums+` FROM history WHERE at >= ?`, since).
		Scan(&c.Fixed, &c.Reopened, &c.Gone, &c.Ignored, &c.Disabled, &c.Closed, &c.Rerated)
	if err != nil {
		return c, fmt.Errorf("store: changes: %w", err)
	}
	return c, nil
}

const changeSums = `count(*) FILTER (WHERE event = 'status' AND new = 'Fixed'),
  count(*) FILTER (WHERE event = 'status' AND new = 'Re-Opened'),
  count(*) FILTER (WHERE event = 'closed' AND new = 'gone'),
  count(*) FILTER (WHERE event = 'closed' AND new = 'ignored'),
  count(*) FILTER (WHERE event = 'closed' AND new = 'disabled'),
  count(*) FILTER (WHERE event = 'closed' AND new <> ''),
  count(*) FILTER (WHERE event = 'rating')`

// Mark is a point in a transaction to count its changes from.
type Mark struct {
	history int64 // the newest history row before it
	stats   Stats
}

// Mark marks the transaction's present state.
func (tx *Tx) Mark() (Mark, error) {
	m := Mark{stats: tx.Stats}
	err := tx.query("SELECT COALESCE(max(id), 0) FROM history", func(st Cols) error {
		m.history = st.ColumnInt64(0)
		return nil
	})
	return m, err
}

// ChangesSince counts what the transaction changed since m: the findings
// its detections created, the changes it recorded, and of the findings
// its detections reported, those that neither closed, turned Fixed nor
// reopened (New turning Active is no change of their life). Re-writing
// data the store holds counts them all unchanged.
func (tx *Tx) ChangesSince(m Mark) (ChangeCounts, error) {
	c := ChangeCounts{Run: true, New: tx.Stats.New - m.stats.New}
	// Info detections are not findings: their changes do not count.
	err := tx.query(`WITH h AS (SELECT h.* FROM history h JOIN detections d USING (host_id, qid, port)
  WHERE h.id > ? AND d.type <> 'Info')
SELECT `+changeSums+`,
  (SELECT count(*) FROM (SELECT DISTINCT host_id, qid, port FROM h
    WHERE event = 'status' AND new IN ('Fixed', 'Re-Opened') OR event = 'closed' AND new <> 'gone') AS x)
FROM h`, func(st Cols) error {
		for i, p := range []*int{&c.Fixed, &c.Reopened, &c.Gone, &c.Ignored, &c.Disabled, &c.Closed, &c.Rerated} {
			*p = st.ColumnInt(i)
		}
		c.Unchanged = tx.Stats.Reported - m.stats.Reported - c.New - st.ColumnInt(7)
		return nil
	}, m.history)
	if err != nil {
		return c, fmt.Errorf("store: changes: %w", err)
	}
	c.Unchanged = max(c.Unchanged, 0)
	return c, nil
}

// String describes the counts on one line: every closed reason that
// occurred, and for a run what it left unchanged.
func (c ChangeCounts) String() string {
	var parts []string
	add := func(n int, what string) {
		parts = append(parts, fmt.Sprintf("%d %s", n, what))
	}
	add(c.New, "new")
	add(c.Fixed, "fixed")
	add(c.Reopened, "reopened")
	add(c.Gone, "gone")
	if c.Ignored > 0 {
		add(c.Ignored, "ignored")
	}
	if c.Disabled > 0 {
		add(c.Disabled, "disabled")
	}
	if c.Rerated > 0 {
		add(c.Rerated, "rerated")
	}
	if c.Run {
		add(c.Unchanged, "unchanged")
	}
	return strings.Join(parts, ", ")
}
