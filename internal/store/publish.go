package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"qvt/internal/clock"
	"slices"
	"strconv"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// Published is a finding as the publishers (MySQL, Jira, Assets) see it:
// the contract's fields and its life.
//
// Its own fields are the store's forms of the life the record
// (Row.Finding) also carries in the export's: Closed is the reason (the
// record's ClosedReason; its Closed is the bool), FirstSeen and LastSeen
// Unix seconds (the record's are RFC 3339). Whatever writes findings out
// in the contract's shape writes Row.Finding.
type Published struct {
	Row
	Closed        string // "" open; fixed, gone, ignored or disabled
	FirstSeen     int64  // Unix seconds
	LastSeen      int64
	TimesReopened int
	LastReopened  int64
	Rev           int64    // the revision that last changed it
	Tags          []string // the host's Qualys tags
}

// Open tells whether the finding is open: not closed for any reason.
func (p *Published) Open() bool { return p.Closed == "" }

// Revision is the store's current revision: every change of a finding
// since a publisher's last run has a higher one.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	v, err := s.Meta(ctx, "rev")
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// Changed calls fn for every finding (Info detections excluded) changed
// after revision since, host by host; since 0 gives them all. It reads one
// snapshot (on PostgreSQL a REPEATABLE READ transaction): changes
// committed meanwhile wait for the next call.
func (s *Store) Changed(ctx context.Context, since int64, fn func(*Published) error) error {
	if s.pg != nil {
		return s.pgChanged(ctx, since, fn)
	}
	today := clock.Today()
	return s.Read(ctx, func(c *sqlite3.Conn) error {
		r := &reader{c: c, kb: c, cache: newKBCache(kbCacheBytes)}
		defer r.close()
		hosts, err := r.hosts(Filter{})
		if err != nil {
			return err
		}
		if since == 0 {
			// Everything is read: plan the cache as an export does.
			if err := r.makePlan(hosts); err != nil {
				return err
			}
		}
		tags, err := r.hostTags()
		if err != nil {
			return err
		}
		dq, err := r.prepare(`SELECT qid, port, protocol, type, severity, status, times_found,
  first_found, last_found, last_fixed, results, vuln_score, breach_date,
  closed, first_seen, last_seen, times_reopened, qds, priority, priority_reason, due_date,
  owner, exception_id, excepted_until, last_reopened, rev
FROM detections WHERE host_id = ? AND type <> 'Info' AND rev > ?`)
		if err != nil {
			return err
		}
		for i, h := range hosts {
			// The record's tags as an export writes them: a list, empty
			// for a host without tags.
			h.tags = tags[h.id]
			if h.tags == nil {
				h.tags = []string{}
			}
			dq.BindInt64(1, h.id)
			dq.BindInt64(2, since)
			for dq.Step() {
				row := detection(dq, h, today)
				if err := r.join(readRow{row: row, policy: h.policy, rank: int32(i)}); err != nil {
					dq.Reset()
					return err
				}
				p := &Published{Row: *row, Tags: h.tags}
				p.Closed = dq.ColumnText(13)
				p.FirstSeen = dq.ColumnInt64(14)
				p.LastSeen = dq.ColumnInt64(15)
				p.TimesReopened = dq.ColumnInt(16)
				p.LastReopened = dq.ColumnInt64(24)
				p.Rev = dq.ColumnInt64(25)
				if err := fn(p); err != nil {
					dq.Reset()
					return err
				}
			}
			if err := dq.Err(); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			dq.Reset()
		}
		return nil
	})
}

// hostTags reads every host's tag names.
func (r *reader) hostTags() (map[int64][]string, error) {
	st, err := r.prepare("SELECT host_id, name FROM host_tags ORDER BY host_id, name")
	if err != nil {
		return nil, err
	}
	out := map[int64][]string{}
	var sets interner
	var cur []string
	last := int64(-1)
	for st.Step() {
		if id := st.ColumnInt64(0); id != last {
			if last >= 0 {
				out[last] = sets.set(cur)
			}
			last, cur = id, cur[:0]
		}
		cur = append(cur, sets.name(st.ColumnRawText(1)))
	}
	if last >= 0 {
		out[last] = sets.set(cur)
	}
	return out, st.Err()
}

// interner holds each of the names the hosts repeat (tags, operating
// systems) once, and each distinct set of tags once: an estate has a few
// dozen tags and few distinct sets of them, and a copy for each of
// 250,000 hosts would hold tens of megabytes for as long as an export
// reads. A set given to more than one host is one slice: it is read,
// never changed.
type interner struct {
	names map[string]string
	sets  map[string][]string
	key   []byte
}

// name returns the interned copy of a name.
func (t *interner) name(b []byte) string {
	if s, ok := t.names[string(b)]; ok {
		return s
	}
	if t.names == nil {
		t.names = map[string]string{}
	}
	s := string(b)
	t.names[s] = s
	return s
}

