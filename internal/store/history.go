package store

import (
	"context"
	"fmt"
	"strings"

	"qvt/internal/finding"
)

// Change is one history row.
type Change struct {
	At       int64 // Unix seconds
	Event    string
	Old, New string
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
	rows, err := s.db.QueryContext(ctx, `WITH a(id) AS (SELECT id FROM hosts WHERE ip = ?1
  UNION SELECT id FROM hosts WHERE ip = '' AND ipv6 = ?1)
SELECT d.host_id, COALESCE(NULLIF(h.fqdn, ''), NULLIF(h.dns, ''), h.netbios),
  COALESCE(k.title, ''), d.status, d.closed, d.vuln_score, d.breach_date, d.first_found, d.last_found,
  d.last_fixed, d.times_reopened, d.first_seen, d.last_seen
FROM a CROSS JOIN detections d ON d.host_id = a.id AND d.qid = ?2 AND d.port = ?3
JOIN hosts h ON h.id = d.host_id
LEFT JOIN kb_vulns k ON k.qid = d.qid
ORDER BY d.last_seen DESC`, addr, qid, port)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	var lives []Life
	for rows.Next() {
		l := Life{Key: finding.Key(addr, qid, port), QID: qid, Port: port}
		if err := rows.Scan(&l.HostID, &l.Hostname, &l.Title, &l.Status, &l.Closed, &l.VulnScore, &l.BreachDate,
			&l.FirstFound, &l.LastFound, &l.LastFixed, &l.TimesReopen, &l.FirstSeen, &l.LastSeen); err != nil {
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
		hr, err := s.db.QueryContext(ctx, `SELECT at, event, old, new FROM history
WHERE host_id = ? AND qid = ? AND port = ? ORDER BY id`, l.HostID, qid, port)
		if err != nil {
			return nil, fmt.Errorf("store: history: %w", err)
		}
		for hr.Next() {
			var c Change
			if err := hr.Scan(&c.At, &c.Event, &c.Old, &c.New); err != nil {
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

// ChangeCounts counts what changed from a time on.
type ChangeCounts struct {
	New      int // findings first seen
	Fixed    int // turned Fixed
	Reopened int // turned Re-Opened
	Gone     int // closed as gone
	Closed   int // closed for any reason
	Rerated  int // rating changed
}

// Changes counts the findings that appeared and the changes recorded at
// or after since (Unix seconds).
func (s *Store) Changes(ctx context.Context, since int64) (ChangeCounts, error) {
	var c ChangeCounts
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM detections WHERE first_seen >= ? AND type <> 'Info'`, since).Scan(&c.New)
	if err != nil {
		return c, fmt.Errorf("store: changes: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `SELECT
  COALESCE(sum(event = 'status' AND new = 'Fixed'), 0),
  COALESCE(sum(event = 'status' AND new = 'Re-Opened'), 0),
  COALESCE(sum(event = 'closed' AND new = 'gone'), 0),
  COALESCE(sum(event = 'closed' AND new <> ''), 0),
  COALESCE(sum(event = 'rating'), 0)
FROM history WHERE at >= ?`, since).Scan(&c.Fixed, &c.Reopened, &c.Gone, &c.Closed, &c.Rerated)
	if err != nil {
		return c, fmt.Errorf("store: changes: %w", err)
	}
	return c, nil
}

// String describes the counts on one line.
func (c ChangeCounts) String() string {
	var parts []string
	add := func(n int, what string) {
		parts = append(parts, fmt.Sprintf("%d %s", n, what))
	}
	add(c.New, "new")
	add(c.Fixed, "fixed")
	add(c.Reopened, "reopened")
	add(c.Gone, "gone")
	if c.Rerated > 0 {
		add(c.Rerated, "rerated")
	}
	return strings.Join(parts, ", ")
}
