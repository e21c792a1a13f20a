package notify

import (
	"cmp"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"qvt/internal/runs"
)

// The kinds of message.
const (
	KindRun      = "run"      // what a run changed
	KindExpiring = "expiring" // exceptions about to expire
	KindTest     = "test"     // qvt notify --test
)

// Message is what one notification tells, whatever the channel: the
// renderers turn it into Slack blocks, an Adaptive Card, the webhook's
// JSON or an e-mail.
type Message struct {
	Kind     string
	At       time.Time    // when it was made
	Owner    string       // the owner it is for; "" for everyone's summary
	Run      *runs.Report // KindRun: the run (its Changes are everyone's)
	Changes  runs.Changes // KindRun: what it changed, the owner's own for an owner
	Expiring []Expiring   // KindExpiring
	WarnDays int          // KindExpiring: the window they expire in
	BaseURL  string       // web.public_url, no trailing slash; "" for no links
}

// Expiring is an active exception whose last day is near.
type Expiring struct {
	Name    string `json:"exception"` // EXC-12
	Until   string `json:"until"`     // its last day, YYYY-MM-DD
	Covered int    `json:"covered"`   // the findings it covers now
	Reason  string `json:"reason,omitempty"`
}

// RunMessage is the summary of a run for everyone.
func RunMessage(r runs.Report, baseURL string) Message {
	return Message{Kind: KindRun, At: r.Finished, Run: &r, Changes: r.Changes, BaseURL: trimBase(baseURL)}
}

// OwnerMessage is the summary of a run for one owner: the changes in its
// findings, and the run's failures (a failed sync concerns everyone).
func OwnerMessage(r runs.Report, owner string, c runs.Changes, baseURL string) Message {
	m := RunMessage(r, baseURL)
	m.Owner, m.Changes = owner, c
	return m
}

// ExpiringMessage tells which exceptions expire within warnDays.
func ExpiringMessage(list []Expiring, warnDays int, at time.Time, baseURL string) Message {
	return Message{Kind: KindExpiring, At: at, Expiring: list, WarnDays: warnDays, BaseURL: trimBase(baseURL)}
}

// TestMessage is qvt notify --test's message.
func TestMessage(at time.Time, baseURL string) Message {
	return Message{Kind: KindTest, At: at, BaseURL: trimBase(baseURL)}
}

func trimBase(u string) string { return strings.TrimRight(strings.TrimSpace(u), "/") }

// Empty tells a run message that has nothing to tell: a run that
// succeeded and changed nothing is not worth a message.
func (m Message) Empty() bool {
	switch m.Kind {
	case KindRun:
		return m.Run != nil && m.Run.OK() && len(failures(m)) == 0 && changeCount(m.Changes) == 0
	case KindExpiring:
		return len(m.Expiring) == 0
	}
	return false
}

func changeCount(c runs.Changes) int {
	n := c.NewKEV + c.Fixed + c.Reopened + c.NewlyOverdue
	for _, v := range c.New {
		n += v
	}
	return n
}

// Fact is one line of a message: a label, a value and where the
// dashboard shows what it counts ("" without public_url).
type Fact struct {
	Label string
	Value string
	URL   string
}

// Failure is a failed phase of a run.
type Failure struct {
	Phase string `json:"phase"`
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"`
}

func failures(m Message) []Failure {
	if m.Run == nil {
		return nil
	}
	var out []Failure
	for _, p := range m.Run.Phases {
		if p.Err != "" {
			out = append(out, Failure{Phase: p.Name, Error: p.Err, Kind: p.ErrKind})
		}
	}
	if len(out) == 0 && m.Run.Err != "" {
		out = append(out, Failure{Phase: "run", Error: m.Run.Err})
	}
	return out
}

// newOrder is the order of the new-finding counts: priorities, then
// ratings, then anything else by name.
var newOrder = []string{"P1", "P2", "P3", "P4", "Critical", "High", "Medium", "Low", "None"}

func newKeys(c runs.Changes) []string {
	return slices.SortedFunc(maps.Keys(c.New), func(a, b string) int {
		ia, ib := slices.Index(newOrder, a), slices.Index(newOrder, b)
		if ia < 0 {
			ia = len(newOrder)
		}
		if ib < 0 {
			ib = len(newOrder)
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
	})
}

// link is the dashboard's address of path with the query, restricted to
// the message's owner; "" without a base URL.
func (m Message) link(path string, q url.Values) string {
	if m.BaseURL == "" {
		return ""
	}
	if m.Owner != "" && path == "/findings" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("owner", m.Owner)
	}
	if len(q) > 0 {
		return m.BaseURL + path + "?" + q.Encode()
	}
	return m.BaseURL + path
}