// set returns the interned copy of a host's tags, sorted as they are.
func (t *interner) set(tags []string) []string {
	t.key = t.key[:0]
	for _, n := range tags {
		t.key = append(t.key, n...)
		t.key = append(t.key, 0x1f)
	}
	if s, ok := t.sets[string(t.key)]; ok {
		return s
	}
	if t.sets == nil {
		t.sets = map[string][]string{}
	}
	s := slices.Clone(tags)
	t.sets[string(t.key)] = s
	return s
}

// HistoryRow is one change of a finding, for publishers.
type HistoryRow struct {
	ID        int64
	HostID    int64
	QID, Port int
	Key       string
	At        int64
	Event     string
	Old, New  string
	Cause     string // why a priority or due date changed
	Actor     string // who made the change, when a person did (an exception); "" for qvt
}

// HistoryAfter calls fn for each history row with an id above after, in
// order, and returns the last id seen (after if none).
func (s *Store) HistoryAfter(ctx context.Context, after int64, fn func(HistoryRow) error) (int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT y.id, y.host_id, y.qid, y.port,
  COALESCE(NULLIF(h.ip, ''), h.ipv6, ''), y.at, y.event, y.old, y.new, y.cause, y.actor
FROM history y LEFT JOIN hosts h ON h.id = y.host_id WHERE y.id > ? ORDER BY y.id`, after)
	if err != nil {
		return after, fmt.Errorf("store: history: %w", err)
	}
	defer rows.Close()
	last := after
	for rows.Next() {
		var r HistoryRow
		var addr string
		if err := rows.Scan(&r.ID, &r.HostID, &r.QID, &r.Port, &addr, &r.At, &r.Event, &r.Old, &r.New, &r.Cause, &r.Actor); err != nil {
			return last, err
		}
		r.Key = addr + ":" + strconv.Itoa(r.QID) + ":" + strconv.Itoa(r.Port)
		if err := fn(r); err != nil {
			return last, err
		}
		last = r.ID
	}
	return last, rows.Err()
}

// PublishState reads a target's setting or watermark; "" when unset.
func (s *Store) PublishState(ctx context.Context, target, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, "SELECT value FROM publish_state WHERE target = ? AND name = ?", target, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: publish state: %w", err)
	}
	return v, nil
}

// SetPublishState writes a target's settings or watermarks together.
func (s *Store) SetPublishState(ctx context.Context, target string, kv map[string]string) error {
	return s.Write(ctx, func(tx *Tx) error {
		b, err := tx.bind("INSERT INTO publish_state (target, name, value) VALUES (?, ?, ?) ON CONFLICT (target, name) DO UPDATE SET value = excluded.value")
		if err != nil {
			return err
		}
		for k, v := range kv {
			b.text(target)
			b.text(k)
			b.text(v)
			if err := b.run(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Mapping is what a target holds for one item: its id there, the state
// last published and a hash of what was sent.
type Mapping struct {
	Item    string
	Remote  string
	State   string
	Hash    string
	Updated time.Time
}

// Mappings reads all of a target's mappings.
func (s *Store) Mappings(ctx context.Context, target string) (map[string]Mapping, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT item, remote, state, hash, updated_at FROM publish_map WHERE target = ?", target)
	if err != nil {
		return nil, fmt.Errorf("store: publish map: %w", err)
	}
	defer rows.Close()
	out := map[string]Mapping{}
	for rows.Next() {
		var m Mapping
		var at int64
		if err := rows.Scan(&m.Item, &m.Remote, &m.State, &m.Hash, &at); err != nil {
			return nil, err
		}
		m.Updated = time.Unix(at, 0)
		out[m.Item] = m
	}
	return out, rows.Err()
}

// SetMappings writes mappings of a target (insert or replace) in one
// transaction.
func (s *Store) SetMappings(ctx context.Context, target string, ms []Mapping) error {
	return s.Write(ctx, func(tx *Tx) error {
		b, err := tx.bind(`INSERT INTO publish_map (target, item, remote, state, hash, updated_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (target, item) DO UPDATE SET remote = excluded.remote, state = excluded.state, hash = excluded.hash, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		for _, m := range ms {
			b.text(target)
			b.text(m.Item)
			b.text(m.Remote)
			b.text(m.State)
			b.text(m.Hash)
			b.int(m.Updated.Unix())
			if err := b.run(); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteMappings forgets a target's mappings (all of them when items is
// nil), e.g. before rebuilding them from the target.
func (s *Store) DeleteMappings(ctx context.Context, target string, items []string) error {
	return s.Write(ctx, func(tx *Tx) error {
		if items == nil {
			b, err := tx.bind("DELETE FROM publish_map WHERE target = ?")
			if err != nil {
				return err
			}
			b.text(target)
			return b.run()
		}
		b, err := tx.bind("DELETE FROM publish_map WHERE target = ? AND item = ?")
		if err != nil {
			return err
		}
		for _, it := range items {
			b.text(target)
			b.text(it)
			if err := b.run(); err != nil {
				return err
			}
		}
		return nil
	})
}
