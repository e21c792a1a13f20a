package web

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"qvt/internal/finding"
	"qvt/internal/guard"
	"qvt/internal/store"
)

// The overview is computed in one pass over detections_priority (every
// finding's rating, deadline, status, dates, key, priority and due date)
// plus the history of
// the last trendDays days, and kept until the store changes: over a
// million findings the pass takes a second or two on a small machine, and
// the data changes once per sync. A page asks for it, gets the last one at
// once and, when the store has changed since, the next one is computed in
// the background (the page says so).

// trendDays is how far back the chart of open findings goes.
const trendDays = 90

// Count is a count with a name, for lists and bars.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Overview is what the overview page shows.
type Overview struct {
	Built     time.Time     `json:"built"`    // when it was computed
	BuildTime time.Duration `json:"build_ns"` // how long it took
	Stale     bool          `json:"stale"`    // the store has changed since; a new one is on its way
	Today     string        `json:"today"`    // the day deadlines are compared with, YYYY-MM-DD
	DueBy     string        `json:"due_by"`   // the last day of "due within 7 days"
	Total     int           `json:"total"`    // findings of any status
	Open      int           `json:"open"`     // not closed (not fixed, gone, ignored or disabled)
	Overdue   int           `json:"overdue"`  // open past their deadline, excepted ones left out
	DueSoon   int           `json:"due_soon"` // open, due within the next 7 days, excepted ones left out
	Excepted  int           `json:"excepted"` // open, covered by an active exception
	// Expiring lists the active exceptions whose last day is within
	// exceptions.warn_days (read per request, not cached).
	Expiring  []ExceptionRow `json:"expiring"`
	ByRating  []Count        `json:"by_rating"`   // open, Critical to None
	ByStatus  []Count        `json:"by_status"`   // open, by Qualys status
	Closed    []Count        `json:"closed"`      // closed, by reason
	Matrix    []RatingCount  `json:"matrix"`      // every finding by rating and Qualys status (metrics)
	Sync      SyncInfo       `json:"sync"`        // the last sync or import
	Changes   Changes        `json:"last_sync"`   // what the last sync or import changed
	Trend     Trend          `json:"trend"`       // open findings by rating, day by day
	SLA       []SLARow       `json:"sla"`         // remediation against the deadlines, by rating
	TopQIDs   []TopQID       `json:"top_qids"`    // by open risk
	TopHosts  []TopHost      `json:"top_hosts"`   // by open risk
	Tags      []string       `json:"tags"`        // every host tag, for the filter form
	OverdueBy []Count        `json:"overdue_by"`  // open overdue, by rating
	DueSoonBy []Count        `json:"due_soon_by"` // open due within 7 days, by rating
	// Priorities and exploitation evidence (docs/priority.md).
	ByPriority []Count `json:"by_priority"` // open, P1 to P4 (and "none" when some are not prioritized)
	KEVOpen    int     `json:"kev_open"`    // open findings whose QID is in CISA's KEV catalog
	KEVOverdue int     `json:"kev_overdue"` // of those, past their due date
	PrioTrend  Trend   `json:"priority_trend"`
	stamp      string
	// qids tells, for each QID, where its findings are and how many are
	// open: the list skips the other ranges when it walks for a QID set,
	// and the QID page need not count a common QID's findings one by one.
	qids map[int32]qidInfo
	// cells counts every finding by closed state (closedIndex), Qualys
	// status (statusIndex), rating (ratingOrder) and deadline (dueCell):
	// the total of a list filtered by those alone.
	cells [6][5][6][3]int32
	// prioMask tells, for each priority (priorityOrder), the ranges of
	// detections_status that hold its findings: the rating and deadline
	// orders skip the others when the list is filtered by priority.
	prioMask [5]uint32
	// urgencies holds, for each priority and range of detections_status
	// (as prioMask's bits), the lowest and highest urgency of its
	// findings: the priority order filtered by rating or status starts
	// its walk of a priority at the first urgency that can match
	// (urgencyRange). A range with no findings has lo > hi.
	urgencies [5][30]urgencySpan
	rev       string // meta.rev when it was built: any change of a finding bumps it
}

// urgencySpan is the lowest and highest urgency of some findings.
type urgencySpan struct{ lo, hi int64 }

func emptySpan() urgencySpan { return urgencySpan{math.MaxInt64, math.MinInt64} }

func (u urgencySpan) empty() bool { return u.lo > u.hi }

func (u *urgencySpan) add(v int64) {
	u.lo, u.hi = min(u.lo, v), max(u.hi, v)
}

