package jira

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/finding"
	"qvt/internal/store"
)

// Kind is what an action does.
type Kind string

// Action kinds.
const (
	Create  Kind = "create"
	Update  Kind = "update"
	Close   Kind = "close"
	Reopen  Kind = "reopen"
	Comment Kind = "comment"
)

// Mapping states: what qvt last made of an item's issue.
const (
	StateOpen    = "open"
	StateClosed  = "closed"
	StatePending = "pending" // a create was sent; its answer not yet recorded
)

// Action is one step of a plan.
type Action struct {
	Kind    Kind
	Item    string   // the mapping item: finding key, qid:<n>, host:<id>
	Label   string   // the item's dedupe label
	Issue   string   // the issue acted on; "" for a create
	LinkTo  string   // create: a closed issue the new one is linked to (reopen as a new issue)
	Content *content // create, update: what the issue shows
	Comment []string // a comment: its first line, then one line per change
	Rank    int      // how urgent the item is (rank), for ordering: higher first
}

// Summary is the issue summary an action shows in a dry run.
func (a *Action) Summary() string {
	if a.Content != nil {
		return a.Content.Summary
	}
	if len(a.Comment) > 0 {
		return a.Comment[0]
	}
	return ""
}

// Plan is what a run does.
type Plan struct {
	Actions   []Action
	Unchanged int // items looked at that need nothing
	Skipped   int // findings that need no issue: closed or below min_rating, never published
}

// Counts are what a plan does, by kind.
func (p *Plan) Count(k Kind) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// Input is what planning reads.
type Input struct {
	// Changed are the findings changed since the last publish.
	Changed []*store.Published
	// Members are, for the QID and host groupings, the open findings
	// at or above MinRating of each group a changed finding belongs to.
	Members map[string][]*store.Row
	// Mappings are the issues already published, by item.
	Mappings map[string]store.Mapping
	// History are the changes recorded since the last publish.
	History []store.HistoryRow
	// SeenBefore is the newest data time the last publish saw: a changed
	// finding first seen after it is new to the group's issue.
	SeenBefore int64
}

