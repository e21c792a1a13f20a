package jira

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"qvt/internal/finding"
	"qvt/internal/store"
)

// CommonLabel is on every issue qvt creates: a search for it in the
// project finds them all, to rebuild lost mappings.
const CommonLabel = "qvt"

// KEVLabel is on the issues of findings in CISA's KEV catalog (for a
// group, of any of its findings) while they are: a filter for "known
// exploited" in Jira. It is removed when they leave the catalog.
const KEVLabel = "kev"

// itemOf is the item (mapping key) an issue tracks for a finding: the
// finding key, "qid:<qid>" or "host:<Qualys host id>". Groups are
// within one owner: a finding with an owner is in "qid:<qid>@<owner>"
// or "host:<id>@<owner>".
func itemOf(grouping string, f *finding.Finding) string {
	return groupItem(grouping, f.Key, f.QID, f.HostID, f.Owner)
}

func groupItem(grouping, key string, qid int, host int64, owner string) string {
	var it string
	switch grouping {
	case ByQID:
		it = "qid:" + strconv.Itoa(qid)
	case ByHost:
		it = "host:" + strconv.FormatInt(host, 10)
	default:
		return key
	}
	if owner != "" {
		it += "@" + owner
	}
	return it
}

// groupID splits a group item into its QID or host id and its owner.
func groupID(item string) (id, owner string) {
	_, rest, _ := strings.Cut(item, ":")
	id, owner, _ = strings.Cut(rest, "@")
	return id, owner
}

// DedupeLabel is the label that identifies an item's issue in Jira. It
// derives from the item key only, never from text that can change:
// "qvt-qid-<qid>", "qvt-host-<id>", or for a finding "qvt-" and the first
// 16 hex digits of the SHA-256 of its key (keys hold colons and IPv6
// addresses; the hash is short and label-safe).
//
// A group within an owner has "-" and the first 8 hex digits of the
// SHA-256 of the owner's name after it ("qvt-qid-38794-1f0c9a2e"):
// owner names hold spaces, and a rename makes another group anyway.
func DedupeLabel(item string) string {
	if strings.HasPrefix(item, "qid:") || strings.HasPrefix(item, "host:") {
		kind, _, _ := strings.Cut(item, ":")
		id, owner := groupID(item)
		l := "qvt-" + kind + "-" + id
		if owner != "" {
			sum := sha256.Sum256([]byte(owner))
			l += "-" + hex.EncodeToString(sum[:4])
		}
		return l
	}
	sum := sha256.Sum256([]byte(item))
	return "qvt-" + hex.EncodeToString(sum[:8])
}

// inScope tells whether a finding is one qvt tracks: open and rated at
// least MinRating. An excepted finding is in scope; its issue is
// resolved while the exception lasts.
func (c *Config) inScope(f *store.Published) bool {
	return f.Open() && c.rated(f.VulnScore)
}

// wantsWork tells whether a finding needs an open issue: in scope and
// not excepted.
func (c *Config) wantsWork(f *store.Published) bool {
	return c.inScope(f) && !f.Excepted
}

func (c *Config) rated(r string) bool {
	return c.MinRating == "" || finding.RatingRank(r) >= finding.RatingRank(c.MinRating)
}

// content is what an issue shows: the fields qvt sets.
type content struct {
	Summary  string                     `json:"summary"`
	Desc     doc                        `json:"desc"`
	Priority string                     `json:"priority,omitempty"`
	Due      string                     `json:"due,omitempty"`
	Labels   []string                   `json:"labels"`
	Custom   map[string]json.RawMessage `json:"custom,omitempty"`
	// The owner and its route: the issue is created there, and edited
	// when the owner changes.
	Owner     string `json:"owner,omitempty"`
	Assignee  string `json:"assignee,omitempty"`
	Component string `json:"component,omitempty"`
	Project   string `json:"-"` // the project an issue is created in (the route's)
	Pointer   string `json:"-"` // where the full record is, for truncation
}