func (u *urgencySpan) join(v urgencySpan) {
	u.lo, u.hi = min(u.lo, v.lo), max(u.hi, v.hi)
}

// The deadline cells: past, within 7 days, other (later or none).
const (
	dueOverdue = iota
	dueWeek
	dueOther
)

// count is the number of findings a list query selects, when it filters
// on status, rating and deadline alone; ok is false otherwise.
func (o *Overview) count(q Query) (n int, ok bool) {
	if !q.rangesOnly() {
		return 0, false
	}
	for c := range o.cells {
		for si := range 5 {
			if !cellSelected(q.Status, c, si) {
				continue
			}
			for ri, r := range ratingOrder {
				if len(q.Ratings) > 0 && !slices.Contains(q.Ratings, r) {
					continue
				}
				for d, n1 := range o.cells[c][si][ri] {
					switch {
					case q.Due == "overdue" && (c > 0 || d != dueOverdue):
					case q.Due == "week" && (c > 0 || d != dueWeek):
					default:
						n += int(n1)
					}
				}
			}
		}
	}
	return n, true
}

// closedIndex numbers the closed states of the cells: 0 open, then
// closedReasons from 1, and 5 for any other reason.
func closedIndex(reason []byte) int {
	if len(reason) == 0 {
		return 0
	}
	if i := slices.Index(closedReasons, string(reason)); i >= 0 {
		return i + 1
	}
	return 5
}

// cellSelected tells whether the list of a status filter (Query.Status)
// holds the findings of a cell: closed state c (closedIndex), Qualys
// status si (statusIndex).
func cellSelected(status string, c, si int) bool {
	if strings.Contains(status, ",") {
		for part := range strings.SplitSeq(status, ",") {
			if cellSelected(part, c, si) {
				return true
			}
		}
		return false
	}
	switch status {
	case "", "open":
		return c == 0
	case "closed":
		return c > 0
	case "all":
		return true
	}
	if c == 0 {
		return si < len(allStatuses) && allStatuses[si] == status
	}
	return c <= len(closedReasons) && closedReasons[c-1] == status
}

// holds tells whether any finding is in closed state c (closedIndex) with
// Qualys status si (statusIndex).
func (o *Overview) holds(c, si int) bool {
	for _, byDue := range o.cells[c][si] {
		for _, n := range byDue {
			if n > 0 {
				return true
			}
		}
	}
	return false
}

// qidInfo is what the overview notes of a QID.
type qidInfo struct {
	mask    uint32   // the (status, rating) ranges of detections_status that hold its findings, of rangeBit
	prios   uint8    // the priorities of its findings: bit i for priorityOrder[i]
	overdue int32    // open past the deadline
	open    [6]int32 // open, by rating (ratingOrder)
}

// statusIndex numbers the Qualys statuses for the QID masks; 4 is any other.
func statusIndex(status string) int {
	if i := slices.Index(allStatuses, status); i >= 0 {
		return i
	}
	return 4
}

// rangeBit is the bit of a (status, rating) range in a QID mask.
func rangeBit(status, rating string) uint32 { return 1 << (statusIndex(status)*6 + rank(rating)) }