// Plan turns what changed into actions. It is pure: it reads only its
// input. Rules:
//
//   - An item is in scope when it has open findings at or above
//     MinRating (for a finding: it is open and so rated).
//   - No issue yet: create one if in scope; otherwise nothing (closing
//     acts on existing issues only).
//   - Open issue, in scope: update it when what it shows changed (a
//     comment lists the recorded changes), else comment if changes were
//     recorded, else nothing.
//   - Open issue, out of scope: close it, with a comment saying why
//     (fixed, gone, ignored, disabled, or below MinRating); for a
//     finding, its description is brought up to date first.
//   - Closed issue, in scope again: reopen it (then update it), or, with
//     ReopenAsNewIssue, create a new issue linked to it.
//   - Closed issue, still out of scope: nothing; qvt never touches an
//     issue it closed until the finding comes back, and never reopens
//     an issue someone else closed while its finding stayed open.
func (c *Config) Plan(in Input) (*Plan, error) {
	hist := map[string][]store.HistoryRow{}
	for _, h := range in.History {
		it := historyItem(c.Grouping, h)
		hist[it] = append(hist[it], h)
	}
	p := &Plan{}
	if c.Grouping == ByFinding {
		changed := slices.Clone(in.Changed)
		slices.SortFunc(changed, func(a, b *store.Published) int { return strings.Compare(a.Key, b.Key) })
		for _, f := range changed {
			lines := c.historyLines(hist[f.Key], false)
			var ct *content
			m, mapped := in.Mappings[f.Key]
			if mapped || c.inScope(f) {
				var err error
				if ct, err = c.findingContent(f); err != nil {
					return nil, err
				}
			}
			c.decide(p, decision{
				item: f.Key, inScope: c.inScope(f), mapped: mapped, m: m, content: ct, lines: lines,
				rank:   urgency(f.Priority, f.VulnScore),
				close:  closeLine(c, f),
				reopen: reopenLine(f),
			})
		}
	} else {
		groups := map[string][]*store.Published{}
		for _, f := range in.Changed {
			it := itemOf(c.Grouping, &f.Finding)
			groups[it] = append(groups[it], f)
		}
		items := make([]string, 0, len(groups))
		for it := range groups {
			items = append(items, it)
		}
		slices.Sort(items)
		for _, it := range items {
			ms := slices.Clone(in.Members[it])
			var tags []string
			if c.Grouping == ByHost {
				tags = groups[it][0].Tags
			}
			lines := c.historyLines(hist[it], true)
			// Findings new to the group have no history: say so.
			keys := map[string]bool{}
			for _, h := range hist[it] {
				keys[h.Key] = true
			}
			var added []string
			for _, f := range groups[it] {
				if c.inScope(f) && f.FirstSeen > in.SeenBefore && !keys[f.Key] {
					added = append(added, fmt.Sprintf("%s: new finding (%s)", f.Key, orNone(f.VulnScore)))
				}
			}
			slices.Sort(added)
			lines = append(added, lines...)
			m, mapped := in.Mappings[it]
			var ct *content
			rank := -1
			if len(ms) > 0 {
				var err error
				if ct, err = c.groupContent(it, ms, tags); err != nil {
					return nil, err
				}
				top := ms[0].Priority // sorted by rating: the most urgent may be another
				for _, m := range ms {
					if m.Priority != "" && (top == "" || m.Priority < top) {
						top = m.Priority
					}
				}
				rank = urgency(top, ms[0].VulnScore)
			}
			n := len(ms)
			c.decide(p, decision{
				item: it, inScope: n > 0, mapped: mapped, m: m, content: ct, lines: lines, rank: rank,
				close:  groupCloseLine(c),
				reopen: fmt.Sprintf("qvt: reopened: %d open finding%s again.", n, plural(n)),
			})
		}
	}
	// Most urgent items first (priority, then rating), so a flood guard
	// keeps what matters.
	slices.SortStableFunc(p.Actions, func(a, b Action) int { return b.Rank - a.Rank })
	return p, nil
}

