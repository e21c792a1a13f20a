package web

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/cvss"
	"qvt/internal/finding"
	"qvt/internal/store"
)

// FindingView is everything the finding page shows.
type FindingView struct {
	// The finding as qvt export writes it: its fields keep their names and
	// meaning (closed, closed_reason, first_seen, ...); none is redeclared
	// below.
	finding.Finding
	Overdue     bool           `json:"overdue"`
	DueSoon     bool           `json:"due_soon"`
	DaysLeft    int            `json:"days_left"`     // to the deadline; negative when overdue
	DueOverdue  bool           `json:"due_overdue"`   // open and past its due date (the priority's)
	DueDaysLeft int            `json:"due_days_left"` // to the due date; negative when past
	Metrics     []MetricGroup  `json:"cvss_metrics"`
	CVEList     []CVEView      `json:"cve_details"`
	Refs        []Link         `json:"vendor_links"`
	Jira        string         `json:"jira"`
	Timeline    []TimelineItem `json:"timeline"`
	OtherHosts  []int64        `json:"other_hosts,omitempty"` // other hosts with the same address and this QID and port
	Environment *EnvView       `json:"environment"`           // the environment policy the host is scored under; null for none
	// The exception covering it: its type, reason and approver; "" when
	// not excepted.
	ExceptionReason string `json:"exception_reason"`
	KB              KBText `json:"-"`
}

// KBText is the KB's HTML, sanitized.
type KBText struct {
	Diagnosis, Consequence, Solution template.HTML
}

// MetricGroup is one group of a CVSS vector's metrics.
type MetricGroup struct {
	Name    string       `json:"group"`
	Metrics []MetricView `json:"metrics"`
}

// MetricView is one metric of a vector, as the API names it.
type MetricView struct {
	Abbr      string `json:"abbr"`       // AV
	Name      string `json:"name"`       // Attack Vector
	Value     string `json:"value"`      // N
	ValueName string `json:"value_name"` // Network
}

// EnvView is the environment policy a finding's host is scored under.
type EnvView struct {
	ID      int               `json:"id"`      // 1-based position in the configured environments
	Name    string            `json:"name"`    // "" when the configuration no longer describes it
	Metrics map[string]string `json:"metrics"` // the environmental metrics it sets, e.g. {"MAV": "N", "CR": "H"}
	// Changed: the configured environments differ from those the scores
	// were made under (qvt rescore, or the next sync, rescores).
	Changed bool `json:"changed"`
}

// CVEView is a CVE with what NVD says of it.
type CVEView struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Score       *float64 `json:"score"`    // NVD base score (v3.x, else v2, else v4.0)
	Version     string   `json:"version"`  // of that score
	Severity    string   `json:"severity"` // NVD's
	Description string   `json:"description"`
	Primary     bool     `json:"primary"` // the finding's primary CVE
	KEV         bool     `json:"kev"`     // in CISA's Known Exploited Vulnerabilities (its catalog, or NVD's note of it)
	// From the KEV catalog and EPSS, when they hold the CVE.
	KEVDateAdded   string   `json:"kev_date_added,omitempty"`
	KEVRansomware  bool     `json:"kev_ransomware"`
	EPSS           *float64 `json:"epss"`
	EPSSPercentile *float64 `json:"epss_percentile"`
}

// Link is a reference with a URL.
type Link struct {
	Text string `json:"id"`
	URL  string `json:"url"`
}

// TimelineItem is one step of a finding's life.
type TimelineItem struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
	Old  string    `json:"old,omitempty"`
	New  string    `json:"new,omitempty"`
	Kind string    `json:"kind"` // seen, status, closed, reopened, rating, deadline, priority, due
	// Why a priority or due date changed ("added to KEV 2026-03-01").
	Cause string `json:"cause,omitempty"`
}

// nvdURL is where a person reads about a CVE.
func nvdURL(id string) string { return "https://nvd.nist.gov/vuln/detail/" + url.PathEscape(id) }

