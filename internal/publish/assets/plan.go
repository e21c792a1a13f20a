package assets

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"qvt/internal/finding"
	"qvt/internal/store"
)

// HostFacts is what a host object shows.
type HostFacts struct {
	ID                          int64
	Address, Hostname, OS       string
	Known                       bool // the identity fields are known (else only the counts are written)
	Critical, High, Medium, Low int  // open findings by rating
	Overdue                     int  // open findings past their due date, excepted ones left out
	Scope                       bool // it has an open finding at or above MinRating
}

// Input is what planning reads.
type Input struct {
	Changed  []*store.Published   // findings changed since the last publish
	Hosts    map[int64]*HostFacts // hosts to bring up to date (those of changed findings, and more)
	Mappings map[string]store.Mapping
}

// Kind is what an action does.
type Kind string

// Action kinds.
const (
	Create Kind = "create"
	Update Kind = "update"
)

// Object types of actions.
const (
	HostObject    = "host"
	FindingObject = "finding"
)

// Action creates or updates one object.
type Action struct {
	Kind   Kind
	Type   string // host or finding
	Item   string // host:<id> or the finding key
	Name   string // the Name (label) value
	Object string // the object id, for an update
	// Values by logical attribute name; a reference holds the item of
	// the referenced object.
	Values map[string][]string
	Hash   string
	Rank   int
}

// Plan is what a run does.
type Plan struct {
	Actions   []Action
	Unchanged int
	Skipped   int // findings with no object that need none (closed, or below MinRating)
}

// Count counts the actions of a kind and object type.
func (p *Plan) Count(k Kind, typ string) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == k && a.Type == typ {
			n++
		}
	}
	return n
}

// HostItem is the mapping item of a host.
func HostItem(id int64) string { return "host:" + strconv.FormatInt(id, 10) }

func hashValues(v map[string][]string) string {
	b, _ := json.Marshal(v) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func one(s string) []string {
	if s == "" {
		return []string{}
	}
	return []string{s}
}

// hostValues are a host object's attributes.
func hostValues(h *HostFacts) map[string][]string {
	v := map[string][]string{
		"open_critical": {strconv.Itoa(h.Critical)}, "open_high": {strconv.Itoa(h.High)},
		"open_medium": {strconv.Itoa(h.Medium)}, "open_low": {strconv.Itoa(h.Low)}, "overdue": {strconv.Itoa(h.Overdue)},
	}
	if h.Known {
		v["name"] = one(h.Address)
		v["ip"] = one(h.Address)
		v["hostname"] = one(h.Hostname)
		v["os"] = one(h.OS)
		v["host_id"] = one(strconv.FormatInt(h.ID, 10))
	}
	return v
}

// status is a finding object's Status: the Qualys status while open,
// else why it closed.
func status(p *store.Published) string {
	switch p.Closed {
	case "":
		return p.Status
	case "fixed":
		return "Fixed"
	}
	return strings.ToUpper(p.Closed[:1]) + p.Closed[1:]
}

// findingValues are a finding object's attributes.
func findingValues(p *store.Published) map[string][]string {
	cvss := ""
	if p.EnvScore != nil {
		cvss = strconv.FormatFloat(*p.EnvScore, 'f', 1, 64)
	} else if p.Base != nil {
		cvss = strconv.FormatFloat(*p.Base, 'f', 1, 64)
	}
	title := p.Title
	if title == "" {
		title = "QID " + strconv.Itoa(p.QID)
	}
	title = clip(title)
	qds := ""
	if p.QDS != nil {
		qds = strconv.Itoa(*p.QDS)
	}
	return map[string][]string{
		"name": {p.Key}, "qid": {strconv.Itoa(p.QID)}, "title": {title}, "status": {status(p)},
		"rating": one(p.VulnScore), "cvss": one(cvss), "breach_date": one(p.BreachDate), "host": {HostItem(p.HostID)},
		"priority": one(p.Priority), "priority_reason": one(clip(p.PriorityReason)), "due_date": one(dueDate(&p.Finding)),
		"kev": {strconv.FormatBool(p.KEV)}, "kev_cves": one(clip(strings.Join(p.KEVCVEs, ", "))),
		"kev_date_added": one(p.KEVDateAdded), "kev_due_date": one(p.KEVDueDate), "kev_ransomware": {strconv.FormatBool(p.KEVRansomware)},
		"epss": one(fraction(p.EPSS)), "epss_percentile": one(fraction(p.EPSSPercentile)), "epss_cve": one(p.EPSSCVE),
		"qds": one(qds), "threat_intel": one(clip(strings.Join(p.ThreatIntel, ", "))),
		"owner": one(clip(p.Owner)), "excepted": {strconv.FormatBool(p.Excepted)}, "exception": one(p.Exception),
		"excepted_until": one(exceptedUntil(p.ExceptedUntil)),
	}
}

// exceptedUntil is an exception's last day; none for one without expiry.
func exceptedUntil(d string) string {
	if d == store.NoExpiry {
		return ""
	}
	return d
}

// clip cuts a text value to Assets' 255 characters, marking the cut.
func clip(s string) string {
	if r := []rune(s); len(r) > 255 {
		return string(r[:254]) + "…"
	}
	return s
}

// fraction is an EPSS score or percentile with the five decimals of the
// FIRST file.
func fraction(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 5, 64)
}