// setRoute makes the content the owner's: its route and labels.
func (ct *content) setRoute(r route) {
	ct.Owner, ct.Assignee, ct.Component, ct.Project = r.Owner, r.Assignee, r.Component, r.Project
	for _, l := range r.Labels {
		if !slices.Contains(ct.Labels, l) {
			ct.Labels = append(ct.Labels, l)
		}
	}
}

// sentRoute is the route a mapping records as sent with an issue.
type sentRoute struct {
	Owner     string `json:"o,omitempty"`
	Assignee  string `json:"a,omitempty"`
	Component string `json:"c,omitempty"`
}

// mapHash is what a mapping records of what was sent: the content's hash
// and, after a space, the route it was sent with (JSON), so that a
// change of owner is known as such, with what the old owner set (the
// route's fields are sent only then: a person's choice of assignee
// survives other updates; the old owner's component is taken off even
// when the rules no longer name the old owner).
func mapHash(ct *content) string {
	r := sentRoute{Owner: ct.Owner, Assignee: ct.Assignee, Component: ct.Component}
	if r == (sentRoute{}) {
		return ct.hash()
	}
	b, _ := json.Marshal(r)
	return ct.hash() + " " + string(b)
}

// hashRoute is the route a mapping's hash records (none for a mapping
// from before owners).
func hashRoute(h string) sentRoute {
	var r sentRoute
	if _, s, ok := strings.Cut(h, " "); ok {
		_ = json.Unmarshal([]byte(s), &r) // unreadable: as none
	}
	return r
}

// hash identifies what was sent: the issue is edited when it changes.
func (c *content) hash() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// FieldData is what custom field templates see. For a group issue the
// finding fields are those of its most severe open finding.
type FieldData struct {
	Item       string // the mapping item: finding key, qid:<n> or host:<id>
	Label      string // the dedupe label
	Grouping   string // finding, qid or host
	Count      int    // open findings the issue lists (1 for a finding)
	Key        string // finding key
	QID        int
	Title      string
	HostID     int64
	IP         string
	Hostname   string
	OS         string
	Port       int
	Protocol   string
	Severity   int
	Rating     string
	CVSS       string // the environmental score, one decimal ("" if none)
	Vector     string
	CVE        string   // the primary CVE
	CVEs       []string // all CVEs of the QID
	BreachDate string
	FirstFound string // YYYY-MM-DD
	Status     string // Qualys status
	Tags       []string
	// The priority (docs/priority.md). For a group issue, of its most
	// urgent finding; DueDate is the group's earliest.
	Priority       string // P1 … P4
	PriorityReason string // the rule that gave it
	DueDate        string // YYYY-MM-DD
	KEV            bool
	KEVCVEs        []string
	EPSS           string // five decimals ("" if none)
	QDS            string // "" if none
	ThreatIntel    []string
}

func fieldData(grouping, item string, f *finding.Finding, tags []string, count int) FieldData {
	return FieldData{
		Item: item, Label: DedupeLabel(item), Grouping: grouping, Count: count,
		Key: f.Key, QID: f.QID, Title: f.Title, HostID: f.HostID, IP: f.IP, Hostname: f.Hostname, OS: f.OS,
		Port: f.Port, Protocol: f.Protocol, Severity: f.Severity, Rating: f.VulnScore, CVSS: score(f.EnvScore),
		Vector: f.CVSSVector, CVE: f.CVEID, CVEs: f.CVEs, BreachDate: f.BreachDate, FirstFound: day(f.FirstFound),
		Status: f.Status, Tags: tags,
		Priority: f.Priority, PriorityReason: f.PriorityReason, DueDate: dueDate(f), KEV: f.KEV, KEVCVEs: f.KEVCVEs,
		EPSS: fraction(f.EPSS), QDS: qdsText(f.QDS), ThreatIntel: f.ThreatIntel,
	}
}

// dueDate is the finding's due date. A store that has not yet given the
// finding a priority has none: its breach date stands in, as before
// priorities.
func dueDate(f *finding.Finding) string {
	if f.Priority == "" {
		return f.BreachDate
	}
	return f.DueDate
}

// fraction is an EPSS score or percentile with the five decimals of the
// FIRST file.
func fraction(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 5, 64)
}