// maxCVEDetails bounds the NVD lookups of one page: some QIDs list
// hundreds of CVEs; the rest are shown as plain links.
const maxCVEDetails = 60

// finding reads the finding with this key, or errNotFound.
func (s *Server) finding(ctx context.Context, key string) (*FindingView, error) {
	if _, _, _, ok := finding.ParseKey(key); !ok {
		return nil, errNotFound
	}
	lives, err := s.st.History(ctx, key)
	if err != nil {
		return nil, err
	}
	if len(lives) == 0 {
		return nil, errNotFound
	}
	life := lives[0] // the one seen most recently
	// Lists are empty, not absent, in the API.
	v := &FindingView{Metrics: []MetricGroup{}, Refs: []Link{}}
	for _, l := range lives[1:] {
		v.OtherHosts = append(v.OtherHosts, l.HostID)
	}
	found := false
	err = s.st.Findings(ctx, store.Filter{Hosts: []string{strconv.FormatInt(life.HostID, 10)}, QIDs: []int{life.QID}}, func(r *store.Row) error {
		if r.Port == life.Port && !found {
			v.Finding, found = r.Finding, true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotFound // an Info detection: not a finding
	}
	if v.Tags == nil {
		v.Tags = []string{} // a list, empty, not absent, in the API
	}
	if err := s.exceptionOf(ctx, v); err != nil {
		return nil, err
	}
	if v.BreachDate != "" && !v.Closed && !v.Excepted {
		if d, err := time.Parse(time.DateOnly, v.BreachDate); err == nil {
			today, _ := time.Parse(time.DateOnly, s.now().UTC().Format(time.DateOnly))
			v.DaysLeft = int(d.Sub(today).Hours() / 24)
			v.Overdue = v.DaysLeft < 0
			v.DueSoon = !v.Overdue && v.DaysLeft <= 7
		}
	}
	if v.DueDate != "" && !v.Closed && !v.Excepted {
		if d, err := time.Parse(time.DateOnly, v.DueDate); err == nil {
			today, _ := time.Parse(time.DateOnly, s.now().UTC().Format(time.DateOnly))
			v.DueDaysLeft = int(d.Sub(today).Hours() / 24)
			v.DueOverdue = v.DueDaysLeft < 0
		}
	}
	if v.KEVCVEs == nil {
		v.KEVCVEs = []string{}
	}
	if v.ThreatIntel == nil {
		v.ThreatIntel = []string{}
	}
	db := s.st.DB()
	if v.Environment, err = s.environment(ctx, db, v.HostID); err != nil {
		return nil, err
	}
	if v.CVSSVector != "" {
		vector := v.CVSSVector
		if v.Environment != nil && !v.Environment.Changed {
			vector = withMetrics(vector, v.Environment.Metrics)
		}
		if ms, err := cvss.Metrics(vector); err == nil {
			v.Metrics = groupMetrics(ms)
		}
	}
	v.KB = KBText{s.kbHTML(v.Diagnosis), s.kbHTML(v.Consequence), s.kbHTML(v.Solution)}
	if v.CVEList, err = s.cves(ctx, db, v.CVEs, v.CVEID); err != nil {
		return nil, err
	}
	if v.Refs, err = vendorLinks(ctx, db, v.QID); err != nil {
		return nil, err
	}
	if v.Jira, err = jiraKey(ctx, db, v.Key, "qid:"+strconv.Itoa(v.QID), "host:"+strconv.FormatInt(v.HostID, 10)); err != nil {
		return nil, err
	}
	v.Timeline = timeline(life)
	if v.Refs == nil {
		v.Refs = []Link{}
	}
	return v, nil
}

// environment reads the environment policy a host is scored under, nil
// for none.
func (s *Server) environment(ctx context.Context, db dbReader, hostID int64) (*EnvView, error) {
	var id int
	var fp string
	err := db.QueryRowContext(ctx, `SELECT policy, COALESCE((SELECT value FROM meta WHERE name = 'scoring_policy'), '')
FROM hosts WHERE id = ?`, hostID).Scan(&id, &fp)
	if err != nil || id == 0 {
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
		return nil, err
	}
	// The stored fingerprint ends with the environments' own.
	envs := s.cfg.Environments
	e := &EnvView{ID: id, Metrics: map[string]string{}}
	if id > len(envs) || !strings.HasSuffix(fp, "|"+envs.Fingerprint()) {
		e.Changed = true
		return e, nil
	}
	p := envs[id-1]
	e.Name = cmp.Or(p.Name, fmt.Sprintf("environments[%d]", id-1))
	for k, val := range p.Metrics {
		e.Metrics[strings.ToUpper(k)] = strings.ToUpper(val)
	}
	return e, nil
}

// withMetrics is a vector with environmental metrics set, each one the
// vector's version has (CDP only in v2, MAV in v3 and v4), in place of
// the vector's own value: the vector the environmental score was made of.
func withMetrics(vector string, metrics map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(metrics)) {
		parts := slices.DeleteFunc(strings.Split(vector, "/"), func(p string) bool { return strings.HasPrefix(p, k+":") })
		next := strings.Join(append(parts, k+":"+metrics[k]), "/")
		if _, err := cvss.Metrics(next); err == nil {
			vector = next
		}
	}
	return vector
}

func groupMetrics(ms []cvss.Metric) []MetricGroup {
	out := []MetricGroup{}
	for _, m := range ms {
		if len(out) == 0 || out[len(out)-1].Name != m.Group {
			out = append(out, MetricGroup{Name: m.Group})
		}
		g := &out[len(out)-1]
		g.Metrics = append(g.Metrics, MetricView{Abbr: m.Abbr, Name: m.Name, Value: m.Value, ValueName: m.ValueName})
	}
	return out
}

// timeline tells a finding's life: when qvt first saw it, each change,
// and when it last saw it.
func timeline(l store.Life) []TimelineItem {
	out := []TimelineItem{}
	if l.FirstSeen > 0 {
		out = append(out, TimelineItem{At: time.Unix(l.FirstSeen, 0).UTC(), What: "First reported", Kind: "seen"})
	}
	for _, c := range l.Changes {
		it := TimelineItem{At: time.Unix(c.At, 0).UTC(), Old: c.Old, New: c.New, Kind: c.Event, Cause: c.Cause}
		switch c.Event {
		case "status":
			it.What = "Qualys status"
		case "closed":
			if c.New == "" {
				it.What, it.Kind = "Reopened", "reopened"
			} else {
				it.What = "Closed: " + c.New
			}
		case "rating":
			it.What = "Rating"
		case "deadline":
			it.What = "Deadline"
		case "priority":
			it.What = "Priority"
		case "due":
			it.What = "Due date"
		case "exception":
			// old and new name the exception (EXC-12), "" for none; the
			// cause says why it came or went.
			if c.New != "" {
				it.What = "Excepted"
			} else {
				it.What = "Exception ended"
			}
		case "owner":
			it.What = "Owner"
		default:
			it.What = c.Event
		}
		out = append(out, it)
	}
	if l.LastSeen > 0 && l.LastSeen != l.FirstSeen {
		out = append(out, TimelineItem{At: time.Unix(l.LastSeen, 0).UTC(), What: "Last reported", Kind: "seen"})
	}
	// The history is in the order it was recorded, which is not always
	// the order things happened (a file imported late, a closing after
	// the last report): time order, ties as recorded.
	slices.SortStableFunc(out, func(a, b TimelineItem) int { return a.At.Compare(b.At) })
	return out
}

// cves reads what NVD says of a QID's CVEs.
func (s *Server) cves(ctx context.Context, db dbReader, ids []string, primary string) ([]CVEView, error) {
	out := make([]CVEView, 0, len(ids))
	for i, id := range ids {
		c := CVEView{ID: id, URL: nvdURL(id), Primary: id == primary}
		if i < maxCVEDetails {
			if err := nvdDetails(ctx, db, &c); err != nil {
				return nil, err
			}
			if err := riskDetails(ctx, db, &c); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// riskDetails fills what the KEV catalog and EPSS hold of a CVE.
func riskDetails(ctx context.Context, db dbReader, c *CVEView) error {
	var added, ransomware string
	err := db.QueryRowContext(ctx, "SELECT date_added, ransomware FROM kev_entries WHERE cve = ?", c.ID).Scan(&added, &ransomware)
	switch {
	case err == nil:
		c.KEV, c.KEVDateAdded, c.KEVRansomware = true, added, ransomware == "Known"
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("KEV %s: %w", c.ID, err)
	}
	var e, p float64
	err = db.QueryRowContext(ctx, "SELECT epss, percentile FROM epss_scores WHERE cve = ?", c.ID).Scan(&e, &p)
	switch {
	case err == nil:
		c.EPSS, c.EPSSPercentile = &e, &p
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("EPSS %s: %w", c.ID, err)
	}
	return nil
}

// nvdDetails fills a CVE's NVD description and score: NVD's own (Primary)
// entry of the highest of v3.x, v2, v4.0 it has, else a CNA's.
func nvdDetails(ctx context.Context, db dbReader, c *CVEView) error {
	err := db.QueryRowContext(ctx, "SELECT description, kev_added <> '' FROM nvd_cves WHERE id = ?", c.ID).Scan(&c.Description, &c.KEV)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("NVD %s: %w", c.ID, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT version, type, base_score, severity FROM nvd_metrics WHERE cve_id = ? ORDER BY ord", c.ID)
	if err != nil {
		return fmt.Errorf("NVD %s: %w", c.ID, err)
	}
	defer rows.Close()
	best := -1
	for rows.Next() {
		var version, typ, sev string
		var score float64
		if err := rows.Scan(&version, &typ, &score, &sev); err != nil {
			return err
		}
		rank := 0
		switch {
		case strings.HasPrefix(version, "3"):
			rank = 30
		case strings.HasPrefix(version, "2"):
			rank = 20
		case strings.HasPrefix(version, "4"):
			rank = 10
		}
		if typ == "Primary" {
			rank += 5
		}
		if rank > best {
			best = rank
			sc := score
			c.Score, c.Version, c.Severity = &sc, version, sev
		}
	}
	return rows.Err()
}

// vendorLinks reads a QID's vendor references; only http(s) URLs become links.
func vendorLinks(ctx context.Context, db dbReader, qid int) ([]Link, error) {
	var raw string
	err := db.QueryRowContext(ctx, "SELECT vendor_refs FROM kb_vulns WHERE qid = ?", qid).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("KB %d: %w", qid, err)
	}
	var refs []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	json.Unmarshal([]byte(raw), &refs)
	var out []Link
	for _, r := range refs {
		l := Link{Text: r.ID, URL: safeURL(r.URL)}
		if l.Text == "" {
			l.Text = l.URL
		}
		if l.Text != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// safeURL returns u if it is an absolute http(s) URL, else "".
func safeURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}

func hostTags(ctx context.Context, db dbReader, hostID int64) ([]string, error) {
	// Sorted here, in byte order as SQLite's BINARY: PostgreSQL's order
	// is the database's collation.
	rows, err := db.QueryContext(ctx, "SELECT name FROM host_tags WHERE host_id = ?", hostID)
	if err != nil {
		return nil, fmt.Errorf("host tags: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// jiraKey returns the Jira issue of the first item that has one.
func jiraKey(ctx context.Context, db dbReader, items ...string) (string, error) {
	for _, it := range items {
		var key string
		err := db.QueryRowContext(ctx, "SELECT remote FROM publish_map WHERE target = 'jira' AND item = ? AND remote <> ''", it).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("publish map: %w", err)
		}
		return key, nil
	}
	return "", nil
}

// HostView is what the host page shows above its findings.
type HostView struct {
	ID             int64    `json:"id"`
	Address        string   `json:"address"`
	IP             string   `json:"ip"`
	IPv6           string   `json:"ipv6"`
	Hostname       string   `json:"hostname"`
	DNS            string   `json:"dns"`
	FQDN           string   `json:"fqdn"`
	NetBIOS        string   `json:"netbios"`
	OS             string   `json:"os"`
	TrackingMethod string   `json:"tracking_method"`
	NetworkID      string   `json:"network_id"`
	AssetID        int64    `json:"asset_id"`
	LastScan       string   `json:"last_scan"`
	LastVMScanned  string   `json:"last_vm_scanned"`
	Tags           []string `json:"tags"`
	Jira           string   `json:"jira"`
	OpenBy         []Count  `json:"open_by_rating"`
	Open           int      `json:"open"`
	Overdue        int      `json:"overdue"`
}

func (s *Server) host(ctx context.Context, id int64) (*HostView, error) {
	// One snapshot: the counts agree with the host a sync is updating.
	db, err := s.st.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("host %d: %w", id, err)
	}
	defer db.Rollback()
	h := &HostView{ID: id}
	err = db.QueryRowContext(ctx, `SELECT ip, ipv6, dns, fqdn, netbios, os, tracking_method, network_id, asset_id,
  last_scan, last_vm_scanned FROM hosts WHERE id = ?`, id).Scan(&h.IP, &h.IPv6, &h.DNS, &h.FQDN, &h.NetBIOS, &h.OS,
		&h.TrackingMethod, &h.NetworkID, &h.AssetID, &h.LastScan, &h.LastVMScanned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("host %d: %w", id, err)
	}
	h.Address = h.IP
	if h.Address == "" {
		h.Address = h.IPv6
	}
	h.Hostname = h.FQDN
	if h.Hostname == "" {
		h.Hostname = h.DNS
	}
	if h.Hostname == "" {
		h.Hostname = h.NetBIOS
	}
	if h.Tags, err = hostTags(ctx, db, id); err != nil {
		return nil, err
	}
	if h.Jira, err = jiraKey(ctx, db, "host:"+strconv.FormatInt(id, 10)); err != nil {
		return nil, err
	}
	h.OpenBy, h.Open, h.Overdue, err = s.openCounts(ctx, db, "host_id = ?", id)
	return h, err
}

// openCounts counts open findings by rating, and those overdue, where
// cond holds.
func (s *Server) openCounts(ctx context.Context, db dbReader, cond string, arg any) ([]Count, int, int, error) {
	// An excepted finding is not overdue (excepted.go).
	day := s.now().UTC().Format(time.DateOnly)
	rows, err := db.QueryContext(ctx, `SELECT vuln_score, count(*),
  count(*) FILTER (WHERE breach_date <> '' AND breach_date < ? AND NOT (exception_id <> 0 AND excepted_until >= ?))
FROM detections WHERE `+cond+` AND type <> 'Info' AND closed = '' GROUP BY vuln_score`, day, day, arg)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("counts: %w", err)
	}
	defer rows.Close()
	got := map[string]int{}
	open, overdue := 0, 0
	for rows.Next() {
		var r string
		var n, late int
		if err := rows.Scan(&r, &n, &late); err != nil {
			return nil, 0, 0, err
		}
		got[r] += n
		open += n
		overdue += late
	}
	var out []Count
	for _, r := range ratingOrder[:5] {
		out = append(out, Count{r, got[r]})
	}
	return out, open, overdue, rows.Err()
}

// QIDView is what the QID page shows above its hosts.
type QIDView struct {
	QID          int           `json:"qid"`
	Title        string        `json:"title"`
	Severity     int           `json:"severity"`
	Category     string        `json:"category"`
	VulnType     string        `json:"vuln_type"`
	Published    string        `json:"published"`
	LastModified string        `json:"last_modified"`
	Patchable    bool          `json:"patchable"`
	CVEList      []CVEView     `json:"cves"`
	Refs         []Link        `json:"vendor_links"`
	Vector       string        `json:"cvss_vector"`
	Version      string        `json:"cvss_version"`
	Base         *float64      `json:"base"`
	Temporal     *float64      `json:"temporal"`
	EnvScore     *float64      `json:"env_score"`
	Rating       string        `json:"rating"` // without an environment policy
	Metrics      []MetricGroup `json:"cvss_metrics"`
	Jira         string        `json:"jira"`
	OpenBy       []Count       `json:"open_by_rating"`
	Open         int           `json:"open"`
	Overdue      int           `json:"overdue"`
	KB           KBText        `json:"-"`
	Diagnosis    string        `json:"diagnosis"`
	Consequence  string        `json:"consequence"`
	Solution     string        `json:"solution"`
}

func (s *Server) qid(ctx context.Context, qid int) (*QIDView, error) {
	// One snapshot, as the host's.
	db, err := s.st.BeginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("QID %d: %w", qid, err)
	}
	defer db.Rollback()
	v := &QIDView{QID: qid, Metrics: []MetricGroup{}}
	var cves string
	err = db.QueryRowContext(ctx, `SELECT title, severity, category, vuln_type, published, last_modified, patchable,
  cves, diagnosis, consequence, solution FROM kb_vulns WHERE qid = ?`, qid).Scan(&v.Title, &v.Severity, &v.Category,
		&v.VulnType, &v.Published, &v.LastModified, &v.Patchable, &cves, &v.Diagnosis, &v.Consequence, &v.Solution)
	if errors.Is(err, sql.ErrNoRows) {
		// Detections of a QID the KB does not hold yet still have a page.
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM detections"+s.sql.indexed("detections_qid")+" WHERE qid = ? AND type <> 'Info' LIMIT 1) AS m", qid).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, errNotFound
		}
	} else if err != nil {
		return nil, fmt.Errorf("QID %d: %w", qid, err)
	}
	var ids []string
	json.Unmarshal([]byte(cves), &ids)
	var primary string
	var base, temporal, env sql.NullFloat64
	err = db.QueryRowContext(ctx, `SELECT cve_id, cvss_vector, cvss_version, base, temporal, env_score, rating
FROM qid_scores WHERE qid = ? AND policy = 0`, qid).Scan(&primary, &v.Vector, &v.Version, &base, &temporal, &env, &v.Rating)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("QID %d: %w", qid, err)
	}
	v.Base, v.Temporal, v.EnvScore = optFloat(base), optFloat(temporal), optFloat(env)
	if v.Vector != "" {
		if ms, err := cvss.Metrics(v.Vector); err == nil {
			v.Metrics = groupMetrics(ms)
		}
	}
	if v.CVEList, err = s.cves(ctx, db, ids, primary); err != nil {
		return nil, err
	}
	if v.Refs, err = vendorLinks(ctx, db, qid); err != nil {
		return nil, err
	}
	if v.Refs == nil {
		v.Refs = []Link{}
	}
	if v.Jira, err = jiraKey(ctx, db, "qid:"+strconv.Itoa(qid)); err != nil {
		return nil, err
	}
	v.KB = KBText{s.kbHTML(v.Diagnosis), s.kbHTML(v.Consequence), s.kbHTML(v.Solution)}
	// A common QID has thousands of findings, each counted by a read of
	// the table: the current overview has counted them already.
	o, err := s.current(ctx, db)
	if err != nil {
		return nil, err
	}
	if o != nil {
		info := o.qids[int32(qid)]
		for i, r := range ratingOrder[:5] {
			v.OpenBy = append(v.OpenBy, Count{r, int(info.open[i])})
			v.Open += int(info.open[i])
		}
		v.Open += int(info.open[5])
		v.Overdue = int(info.overdue)
		return v, nil
	}
	v.OpenBy, v.Open, v.Overdue, err = s.openCounts(ctx, db, "qid = ?", qid)
	return v, err
}

// dbReader is what the pages read through: the store's *sql.DB, or a
// read transaction of it (one snapshot).
type dbReader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func optFloat(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}
