package jira

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/exceptions"
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
	// Except resolves the issue of excepted findings, with the
	// exception's resolution and a comment naming the exception.
	Except Kind = "except"
)

// Mapping states: what qvt last made of an item's issue.
const (
	StateOpen    = "open"
	StateClosed  = "closed"
	StatePending = "pending" // a create was sent; its answer not yet recorded
	// StateExcepted: resolved because its findings are excepted; it is
	// reopened when the exception ends and the finding is still open.
	StateExcepted = "excepted"
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
	// OwnerFrom is the owner the issue had when the owner changed (an
	// update then edits assignee and component; a create with LinkTo
	// moves the issue to the new owner's project). OwnerChanged tells
	// that it did ("" is an owner too: none).
	OwnerFrom    string
	OwnerChanged bool
	from         sentRoute // the route the issue was last sent with
	// Move: a create that moves the issue LinkTo to another project
	// (move_between_projects): the old issue is closed after.
	Move bool
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
	// Exceptions are the exceptions the changed findings name, by name
	// (EXC-12), for the comments; one missing is named without details.
	Exceptions map[string]exceptions.Exception
}

// ownerItems maps history rows to items. A row's finding is in the
// group of its owner (known from the changed findings and the groups'
// members; "" otherwise); a change of owner also concerns the old
// owner's group, which lost the finding: extra lists those.
func (c *Config) historyItems(in Input) (map[string][]store.HistoryRow, []string) {
	owner := map[string]string{}
	for _, f := range in.Changed {
		owner[f.Key] = f.Owner
	}
	for _, ms := range in.Members {
		for _, m := range ms {
			owner[m.Key] = m.Owner
		}
	}
	hist := map[string][]store.HistoryRow{}
	var extra []string
	for _, h := range in.History {
		it := groupItem(c.Grouping, h.Key, h.QID, h.HostID, owner[h.Key])
		hist[it] = append(hist[it], h)
		if h.Event == "owner" && c.Grouping != ByFinding {
			old := groupItem(c.Grouping, h.Key, h.QID, h.HostID, h.Old)
			if old != it {
				hist[old] = append(hist[old], h)
				extra = append(extra, old)
			}
		}
	}
	return hist, extra
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
//   - Excepted (for a group: every open finding excepted): no issue is
//     created; an open issue is resolved (Except) with a comment naming
//     the exception, and reopened with a comment when the exception
//     expires or is revoked and the finding is still open. Fixed while
//     excepted, it closes as before.
//   - A change of owner (finding grouping) edits assignee and component
//     in place, or, to another project, moves the issue (a create
//     linked to it, move_between_projects) or comments on it; groups are
//     within one owner, so a finding changing owner changes groups.
func (c *Config) Plan(in Input) (*Plan, error) {
	hist, extra := c.historyItems(in)
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
			reopen := reopenLine(f)
			if l := exceptionEndLine(hist[f.Key]); l != "" {
				reopen = l
			} else if mapped && m.State == StateExcepted {
				reopen = "qvt: reopened: the finding is no longer excepted: it is back."
			}
			c.decide(p, decision{
				item: f.Key, inScope: c.inScope(f), excepted: f.Excepted, mapped: mapped, m: m, content: ct, lines: lines,
				rank:   urgency(f.Priority, f.VulnScore),
				close:  closeLine(c, f),
				reopen: reopen,
				except: exceptLine(f.Exception, f.ExceptedUntil, in.Exceptions),
			})
		}
	} else {
		groups := map[string][]*store.Published{}
		for _, f := range in.Changed {
			it := itemOf(c.Grouping, &f.Finding)
			groups[it] = append(groups[it], f)
		}
		for _, it := range extra { // groups that lost a finding to another owner
			if _, ok := groups[it]; !ok {
				groups[it] = nil
			}
		}
		items := make([]string, 0, len(groups))
		for it := range groups {
			items = append(items, it)
		}
		slices.Sort(items)
		for _, it := range items {
			ms := slices.Clone(in.Members[it])
			var tags []string
			if c.Grouping == ByHost && len(groups[it]) > 0 {
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
			// Resolved as excepted only when every open finding is.
			excepted := n > 0
			var why []string
			for _, m := range ms {
				if !m.Excepted {
					excepted = false
					break
				}
				if l := exceptLine(m.Exception, m.ExceptedUntil, in.Exceptions); !slices.Contains(why, l) {
					why = append(why, l)
				}
			}
			slices.Sort(why)
			except := ""
			if excepted {
				except = fmt.Sprintf("All %d open finding%s excepted: %s", n, plural(n), strings.Join(why, "; "))
				if len(why) == 1 {
					except = why[0]
				}
			}
			reopen := fmt.Sprintf("qvt: reopened: %d open finding%s again.", n, plural(n))
			if m.State == StateExcepted {
				reopen = fmt.Sprintf("qvt: reopened: not every one of its %d open finding%s is excepted any more.", n, plural(n))
			}
			closeWhy := groupCloseLine(c)
			for _, h := range hist[it] {
				if h.Event == "owner" && n == 0 {
					closeWhy = "qvt: closed: its open findings went to another owner's issue."
				}
			}
			c.decide(p, decision{
				item: it, inScope: n > 0, excepted: excepted, mapped: mapped, m: m, content: ct, lines: lines, rank: rank,
				close:  closeWhy,
				reopen: reopen,
				except: except,
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
	inScope       bool // open and rated: tracked
	excepted      bool // in scope, and excepted (for a group: all its findings)
	mapped        bool
	m             store.Mapping
	content       *content
	lines         []string
	rank          int
	close, reopen string
	except        string // the first line of the comment resolving it as excepted
}

func (c *Config) decide(p *Plan, d decision) {
	label := DedupeLabel(d.item)
	add := func(k Kind, comment []string) *Action {
		a := Action{Kind: k, Item: d.item, Label: label, Issue: d.m.Remote, Rank: d.rank, Comment: comment}
		if k == Create || k == Update {
			a.Content = d.content
		}
		if k == Create {
			a.Issue = ""
		}
		p.Actions = append(p.Actions, a)
		return &p.Actions[len(p.Actions)-1]
	}
	withLines := func(first string) []string {
		return append([]string{first}, d.lines...)
	}
	changed := d.content != nil && mapHash(d.content) != d.m.Hash
	work := d.inScope && !d.excepted
	switch {
	case !d.mapped:
		if work {
			add(Create, nil)
		} else {
			p.Skipped++
		}
	case d.m.State == StateClosed || d.m.State == StateExcepted:
		switch {
		case work && c.ReopenAsNewIssue:
			add(Create, nil).LinkTo = d.m.Remote
		case work:
			add(Reopen, withLines(d.reopen))
			if changed {
				c.update(add, d, nil)
			}
		case d.m.State == StateExcepted && !d.inScope:
			// Fixed (or gone) while excepted: it closes as before; the
			// issue is already resolved.
			add(Close, withLines(d.close))
		case d.m.State == StateExcepted && len(d.lines) > 0:
			add(Comment, withLines("qvt: changes recorded."))
		default:
			p.Unchanged++
		}
	default: // open
		switch {
		case !d.inScope:
			if changed {
				c.update(add, d, nil)
			}
			add(Close, withLines(d.close))
		case d.excepted:
			if changed {
				c.update(add, d, nil)
			}
			add(Except, withLines(d.except))
		case changed && len(d.lines) > 0:
			c.update(add, d, withLines("qvt: updated."))
		case changed:
			c.update(add, d, nil)
		case len(d.lines) > 0:
			add(Comment, withLines("qvt: changes recorded."))
		default:
			p.Unchanged++
		}
	}
}

// update plans the update of an open issue whose content changed. When
// its owner changed too, the update edits assignee and component, or,
// when the new owner's project is another, the issue moves there
// (move_between_projects) or stays with a comment and the label
// qvt-owner-changed.
func (c *Config) update(add func(Kind, []string) *Action, d decision, comment []string) {
	sent := hashRoute(d.m.Hash)
	from := sent.Owner
	if from == d.content.Owner || c.Grouping != ByFinding {
		add(Update, comment)
		return
	}
	if issueProject(d.m.Remote) != d.content.Project && c.MoveBetweenProjects {
		a := add(Create, []string{fmt.Sprintf("qvt: moved to project %s: owner changed from %s to %s.", d.content.Project, orNone(from), orNone(d.content.Owner))})
		a.LinkTo, a.Move, a.OwnerFrom, a.OwnerChanged = d.m.Remote, true, from, true
		return
	}
	a := add(Update, comment)
	a.OwnerFrom, a.OwnerChanged, a.from = from, true, sent
	if issueProject(d.m.Remote) != d.content.Project {
		line := fmt.Sprintf("Owner changed from %s to %s (project %s)", orNone(from), orNone(d.content.Owner), d.content.Project)
		if len(a.Comment) == 0 {
			a.Comment = []string{"qvt: " + line + "."}
		} else {
			a.Comment = append(a.Comment, line)
		}
	}
}

// issueProject is the project key of an issue key (SEC of SEC-12).
func issueProject(key string) string {
	if i := strings.LastIndexByte(key, '-'); i > 0 {
		return key[:i]
	}
	return key
}

// exceptLine is the comment line naming the exception of an excepted
// finding: "Excepted by EXC-12 (risk_accepted, approved by
// ciso@corp.example) until 2027-03-31: <reason>".
func exceptLine(name, until string, known map[string]exceptions.Exception) string {
	if name == "" {
		name = "an exception"
	}
	s := "Excepted by " + name
	e, ok := known[name]
	if ok {
		s += " (" + e.Type + ", approved by " + orNone(e.Approver) + ")"
		if until == "" {
			until = e.Until
		}
	}
	if until != "" && until != store.NoExpiry {
		s += " until " + until
	} else {
		s += " without expiry"
	}
	if ok && strings.TrimSpace(e.Reason) != "" {
		s += ": " + strings.Join(strings.Fields(e.Reason), " ")
	}
	return s
}

// exceptionEndLine is the reopen line of a finding whose exception
// ended, from the history's last exception event ("" when there is
// none, or it did not end one).
func exceptionEndLine(rows []store.HistoryRow) string {
	for i := len(rows) - 1; i >= 0; i-- {
		h := rows[i]
		if h.Event != "exception" {
			continue
		}
		if h.New != "" || h.Old == "" {
			return ""
		}
		switch {
		case strings.HasPrefix(h.Cause, "expired"):
			s := "qvt: reopened: " + h.Old + " expired: the finding is back"
			if d := strings.TrimSpace(strings.TrimPrefix(h.Cause, "expired")); d != "" {
				s += " (the exception covered it until " + d + ")"
			}
			return s + "."
		case h.Cause == "revoked":
			return "qvt: reopened: " + h.Old + " was revoked: the finding is back."
		}
		return "qvt: reopened: " + h.Old + " no longer covers the finding (" + orNone(h.Cause) + "): it is back."
	}
	return ""
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
		case "owner":
			s = "owner " + orNone(h.Old) + " → " + orNone(h.New)
		case "exception":
			s = "exception " + orNone(h.Old) + " → " + orNone(h.New) + causeOf(h)
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