func qdsText(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

// jiraPriority is the Jira priority of an issue whose most urgent
// finding has priority p and whose highest rating is rating: through
// Priorities when it is set, else through PriorityMap. "" sends none.
func (c *Config) jiraPriority(p, rating string) string {
	if c.Priorities != nil {
		return c.Priorities[p]
	}
	return c.PriorityMap[rating]
}

// priorityText is "P1 (known exploited)", or "none".
func priorityText(f *finding.Finding) string {
	if f.Priority == "" {
		return "none"
	}
	if f.PriorityReason == "" {
		return f.Priority
	}
	return f.Priority + " (" + f.PriorityReason + ")"
}

// kevText says whether and since when the QID's CVEs are in KEV.
func kevText(f *finding.Finding) string {
	if !f.KEV {
		return "no"
	}
	s := "yes: " + strings.Join(f.KEVCVEs, ", ")
	var facts []string
	if f.KEVDateAdded != "" {
		facts = append(facts, "added "+f.KEVDateAdded)
	}
	if f.KEVDueDate != "" {
		facts = append(facts, "CISA due date "+f.KEVDueDate)
	}
	if f.KEVRansomware {
		facts = append(facts, "known ransomware use")
	}
	if len(facts) > 0 {
		s += " (" + strings.Join(facts, ", ") + ")"
	}
	return s
}

// epssText is the QID's highest EPSS score with its percentile and CVE.
func epssText(f *finding.Finding) string {
	if f.EPSS == nil {
		return "none"
	}
	s := fraction(f.EPSS)
	var facts []string
	if f.EPSSPercentile != nil {
		facts = append(facts, "percentile "+fraction(f.EPSSPercentile))
	}
	if f.EPSSCVE != "" {
		facts = append(facts, f.EPSSCVE)
	}
	if len(facts) > 0 {
		s += " (" + strings.Join(facts, ", ") + ")"
	}
	return s
}

// riskRows are the rows of a finding's (or a QID's) exploitation
// evidence: KEV, EPSS, QDS (per detection: not for a QID's group) and
// the KB's threat intel.
func riskRows(f *finding.Finding, qds bool) [][]cell {
	rows := [][]cell{
		row(cellText("KEV"), cellText(kevText(f))),
		row(cellText("EPSS"), cellText(epssText(f))),
	}
	if qds {
		rows = append(rows, row(cellText("QDS"), cellText(orNone(qdsText(f.QDS)))))
	}
	if len(f.ThreatIntel) > 0 {
		rows = append(rows, row(cellText("Threat intel"), cellText(strings.Join(f.ThreatIntel, ", "))))
	}
	return rows
}

// jsonEscaped is d with every text escaped for use inside a JSON string
// (without the quotes). It walks the fields, so a field added later is
// escaped too.
func (d FieldData) jsonEscaped() FieldData {
	esc := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	}
	e := d
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.String:
			f.SetString(esc(f.String()))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			l := make([]string, f.Len())
			for j := range l {
				l[j] = esc(f.Index(j).String())
			}
			f.Set(reflect.ValueOf(l))
		}
	}
	return e
}

func score(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

func day(p *string) string {
	if p == nil || len(*p) < 10 {
		return ""
	}
	return (*p)[:10]
}

// customFields renders the configured custom fields.
func (c *Config) customFields(data FieldData) (map[string]json.RawMessage, error) {
	if len(c.CustomFields) == 0 {
		return nil, nil
	}
	out := map[string]json.RawMessage{}
	for id, src := range c.CustomFields {
		raw := strings.HasPrefix(src, "json:")
		t, err := template.New(id).Option("missingkey=error").Parse(strings.TrimPrefix(src, "json:"))
		if err != nil {
			return nil, fmt.Errorf("jira.custom_fields.%s: %w", id, err)
		}
		var buf bytes.Buffer
		d := data
		if raw {
			// Values land inside the template's JSON: escaped, a title
			// with a quote can neither break the JSON nor add to it.
			d = data.jsonEscaped()
		}
		if err := t.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("jira.custom_fields.%s: %w", id, err)
		}
		v := strings.TrimSpace(buf.String())
		if v == "" {
			continue // nothing to say: the field is left alone
		}
		if raw {
			if !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("jira.custom_fields.%s: %q (for %s) is not JSON", id, v, data.Item)
			}
			out[id] = json.RawMessage(v)
			continue
		}
		b, _ := json.Marshal(v)
		out[id] = b
	}
	return out, nil
}