// RatingCount counts the findings of one rating and Qualys status.
type RatingCount struct {
	Rating string `json:"rating"`
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// SyncInfo says when the data last changed.
type SyncInfo struct {
	RunKind     string    `json:"run_kind,omitempty"`    // full or incremental; "" when no sync ran
	RunStarted  time.Time `json:"run_started,omitzero"`  // the last successful sync
	RunFinished time.Time `json:"run_finished,omitzero"` // its end
	Duration    float64   `json:"run_seconds,omitempty"` // its length
	DataTime    time.Time `json:"data_time,omitzero"`    // the time of the newest data (a sync's start, a file's DATETIME)
	Last        time.Time `json:"last_update,omitzero"`  // the newest of the two
}

// Changes counts what the last sync or import changed: the findings it
// reported first, and those it showed fixed, reopened or gone.
type Changes struct {
	Since    time.Time `json:"since,omitzero"`
	New      int       `json:"new"`
	Fixed    int       `json:"fixed"`
	Reopened int       `json:"reopened"`
	Gone     int       `json:"gone"`
}

// Trend is the number of open findings of each rating at the end of each
// day. It is rebuilt backwards from today's counts through the history
// table: each closing and reopening, and each finding's first appearance.
// A finding counts under its current rating throughout.
type Trend struct {
	Days    []string `json:"days"`    // YYYY-MM-DD
	Ratings []string `json:"ratings"` // Critical, High, Medium, Low, None
	Open    [][]int  `json:"open"`    // [rating][day]
}

// SLARow is remediation against the deadline for one rating.
type SLARow struct {
	Rating      string  `json:"rating"`
	SLADays     int     `json:"sla_days"`         // 0: no deadline
	Fixed       int     `json:"fixed"`            // findings closed as fixed
	Timed       int     `json:"timed"`            // of which with a fix time
	WithinSLA   int     `json:"within_sla"`       // fixed on or before the deadline
	Share       float64 `json:"share"`            // WithinSLA / Timed, 0..1
	MeanDays    float64 `json:"mean_days_to_fix"` // mean of fix time - first found, days
	OpenOverdue int     `json:"open_overdue"`     // still open past the deadline
	Open        int     `json:"open"`             // still open
}

// TopQID is a QID with the open risk of its findings.
type TopQID struct {
	QID     int     `json:"qid"`
	Title   string  `json:"title"`
	Rating  string  `json:"rating"` // the highest of its open findings
	Open    int     `json:"open"`
	Risk    float64 `json:"risk"`
	Overdue int     `json:"overdue"`
}

// TopHost is a host with the open risk of its findings.
type TopHost struct {
	HostID   int64   `json:"host_id"`
	Address  string  `json:"address"`
	Hostname string  `json:"hostname"`
	Open     int     `json:"open"`
	Critical int     `json:"critical"`
	Overdue  int     `json:"overdue"`
	Risk     float64 `json:"risk"`
}

// bandScore stands in for the environmental score of a finding without a
// CVSS vector (rated from its Qualys severity): the middle of its band.
var bandScore = [...]float64{9.5, 8.0, 5.5, 2.0, 0, 0}

var (
	openStatuses  = finding.OpenStatuses
	closedReasons = finding.ClosedReasons
	allStatuses   = []string{"New", "Active", "Re-Opened", "Fixed"}
)

// overviewCache holds the last overview and builds the next one.
type overviewCache struct {
	mu       sync.Mutex
	cur      *Overview
	building chan struct{} // closed when the running build ends; nil when none runs
	err      error         // of the last build
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stamp identifies the state of the store the overview depends on: any
// change of a finding bumps meta.rev, any change of its life adds a
// history row, a sync or import moves the hosts' data time, and a change
// of a finding's urgency (which findings do not show) bumps meta.order.
func (s *Server) stamp(ctx context.Context, db queryer) (string, error) {
	var st string
	err := db.QueryRowContext(ctx, `SELECT
  COALESCE((SELECT value FROM meta WHERE name = 'rev'), '') || '/' ||
  COALESCE((SELECT value FROM meta WHERE name = 'order'), '') || '/' ||
  COALESCE((SELECT max(id) FROM history), 0) || '/' ||
  COALESCE((SELECT max(id) || ':' || max(finished_at) FROM sync_runs), '') || '/' ||
  COALESCE((SELECT max(seen) FROM hosts), 0)`).Scan(&st)
	if err != nil {
		return "", fmt.Errorf("overview: %w", err)
	}
	return st + "/" + s.now().UTC().Format(time.DateOnly), nil
}

// Overview returns the overview: the current one, or, when the store has
// changed since the last was built, the last one marked stale while the
// next is built. The first call waits for the first build.
func (s *Server) Overview(ctx context.Context) (*Overview, error) {
	stamp, err := s.stamp(ctx, s.st.DB())
	if err != nil {
		return nil, err
	}
	c := &s.overview
	c.mu.Lock()
	cur := c.cur
	if cur != nil && cur.stamp == stamp {
		c.mu.Unlock()
		return cur, nil
	}
	done := s.startBuild(stamp)
	c.mu.Unlock()
	if cur != nil {
		stale := *cur
		stale.Stale = true
		return &stale, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil, c.err
	}
	return c.cur, nil
}

// counted returns the overview if its counts of findings are those of the
// store as tx sees it now, else nil: no finding changed since (meta.rev,
// a lookup, where the whole stamp reads every host) and it is the same day.
func (s *Server) counted(ctx context.Context, tx *sql.Tx) (*Overview, error) {
	s.overview.mu.Lock()
	o := s.overview.cur
	s.overview.mu.Unlock()
	if o == nil || o.Today != s.now().UTC().Format(time.DateOnly) {
		return nil, nil
	}
	var rev string
	err := tx.QueryRowContext(ctx, "SELECT COALESCE((SELECT value FROM meta WHERE name = 'rev'), '')").Scan(&rev)
	if err != nil || rev != o.rev {
		return nil, err
	}
	return o, nil
}

// current returns the overview if it describes the store as db sees it
// now, else nil.
func (s *Server) current(ctx context.Context, db queryer) (*Overview, error) {
	s.overview.mu.Lock()
	o := s.overview.cur
	s.overview.mu.Unlock()
	if o == nil {
		return nil, nil
	}
	stamp, err := s.stamp(ctx, db)
	if err != nil || stamp != o.stamp {
		return nil, err
	}
	return o, nil
}

// startBuild starts a build unless one runs; c.mu is held.
func (s *Server) startBuild(stamp string) <-chan struct{} {
	c := &s.overview
	if c.building != nil {
		return c.building
	}
	done := make(chan struct{})
	c.building = done
	go func() {
		start := time.Now()
		var o *Overview
		err := guard.Call(func() (err error) {
			o, err = s.buildOverview(s.bg, stamp)
			return err
		})
		c.mu.Lock()
		c.building = nil
		c.err = err
		if err == nil {
			o.BuildTime = time.Since(start)
			c.cur = o
		}
		c.mu.Unlock()
		close(done)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.log.Error("dashboard: computing the overview", "err", err)
			}
			return
		}
		s.metrics.overviewSeconds.Set(o.BuildTime.Seconds())
		s.log.Debug("dashboard: overview computed", "findings", o.Total, "took", o.BuildTime.Round(time.Millisecond))
	}()
	return done
}