// urgency orders items most urgent first (docs/priority.md): by priority
// (P1 first, none last), then by rating. Without priorities it is the
// rating's rank.
func urgency(priority, rating string) int {
	p := len(finding.Priorities) - slices.Index(finding.Priorities, priority)
	if p > len(finding.Priorities) { // not a priority: Index is -1
		p = 0
	}
	return p*len(finding.Ratings) + finding.RatingRank(rating)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

type decision struct {
	item          string
	inScope       bool
	mapped        bool
	m             store.Mapping
	content       *content
	lines         []string
	rank          int
	close, reopen string
}

func (c *Config) decide(p *Plan, d decision) {
	label := DedupeLabel(d.item)
	add := func(k Kind, comment []string) {
		a := Action{Kind: k, Item: d.item, Label: label, Issue: d.m.Remote, Rank: d.rank, Comment: comment}
		if k == Create || k == Update {
			a.Content = d.content
		}
		if k == Create {
			a.Issue = ""
		}
		p.Actions = append(p.Actions, a)
	}
	withLines := func(first string) []string {
		return append([]string{first}, d.lines...)
	}
	changed := d.content != nil && d.content.hash() != d.m.Hash
	switch {
	case !d.mapped:
		if d.inScope {
			add(Create, nil)
		} else {
			p.Skipped++
		}
	case d.m.State == StateClosed:
		switch {
		case !d.inScope:
			p.Unchanged++
		case c.ReopenAsNewIssue:
			add(Create, nil)
			p.Actions[len(p.Actions)-1].LinkTo = d.m.Remote
		default:
			add(Reopen, withLines(d.reopen))
			if changed {
				add(Update, nil)
			}
		}
	default: // open
		switch {
		case !d.inScope:
			if changed {
				add(Update, nil)
			}
			add(Close, withLines(d.close))
		case changed && len(d.lines) > 0:
			add(Update, withLines("qvt: updated."))
		case changed:
			add(Update, nil)
		case len(d.lines) > 0:
			add(Comment, withLines("qvt: changes recorded."))
		default:
			p.Unchanged++
		}
	}
}

// closeLine says why a finding's issue closes.
func closeLine(c *Config, f *store.Published) string {
	switch f.Closed {
	case "fixed":
		s := "qvt: fixed: Qualys reports the detection Fixed"
		if d := day(f.LastFixed); d != "" {
			s += " (last fixed " + d + ")"
		}
		return s + "."
	case "gone":
		return "qvt: closed as gone: the host was scanned again and Qualys no longer reports the detection."
	case "ignored":
		return "qvt: closed: the detection is ignored in Qualys."
	case "disabled":
		return "qvt: closed: the QID is disabled in Qualys."
	case "":
		return fmt.Sprintf("qvt: closed: its rating %s is below the publishing threshold (min_rating %s).", orNone(f.VulnScore), c.MinRating)
	}
	return "qvt: closed: " + f.Closed + "."
}

func groupCloseLine(c *Config) string {
	if c.MinRating != "" {
		return fmt.Sprintf("qvt: closed: none of its findings is open at or above %s any more.", c.MinRating)
	}
	return "qvt: closed: all its findings are closed."
}

// reopenLine says why a finding's issue reopens.
func reopenLine(f *store.Published) string {
	if f.Status == "Re-Opened" {
		s := "qvt: reopened: Qualys reports the detection again (Re-Opened"
		if f.TimesReopened > 0 {
			s += ", " + strconv.Itoa(f.TimesReopened) + " times"
		}
		return s + ")."
	}
	return "qvt: reopened: the finding is open again (" + f.Status + ", rating " + orNone(f.VulnScore) + ")."
}

// historyLines describes recorded changes, one line each; New → Active
// (every finding's second scan) is not news.
func (c *Config) historyLines(rows []store.HistoryRow, withKey bool) []string {
	var out []string
	for _, h := range rows {
		var s string
		switch h.Event {
		case "status":
			if h.Old == "New" && h.New == "Active" {
				continue
			}
			s = "Qualys status " + orNone(h.Old) + " → " + orNone(h.New)
		case "closed":
			if h.New == "" {
				s = "open again (was closed: " + h.Old + ")"
			} else {
				s = "closed: " + h.New
			}
		case "rating":
			s = "rating " + orNone(h.Old) + " → " + orNone(h.New)
		case "deadline":
			s = "deadline " + orNone(h.Old) + " → " + orNone(h.New)
		case "priority":
			s = "priority " + orNone(h.Old) + " → " + orNone(h.New) + causeOf(h)
		case "due":
			s = "due date " + orNone(h.Old) + " → " + orNone(h.New) + causeOf(h)
		default:
			s = h.Event + " " + orNone(h.Old) + " → " + orNone(h.New)
		}
		if h.At > 0 {
			s = time.Unix(h.At, 0).UTC().Format("2006-01-02") + ": " + s
		}
		if withKey {
			s = h.Key + ": " + s
		}
		out = append(out, s)
	}
	return out
}

// causeOf is a change's cause in parentheses ("added to KEV 2025-03-01").
func causeOf(h store.HistoryRow) string {
	if h.Cause == "" {
		return ""
	}
	return " (" + h.Cause + ")"
}

// commentDoc is a comment's rich text: its first line, then a list.
func commentDoc(lines []string) doc {
	if len(lines) == 0 {
		return nil
	}
	d := doc{para(txt(lines[0]))}
	if len(lines) > 1 {
		var items [][]inline
		for _, l := range lines[1:] {
			items = append(items, []inline{txt(l)})
		}
		d = append(d, list(items...))
	}
	return d
}