// dueDate is the finding's due date. A store that has not yet given the
// finding a priority has none: its breach date stands in.
func dueDate(f *finding.Finding) string {
	if f.Priority == "" {
		return f.BreachDate
	}
	return f.DueDate
}

func (c *Config) inScope(p *store.Published) bool {
	return p.Open() && (c.MinRating == "" || finding.RatingRank(p.VulnScore) >= finding.RatingRank(c.MinRating))
}

// Plan turns what changed into object creates and updates. It is pure.
// Rules: objects are keyed by item (mapping) and Name; a mapped object
// is updated when its values changed (a closed finding's Status, a
// host's counts); an unmapped finding gets an object only when open at
// or above MinRating, an unmapped host when it has such a finding;
// closing acts on existing objects only. Hosts come first, so findings
// can refer to them.
func (c *Config) Plan(in Input) *Plan {
	p := &Plan{}
	ids := make([]int64, 0, len(in.Hosts))
	for id := range in.Hosts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		h := in.Hosts[id]
		item := HostItem(id)
		v := hostValues(h)
		a := Action{Type: HostObject, Item: item, Name: h.Address, Values: v, Hash: hashValues(v)}
		m, mapped := in.Mappings[item]
		switch {
		case mapped && m.Hash == a.Hash:
			p.Unchanged++
			continue
		case mapped:
			a.Kind, a.Object = Update, m.Remote
		case h.Scope && h.Known:
			a.Kind = Create
		default:
			continue
		}
		p.Actions = append(p.Actions, a)
	}
	changed := slices.Clone(in.Changed)
	slices.SortFunc(changed, func(a, b *store.Published) int { return strings.Compare(a.Key, b.Key) })
	var fs []Action
	for _, f := range changed {
		v := findingValues(f)
		a := Action{Type: FindingObject, Item: f.Key, Name: f.Key, Values: v, Hash: hashValues(v), Rank: finding.RatingRank(f.VulnScore)}
		m, mapped := in.Mappings[f.Key]
		switch {
		case mapped && m.Hash == a.Hash:
			p.Unchanged++
			continue
		case mapped:
			a.Kind, a.Object = Update, m.Remote
		case c.inScope(f):
			a.Kind = Create
		default:
			p.Skipped++
			continue
		}
		fs = append(fs, a)
	}
	slices.SortStableFunc(fs, func(a, b Action) int { return cmp.Compare(b.Rank, a.Rank) })
	p.Actions = append(p.Actions, fs...)
	return p
}