// Warm starts computing the overview and loading the KB titles for the
// text search, so that the first visitor does not wait for them.
func (s *Server) Warm(ctx context.Context) {
	go func() {
		if err := guard.Call(func() error { return s.titles.warm(s.bg, s.st) }); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("dashboard: loading the KB titles", "err", err)
		}
	}()
	stamp, err := s.stamp(ctx, s.st.DB())
	if err != nil {
		s.log.Error("dashboard: warming up", "err", err)
		return
	}
	s.overview.mu.Lock()
	s.startBuild(stamp)
	s.overview.mu.Unlock()
}

// each runs a query on the overview's snapshot and calls fn for each row.
// The snapshot reads with the engine's own statements (on SQLite, Cols is
// the driver's statement): the overview steps through a million index
// entries, and database/sql's per-value boxing would double the time.
func each(q *store.Snap, query string, args []any, fn func(st store.Cols)) error {
	return q.Each(query, args, func(c store.Cols) error { fn(c); return nil })
}

// pk is a finding's primary key.
type pk struct {
	host      int64
	qid, port int32
}

// event is an opening or closing of a finding in the history.
type event struct {
	pk
	day   int32 // Unix day
	delta int8  // +1 reopened, -1 closed
	next  int32 // the next event with the same hash, -1 at the end
}

// hash64 keys the events by host and QID: a map with 64-bit keys is twice
// as fast as one keyed by a struct, and the pass looks up every finding.
// Collisions only lengthen a chain: each event holds its whole key.
func hash64(host int64, qid int32) uint64 {
	return uint64(host)*0x9e3779b97f4a7c15 ^ uint64(uint32(qid))
}

// daysOf is the Unix day of a Unix time.
func daysOf(t int64) int32 { return int32(t / 86400) }

// priorityIndex is a priority's place in priorityOrder (4: none).
func priorityIndex(b []byte) int {
	if len(b) == 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '4' {
		return int(b[1] - '1')
	}
	return 4
}

// ratingIndex is the position of a rating in ratingOrder, from its bytes.
func ratingIndex(b []byte) int {
	switch string(b) {
	case "Critical":
		return 0
	case "High":
		return 1
	case "Medium":
		return 2
	case "Low":
		return 3
	case "None":
		return 4
	}
	return 5
}

func (s *Server) buildOverview(ctx context.Context, stamp string) (*Overview, error) {
	now := s.now().UTC()
	rev, _, _ := strings.Cut(stamp, "/")
	o := &Overview{Built: now, stamp: stamp, rev: rev, Today: now.Format(time.DateOnly), DueBy: now.AddDate(0, 0, 7).Format(time.DateOnly),
		// Lists are empty, not absent, in the API.
		Trend: Trend{Days: []string{}, Ratings: []string{}, Open: [][]int{}}, TopQIDs: []TopQID{}, TopHosts: []TopHost{},
		PrioTrend: Trend{Days: []string{}, Ratings: []string{}, Open: [][]int{}}, ByPriority: []Count{}}
	err := s.st.Snapshot(ctx, func(q *store.Snap) error { return s.compute(q, o, now) })
	if err != nil {
		return nil, fmt.Errorf("overview: %w", err)
	}
	return o, nil
}