// labels are the labels of an item's issue.
func (c *Config) labels(item string, tags []string, kev bool) []string {
	ls := []string{CommonLabel, DedupeLabel(item)}
	if kev {
		ls = append(ls, KEVLabel)
	}
	ls = append(ls, c.Labels...)
	if c.TagLabels {
		for _, t := range tags {
			if l := cleanLabel(t); l != "" {
				ls = append(ls, l)
			}
		}
	}
	out := ls[:0]
	for _, l := range ls {
		if l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func hostName(f *finding.Finding) string {
	if f.Hostname != "" && f.Hostname != f.IP {
		return f.Hostname + " (" + f.IP + ")"
	}
	return f.IP
}

func titleOf(f *finding.Finding) string {
	if strings.TrimSpace(f.Title) != "" {
		return strings.TrimSpace(f.Title)
	}
	return "QID " + strconv.Itoa(f.QID)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func cvssText(f *finding.Finding) string {
	if f.EnvScore == nil && f.Base == nil {
		return "none"
	}
	s := score(f.EnvScore)
	var parts []string
	if f.CVSSVersion != "" {
		parts = append(parts, "CVSS "+f.CVSSVersion)
	}
	if f.Base != nil {
		parts = append(parts, "base "+score(f.Base))
	}
	if f.Temporal != nil {
		parts = append(parts, "temporal "+score(f.Temporal))
	}
	if s == "" {
		s = score(f.Base)
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

func cveInlines(cves []string) []inline {
	var in []inline
	for i, c := range cves {
		if i > 0 {
			in = append(in, txt(", "))
		}
		in = append(in, link(c, "https://nvd.nist.gov/vuln/detail/"+c))
	}
	return in
}

func portText(f *finding.Finding) string {
	if f.Port == 0 {
		return "none"
	}
	s := strconv.Itoa(f.Port)
	if f.Protocol != "" {
		s += "/" + f.Protocol
	}
	return s
}

// kbBlocks are the KB's solution and threat, as text.
func kbBlocks(f *finding.Finding) doc {
	var d doc
	if in := htmlText(f.Solution); len(in) > 0 {
		d = append(d, heading(3, "Solution"), para(in...))
	}
	if in := htmlText(f.Diagnosis); len(in) > 0 {
		d = append(d, heading(3, "Threat"), para(in...))
	}
	return d
}

// truncate makes s one line of at most n UTF-16 units, marking a cut
// (a summary with a line break is a 400).
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if units(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && units(string(r))+1 > n {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// findingContent is the issue of one finding.
func (c *Config) findingContent(p *store.Published) (*content, error) {
	f := &p.Finding
	rows := []([]cell){
		row(cellText("Field"), cellText("Value")),
		row(cellText("Host"), cellText(hostName(f))),
		row(cellText("Qualys host ID"), cellText(strconv.FormatInt(f.HostID, 10))),
		row(cellText("Port"), cellText(portText(f))),
		row(cellText("QID"), cellText(strconv.Itoa(f.QID)+" "+titleOf(f))),
		row(cellText("Type"), cellText(orNone(f.Type))),
		row(cellText("Severity"), cellText(strconv.Itoa(f.Severity))),
		row(cellText("Rating"), cellText(orNone(f.VulnScore))),
		row(cellText("CVSS"), cellText(cvssText(f))),
	}
	if f.CVSSVector != "" {
		rows = append(rows, row(cellText("Vector"), cellOf(mono(f.CVSSVector))))
	}
	rows = append(rows,
		row(cellText("Priority"), cellText(priorityText(f))),
		row(cellText("Due date"), cellText(orNone(dueDate(f)))),
		row(cellText("Deadline"), cellText(orNone(f.BreachDate))),
		row(cellText("First found"), cellText(orNone(day(f.FirstFound)))),
	)
	rows = append(rows, riskRows(f, true)...)
	if f.Owner != "" {
		rows = append(rows, row(cellText("Owner"), cellText(f.Owner)))
	}
	if p.TimesReopened > 0 {
		rows = append(rows, row(cellText("Times reopened"), cellText(strconv.Itoa(p.TimesReopened))))
	}
	if len(p.Tags) > 0 {
		rows = append(rows, row(cellText("Tags"), cellText(strings.Join(p.Tags, ", "))))
	}
	d := doc{
		para(txt("qvt finding "), mono(f.Key), txt(". Full record: "), mono("qvt history "+f.Key)),
		table(rows...),
	}
	if len(f.CVEs) > 0 {
		d = append(d, para(append([]inline{bold("CVEs: ")}, cveInlines(f.CVEs)...)...))
	}
	d = append(d, kbBlocks(f)...)
	if strings.TrimSpace(f.Results) != "" {
		d = append(d, heading(3, "Results"), codeBlock(strings.ReplaceAll(f.Results, "\r\n", "\n")))
	}
	summary := titleOf(f) + " on " + orNone(firstNonEmpty(f.Hostname, f.IP))
	if f.Port != 0 {
		summary += ":" + strconv.Itoa(f.Port)
	}
	ct := &content{
		Summary:  truncate(summary, 255),
		Desc:     d,
		Priority: c.jiraPriority(f.Priority, f.VulnScore),
		Due:      dueDate(f),
		Labels:   c.labels(f.Key, p.Tags, f.KEV),
		Pointer:  "qvt history " + f.Key,
	}
	ct.setRoute(c.routeOf(f.Owner))
	var err error
	ct.Custom, err = c.customFields(fieldData(c.Grouping, f.Key, f, p.Tags, 1))
	return ct, err
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// sortMembers orders a group's findings most severe first, then by key.
func sortMembers(ms []*store.Row) {
	slices.SortStableFunc(ms, func(a, b *store.Row) int {
		if d := finding.RatingRank(b.VulnScore) - finding.RatingRank(a.VulnScore); d != 0 {
			return d
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// ownerFlag is the export flag that selects a group's owner ("" for
// none): the group holds only that owner's findings.
func ownerFlag(owner string) string {
	if owner == "" {
		return ""
	}
	return " --owner " + strconv.Quote(owner)
}

// groupContent is the issue of a QID or host group with its open
// findings (at least one).
func (c *Config) groupContent(item string, ms []*store.Row, tags []string) (*content, error) {
	sortMembers(ms)
	top := &ms[0].Finding // the highest rating
	// The most urgent priority, the earliest due date, and KEV if any
	// finding is.
	urgent, due, kev := top, "", false
	for _, m := range ms {
		f := &m.Finding
		if d := dueDate(f); d != "" && (due == "" || d < due) {
			due = d
		}
		if f.Priority != "" && (urgent.Priority == "" || f.Priority < urgent.Priority) {
			urgent = f
		}
		kev = kev || f.KEV
	}
	n := len(ms)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	var d doc
	var summary, pointer string
	if c.Grouping == ByQID {
		q := strconv.Itoa(top.QID)
		pointer = "qvt export --qid " + q + ownerFlag(top.Owner) + " --status open"
		summary = "QID " + q + ": " + titleOf(top)
		rows := [][]cell{
			row(cellText("Field"), cellText("Value")),
			row(cellText("QID"), cellText(q+" "+titleOf(top))),
			row(cellText("Severity"), cellText(strconv.Itoa(top.Severity))),
			row(cellText("Highest rating"), cellText(orNone(top.VulnScore))),
			row(cellText("CVSS"), cellText(cvssText(top))),
			row(cellText("Highest priority"), cellText(priorityText(urgent))),
			row(cellText("Earliest due date"), cellText(orNone(due))),
		}
		rows = append(rows, riskRows(top, false)...)
		if top.Owner != "" {
			rows = append(rows, row(cellText("Owner"), cellText(top.Owner)))
		}
		d = doc{
			para(txt(fmt.Sprintf("qvt issue for QID %s: %d open finding%s. Full list: ", q, n, plural)), mono(pointer)),
			table(rows...),
		}
		if len(top.CVEs) > 0 {
			d = append(d, para(append([]inline{bold("CVEs: ")}, cveInlines(top.CVEs)...)...))
		}
		d = append(d, kbBlocks(top)...)
		hosts := [][]cell{row(cellText("Finding"), cellText("Host"), cellText("Port"), cellText("Rating"), cellText("Priority"), cellText("Due date"), cellText("First found"))}
		for _, m := range ms {
			f := &m.Finding
			hosts = append(hosts, row(cellOf(mono(f.Key)), cellText(hostName(f)), cellText(portText(f)),
				cellText(orNone(f.VulnScore)), cellText(orNone(f.Priority)), cellText(orNone(dueDate(f))), cellText(orNone(day(f.FirstFound)))))
		}
		d = append(d, heading(3, "Open findings"), table(hosts...))
	} else {
		id := strconv.FormatInt(top.HostID, 10)
		pointer = "qvt export --host " + id + ownerFlag(top.Owner) + " --status open"
		summary = "Open vulnerabilities on " + hostName(top)
		rows := [][]cell{
			row(cellText("Field"), cellText("Value")),
			row(cellText("Host"), cellText(orNone(top.Hostname))),
			row(cellText("IP"), cellText(top.IP)),
			row(cellText("Qualys host ID"), cellText(id)),
			row(cellText("OS"), cellText(orNone(top.OS))),
			row(cellText("Highest rating"), cellText(orNone(top.VulnScore))),
			row(cellText("Highest priority"), cellText(priorityText(urgent))),
			row(cellText("Earliest due date"), cellText(orNone(due))),
		}
		if kev {
			n := 0
			for _, m := range ms {
				if m.KEV {
					n++
				}
			}
			rows = append(rows, row(cellText("KEV findings"), cellText(strconv.Itoa(n))))
		}
		if len(tags) > 0 {
			rows = append(rows, row(cellText("Tags"), cellText(strings.Join(tags, ", "))))
		}
		if top.Owner != "" {
			rows = append(rows, row(cellText("Owner"), cellText(top.Owner)))
		}
		d = doc{
			para(txt(fmt.Sprintf("qvt issue for host %s: %d open finding%s. Full list: ", hostName(top), n, plural)), mono(pointer)),
			table(rows...),
		}
		vulns := [][]cell{row(cellText("QID"), cellText("Title"), cellText("Port"), cellText("Rating"), cellText("Priority"), cellText("KEV"), cellText("CVSS"), cellText("Due date"), cellText("CVEs"))}
		for _, m := range ms {
			f := &m.Finding
			vulns = append(vulns, row(cellText(strconv.Itoa(f.QID)), cellText(titleOf(f)), cellText(portText(f)),
				cellText(orNone(f.VulnScore)), cellText(orNone(f.Priority)), cellText(map[bool]string{true: "yes", false: "no"}[f.KEV]),
				cellText(orNone(score(f.EnvScore))), cellText(orNone(dueDate(f))), cellOf(cveInlines(f.CVEs)...)))
		}
		d = append(d, heading(3, "Open findings"), table(vulns...))
	}
	ct := &content{
		Summary:  truncate(summary, 255),
		Desc:     d,
		Priority: c.jiraPriority(urgent.Priority, top.VulnScore),
		Due:      due,
		Labels:   c.labels(item, tags, kev),
		Pointer:  pointer,
	}
	_, owner := groupID(item)
	ct.setRoute(c.routeOf(owner))
	fd := fieldData(c.Grouping, item, top, tags, n)
	fd.Priority, fd.PriorityReason, fd.DueDate, fd.KEV = urgent.Priority, urgent.PriorityReason, due, kev
	var err error
	ct.Custom, err = c.customFields(fd)
	return ct, err
}