// URL is the message's link into the dashboard: the findings (the
// owner's), the exceptions, or the overview.
func (m Message) URL() string {
	switch m.Kind {
	case KindRun:
		return m.link("/findings", nil)
	case KindExpiring:
		return m.link("/exceptions", nil)
	}
	return m.link("/", nil)
}

// Title is the message's headline.
func (m Message) Title() string {
	switch m.Kind {
	case KindRun:
		t := "qvt run " + m.Run.Status
		if m.Run.Status == "" {
			t = "qvt run"
		}
		if m.Owner != "" {
			t += " — " + m.Owner
		}
		return t
	case KindExpiring:
		verb := "expire"
		if len(m.Expiring) == 1 {
			verb = "expires"
		}
		return fmt.Sprintf("qvt: %s %s within %d days", plural(len(m.Expiring), "exception"), verb, m.WarnDays)
	}
	return "qvt: test notification"
}

// Summary is the message in one line: the notification text of Slack
// and Teams, the first line of the e-mail.
func (m Message) Summary() string {
	switch m.Kind {
	case KindRun:
		var parts []string
		c := m.Changes
		total := 0
		var by []string
		for _, k := range newKeys(c) {
			total += c.New[k]
			by = append(by, fmt.Sprintf("%d %s", c.New[k], k))
		}
		s := fmt.Sprintf("%d new", total)
		if len(by) > 0 {
			s += " (" + strings.Join(by, ", ") + ")"
		}
		parts = append(parts, s)
		if c.NewKEV > 0 {
			parts = append(parts, fmt.Sprintf("%d new on KEV", c.NewKEV))
		}
		parts = append(parts, fmt.Sprintf("%d fixed", c.Fixed), fmt.Sprintf("%d reopened", c.Reopened),
			fmt.Sprintf("%d newly overdue", c.NewlyOverdue))
		if f := failures(m); len(f) > 0 {
			parts = append(parts, plural(len(f), "failure"))
		}
		return m.Title() + ": " + strings.Join(parts, ", ")
	case KindExpiring:
		var names []string
		for _, e := range m.Expiring {
			names = append(names, e.Name+" ("+e.Until+")")
		}
		return m.Title() + ": " + strings.Join(names, ", ")
	}
	return "qvt can reach this channel."
}

// Facts are the message's lines, each with its dashboard link.
func (m Message) Facts() []Fact {
	var out []Fact
	switch m.Kind {
	case KindRun:
		r := m.Run
		out = append(out, Fact{Label: "Run", Value: fmt.Sprintf("%s, %s, %s", r.RunID, r.Trigger, r.Started.UTC().Format("2006-01-02 15:04 MST"))})
		c := m.Changes
		for _, k := range newKeys(c) {
			q := url.Values{}
			if slices.Contains(newOrder[:4], k) {
				q.Set("priority", k)
			} else {
				q.Set("rating", k)
			}
			out = append(out, Fact{Label: "New " + k, Value: fmt.Sprint(c.New[k]), URL: m.link("/findings", q)})
		}
		if len(c.New) == 0 {
			out = append(out, Fact{Label: "New", Value: "0"})
		}
		if c.NewKEV > 0 {
			out = append(out, Fact{Label: "New on KEV", Value: fmt.Sprint(c.NewKEV), URL: m.link("/findings", url.Values{"kev": {"1"}})})
		}
		out = append(out,
			Fact{Label: "Fixed", Value: fmt.Sprint(c.Fixed), URL: m.link("/findings", url.Values{"status": {"fixed"}})},
			Fact{Label: "Reopened", Value: fmt.Sprint(c.Reopened), URL: m.link("/findings", url.Values{"status": {"Re-Opened"}})},
			Fact{Label: "Newly overdue", Value: fmt.Sprint(c.NewlyOverdue), URL: m.link("/findings", url.Values{"due": {"overdue"}})})
		for _, f := range failures(m) {
			out = append(out, Fact{Label: "Failed: " + f.Phase, Value: f.Error})
		}
	case KindExpiring:
		for _, e := range m.Expiring {
			v := fmt.Sprintf("last day %s, %s", e.Until, plural(e.Covered, "finding"))
			if e.Reason != "" {
				v += ": " + e.Reason
			}
			out = append(out, Fact{Label: e.Name, Value: v})
		}
	default:
		out = append(out, Fact{Label: "Sent", Value: m.At.UTC().Format(time.RFC3339)})
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