func (s *Server) compute(c *store.Snap, o *Overview, now time.Time) error {
	today := []byte(o.Today)
	soon := []byte(o.DueBy)
	todayDay := daysOf(now.Unix())
	first := todayDay - trendDays + 1 // the first day of the chart

	// When the data last changed.
	err := each(c, "SELECT COALESCE(max(seen), 0) FROM hosts", nil, func(st store.Cols) {
		if t := st.ColumnInt64(0); t > 0 {
			o.Sync.DataTime = time.Unix(t, 0).UTC()
		}
	})
	if err != nil {
		return err
	}
	// The newest run; of runs that ended in the same second, the later one.
	err = each(c, `SELECT kind, started_at, finished_at FROM sync_runs WHERE status = 'done'
ORDER BY finished_at DESC, id DESC LIMIT 1`, nil, func(st store.Cols) {
		o.Sync.RunKind = st.ColumnText(0)
		o.Sync.RunStarted = time.Unix(st.ColumnInt64(1), 0).UTC()
		o.Sync.RunFinished = time.Unix(st.ColumnInt64(2), 0).UTC()
		o.Sync.Duration = o.Sync.RunFinished.Sub(o.Sync.RunStarted).Seconds()
	})
	if err != nil {
		return err
	}
	o.Sync.Last = o.Sync.DataTime
	if o.Sync.RunFinished.After(o.Sync.Last) {
		o.Sync.Last = o.Sync.RunFinished
	}
	since := int64(-1)
	if !o.Sync.DataTime.IsZero() {
		since = o.Sync.DataTime.Unix()
		o.Changes.Since = o.Sync.DataTime
		err = each(c, `SELECT count(*) FILTER (WHERE event = 'status' AND new = 'Fixed'),
  count(*) FILTER (WHERE event = 'status' AND new = 'Re-Opened'), count(*) FILTER (WHERE event = 'closed' AND new = 'gone')
FROM history WHERE at >= ?`, []any{since}, func(st store.Cols) {
			o.Changes.Fixed, o.Changes.Reopened, o.Changes.Gone = st.ColumnInt(0), st.ColumnInt(1), st.ColumnInt(2)
		})
		if err != nil {
			return err
		}
	}

	// Scores: a finding's risk is its QID's environmental score under its
	// host's environment policy.
	policies := map[int64]int{}
	err = each(c, "SELECT id, policy FROM hosts WHERE policy <> 0", nil, func(st store.Cols) {
		policies[st.ColumnInt64(0)] = st.ColumnInt(1)
	})
	if err != nil {
		return err
	}
	// Risks are summed in tenths (scores have one decimal): exact, so the
	// sums do not depend on the order the engine reads the rows in.
	scores := map[int64]int64{} // qid<<20 | policy → tenths
	err = each(c, "SELECT qid, policy, env_score FROM qid_scores WHERE env_score IS NOT NULL", nil, func(st store.Cols) {
		scores[st.ColumnInt64(0)<<20|st.ColumnInt64(1)] = tenths(st.ColumnFloat(2))
	})
	if err != nil {
		return err
	}

	// The findings an active exception covers today (few, through the
	// partial index): they leave the overdue and due-soon counts and the
	// SLA figures.
	excepted := map[pk]bool{}
	err = each(c, "SELECT host_id, qid, port FROM detections"+s.sql.indexed("detections_exception")+
		" WHERE exception_id <> 0 AND excepted_until >= ? AND type <> 'Info'", []any{o.Today}, func(st store.Cols) {
		excepted[pk{st.ColumnInt64(0), int32(st.ColumnInt(1)), int32(st.ColumnInt(2))}] = true
	})
	if err != nil {
		return err
	}

	// The QIDs in the KEV catalog.
	kev := map[int32]bool{}
	err = each(c, "SELECT qid FROM qid_risk WHERE kev = 1", nil, func(st store.Cols) { kev[int32(st.ColumnInt(0))] = true })
	if err != nil {
		return err
	}

	// The openings and closings of the chart's days, by finding.
	heads := map[uint64]int32{}
	var events []event
	err = each(c, `SELECT host_id, qid, port, at, old = '', new = '' FROM history
WHERE event = 'closed' AND at >= ?`, []any{int64(first) * 86400}, func(st store.Cols) {
		wasOpen, isOpen := st.ColumnBool(4), st.ColumnBool(5)
		if wasOpen == isOpen {
			return // from one reason to another
		}
		e := event{pk: pk{st.ColumnInt64(0), int32(st.ColumnInt(1)), int32(st.ColumnInt(2))},
			day: daysOf(st.ColumnInt64(3)), delta: 1, next: -1}
		if wasOpen {
			e.delta = -1
		}
		k := hash64(e.host, e.qid)
		if h, ok := heads[k]; ok {
			e.next = h
		}
		heads[k] = int32(len(events))
		events = append(events, e)
	})
	if err != nil {
		return err
	}

	// The pass over every finding.
	n := int(todayDay-first) + 2
	var (
		openBy, overdueBy, dueBy [6]int
		matrix                   [6][5]int
		byStatus                 = map[string]int{}
		closedBy                 = map[string]int{}
		appear                   [6][]int // open findings first seen on day first+i
		span                     [6][]int // events of findings that existed: a difference array over days
		fixed, timed, within     [6]int
		fixTime                  [6]int64 // seconds: a float sum would depend on the order rows come in
		minSeen                  = int32(todayDay)
		openByPrio               [5]int   // P1 … P4, none
		appearP, spanP           [2][]int // as appear and span, of P1 and P2
	)
	for i := range appear {
		appear[i] = make([]int, n)
		span[i] = make([]int, n+1)
	}
	for i := range appearP {
		appearP[i] = make([]int, n)
		spanP[i] = make([]int, n+1)
	}
	type qagg struct {
		open, overdue, best int
		risk                int64 // tenths, as riskTenths
		mask                uint32
		prios               uint8
		openBy              [6]int32
	}
	type hagg struct {
		open, critical, overdue int
		risk                    int64 // tenths
	}
	qids := map[int32]*qagg{}
	hosts := map[int64]*hagg{}
	dayIndex := func(d int32) int { return int(min(max(d-first, 0), int32(n-1))) }
	// detections_priority covers every column read (and the priority's,
	// which detections_status has not).
	for i := range o.urgencies {
		for j := range o.urgencies[i] {
			o.urgencies[i][j] = emptySpan()
		}
	}
	err = each(c, `SELECT vuln_score, breach_date, host_id, qid, port, status, closed, first_seen, first_found, last_fixed,
  priority, due_date, urgency
FROM detections`+s.sql.indexed("detections_priority")+` WHERE type <> 'Info'`, nil, func(st store.Cols) {
		ri := ratingIndex(st.ColumnRawText(0))
		deadline := st.ColumnRawText(1)
		host := st.ColumnInt64(2)
		qid := int32(st.ColumnInt(3))
		status := st.ColumnRawText(5)
		closed := st.ColumnRawText(6)
		firstSeen := st.ColumnInt64(7)
		o.Total++
		si := slices.Index(allStatuses, string(status))
		if si < 0 {
			si = 4
		}
		matrix[ri][si]++
		fsDay := daysOf(firstSeen)
		if firstSeen > 0 && fsDay < minSeen {
			minSeen = fsDay
		}
		if since >= 0 && firstSeen >= since {
			o.Changes.New++
		}
		q := qids[qid]
		if q == nil {
			q = &qagg{best: len(ratingOrder) - 1}
			qids[qid] = q
		}
		q.mask |= 1 << (min(si, 4)*6 + ri)
		pi := priorityIndex(st.ColumnRawText(10))
		q.prios |= 1 << pi
		o.prioMask[pi] |= 1 << (min(si, 4)*6 + ri)
		o.urgencies[pi][min(si, 4)*6+ri].add(st.ColumnInt64(12))
		isOpen := len(closed) == 0
		exc := len(excepted) > 0 && excepted[pk{host, qid, int32(st.ColumnInt(4))}]
		due := dueOther
		if exc {
			// Neither overdue nor due soon while excepted: the lists of
			// those skip it too.
		} else if len(deadline) > 0 && string(deadline) < string(today) {
			due = dueOverdue
		} else if len(deadline) > 0 && string(deadline) <= string(soon) {
			due = dueWeek
		}
		o.cells[closedIndex(closed)][si][ri][due]++
		if isOpen {
			o.Open++
			openBy[ri]++
			openByPrio[pi]++
			if exc {
				o.Excepted++
			}
			if kev[qid] {
				o.KEVOpen++
				if due := st.ColumnRawText(11); !exc && len(due) > 0 && string(due) < string(today) {
					o.KEVOverdue++
				}
			}
			if fsDay >= first && pi < 2 {
				appearP[pi][dayIndex(fsDay)]++
			}
			byStatus[string(status)]++
			late := due == dueOverdue
			if late {
				overdueBy[ri]++
			} else if due == dueWeek {
				dueBy[ri]++
			}
			if fsDay >= first {
				appear[ri][dayIndex(fsDay)]++
			}
			policy := 0
			if len(policies) > 0 {
				policy = policies[host]
			}
			risk, ok := scores[int64(qid)<<20|int64(policy)]
			if !ok {
				risk = tenths(bandScore[ri])
			}
			q.open++
			q.openBy[ri]++
			q.risk += risk
			q.best = min(q.best, ri)
			h := hosts[host]
			if h == nil {
				h = &hagg{}
				hosts[host] = h
			}
			h.open++
			h.risk += risk
			if ri == 0 {
				h.critical++
			}
			if late {
				q.overdue++
				h.overdue++
			}
		} else {
			closedBy[string(closed)]++
			if string(closed) == "fixed" && !exc {
				fixed[ri]++
				if lastFixed, firstFound := st.ColumnInt64(9), st.ColumnInt64(8); lastFixed > 0 && firstFound > 0 && lastFixed >= firstFound {
					timed[ri]++
					fixTime[ri] += lastFixed - firstFound
					if len(deadline) == 0 || daysOf(lastFixed) <= dateDay(deadline) {
						within[ri]++
					}
				}
			}
		}
		if len(heads) > 0 {
			if h, ok := heads[hash64(host, qid)]; ok {
				// An event changed the count of every day from the
				// finding's first day (or the chart's) to the day before it.
				key := pk{host, qid, int32(st.ColumnInt(4))}
				from := dayIndex(fsDay)
				for i := h; i >= 0; i = events[i].next {
					e := &events[i]
					if to := dayIndex(e.day); e.pk == key && to > from {
						span[ri][from] += int(e.delta)
						span[ri][to] -= int(e.delta)
						if pi < 2 {
							spanP[pi][from] += int(e.delta)
							spanP[pi][to] -= int(e.delta)
						}
					}
				}
			}
		}
	})
	if err != nil {
		return err
	}

	for i, r := range ratingOrder[:5] {
		o.ByRating = append(o.ByRating, Count{r, openBy[i]})
		o.OverdueBy = append(o.OverdueBy, Count{r, overdueBy[i]})
		o.DueSoonBy = append(o.DueSoonBy, Count{r, dueBy[i]})
		o.Overdue += overdueBy[i]
		o.DueSoon += dueBy[i]
		for j, st := range allStatuses {
			o.Matrix = append(o.Matrix, RatingCount{r, st, matrix[i][j]})
		}
	}
	o.Overdue += overdueBy[5]
	o.DueSoon += dueBy[5]
	for _, st := range openStatuses {
		o.ByStatus = append(o.ByStatus, Count{st, byStatus[st]})
	}
	for _, r := range closedReasons {
		o.Closed = append(o.Closed, Count{r, closedBy[r]})
	}

	for i, p := range priorityOrder {
		if p == "" {
			if openByPrio[i] > 0 {
				o.ByPriority = append(o.ByPriority, Count{"none", openByPrio[i]})
			}
			continue
		}
		o.ByPriority = append(o.ByPriority, Count{p, openByPrio[i]})
	}

	// The charts: open(D) = open now, less the findings first seen after D
	// (open now), less the changes after D of findings that existed at D.
	start := max(minSeen, first)
	series := func(openNow int, appear, span []int) []int {
		out := make([]int, 0, todayDay-start+1)
		later := 0 // open findings first seen after day d
		for i := n - 1; i > int(todayDay-first); i-- {
			later += appear[i]
		}
		vals := make([]int, n)
		for i := int(todayDay - first); i >= 0; i-- {
			vals[i] = openNow - later
			later += appear[i]
		}
		changed := 0
		for i := 0; i <= int(todayDay-first); i++ {
			changed += span[i]
			vals[i] -= changed
		}
		for d := start; d <= todayDay; d++ {
			out = append(out, vals[d-first])
		}
		return out
	}
	if o.Total > 0 {
		o.Trend.Ratings = ratingOrder[:5]
		for d := start; d <= todayDay; d++ {
			o.Trend.Days = append(o.Trend.Days, time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly))
		}
		o.Trend.Open = make([][]int, 5)
		for ri := range 5 {
			o.Trend.Open[ri] = series(openBy[ri], appear[ri], span[ri])
		}
		// Open P1 and P2, each finding under its current priority.
		o.PrioTrend.Days = o.Trend.Days
		o.PrioTrend.Ratings = []string{"P1", "P2"}
		o.PrioTrend.Open = [][]int{series(openByPrio[0], appearP[0], spanP[0]), series(openByPrio[1], appearP[1], spanP[1])}
	}

	// Remediation against the deadlines.
	sla := slaDays(c)
	if len(sla) == 0 {
		sla = s.cfg.SLADays // nothing scored yet: the deadlines that will apply
	}
	for i, r := range ratingOrder[:5] {
		row := SLARow{Rating: r, SLADays: sla[r], Fixed: fixed[i], Timed: timed[i], WithinSLA: within[i],
			OpenOverdue: overdueBy[i], Open: openBy[i]}
		if timed[i] > 0 {
			row.Share = float64(within[i]) / float64(timed[i])
			row.MeanDays = float64(fixTime[i]) / 86400 / float64(timed[i])
		}
		o.SLA = append(o.SLA, row)
	}

	// The top QIDs and hosts by open risk.
	const top = 10
	type qr struct {
		qid int32
		*qagg
	}
	var qlist []qr
	o.qids = make(map[int32]qidInfo, len(qids))
	for q, a := range qids {
		o.qids[q] = qidInfo{mask: a.mask, prios: a.prios, overdue: int32(a.overdue), open: a.openBy}
		if a.open > 0 {
			qlist = append(qlist, qr{q, a})
		}
	}
	slices.SortFunc(qlist, func(a, b qr) int { return cmp.Or(cmp.Compare(b.risk, a.risk), cmp.Compare(a.qid, b.qid)) })
	for _, q := range qlist[:min(top, len(qlist))] {
		t := TopQID{QID: int(q.qid), Rating: ratingOrder[q.best], Open: q.open, Risk: float64(q.risk) / 10, Overdue: q.overdue}
		err := each(c, "SELECT title FROM kb_vulns WHERE qid = ?", []any{int64(q.qid)}, func(st store.Cols) { t.Title = st.ColumnText(0) })
		if err != nil {
			return err
		}
		o.TopQIDs = append(o.TopQIDs, t)
	}
	type hr struct {
		id int64
		*hagg
	}
	var hlist []hr
	for id, a := range hosts {
		hlist = append(hlist, hr{id, a})
	}
	slices.SortFunc(hlist, func(a, b hr) int { return cmp.Or(cmp.Compare(b.risk, a.risk), cmp.Compare(a.id, b.id)) })
	for _, h := range hlist[:min(top, len(hlist))] {
		t := TopHost{HostID: h.id, Open: h.open, Critical: h.critical, Overdue: h.overdue, Risk: float64(h.risk) / 10}
		err := each(c, `SELECT COALESCE(NULLIF(ip, ''), ipv6), COALESCE(NULLIF(fqdn, ''), NULLIF(dns, ''), netbios) FROM hosts WHERE id = ?`,
			[]any{h.id}, func(st store.Cols) { t.Address, t.Hostname = st.ColumnText(0), st.ColumnText(1) })
		if err != nil {
			return err
		}
		o.TopHosts = append(o.TopHosts, t)
	}
	o.Tags = []string{}
	err = each(c, "SELECT DISTINCT name FROM host_tags", nil, func(st store.Cols) {
		o.Tags = append(o.Tags, st.ColumnText(0))
	})
	// In byte order, as SQLite's BINARY collation: PostgreSQL's order is
	// the database's collation.
	slices.Sort(o.Tags)
	return err
}

// slaDays reads the deadline policy the scores were made under (meta
// scoring_policy, e.g. "kb_v3,…|env|Low=180;Medium=90;High=30;Critical=15;").
func slaDays(c *store.Snap) map[string]int {
	out := map[string]int{}
	each(c, "SELECT value FROM meta WHERE name = 'scoring_policy'", nil, func(st store.Cols) {
		for part := range strings.SplitSeq(st.ColumnText(0), "|") {
			for kv := range strings.SplitSeq(part, ";") {
				k, v, ok := strings.Cut(kv, "=")
				if n, err := strconv.Atoi(v); ok && err == nil && slices.Contains(ratingOrder, k) {
					out[k] = n
				}
			}
		}
	})
	return out
}

// tenths is a score in tenths.
func tenths(score float64) int64 { return int64(math.Round(score * 10)) }

// dateDay is the Unix day of a YYYY-MM-DD date; a malformed date is far
// in the future.
func dateDay(b []byte) int32 {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 1 << 30
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, m, d := num(b[:4]), num(b[5:7]), num(b[8:])
	// Days from civil (H. Hinnant's algorithm).
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int32(era*146097 + doe - 719468)
}
