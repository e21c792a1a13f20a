package exceptions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The exceptions file (qvt except export / import) is the active
// exceptions as a team reviews them in git: one entry per exception, in
// the order of their ids, each under a comment that tells what it covers
// today. Imported, the file is the whole truth: entries without an id are
// new exceptions, entries with one may change their expiry and reason,
// and an active exception the file lacks is revoked.

// Entry is one exception in the file.
type Entry struct {
	ID         string `yaml:"id,omitempty"` // EXC-12; none for a new exception
	Type       string `yaml:"type"`
	Scope      Scope  `yaml:"scope"`
	Reason     string `yaml:"reason"`
	Approver   string `yaml:"approver"`
	RecordedBy string `yaml:"recorded_by,omitempty"`
	RecordedAt string `yaml:"recorded_at,omitempty"` // RFC 3339, UTC
	Start      string `yaml:"start,omitempty"`
	Until      string `yaml:"until,omitempty"`
}

// file is the document: a mapping, so that more keys can come.
type file struct {
	Exceptions []Entry `yaml:"exceptions"`
}

// EntryOf is the file's entry of a stored exception.
func EntryOf(e Exception) Entry {
	en := Entry{ID: e.Name(), Type: e.Type, Scope: e.Scope, Reason: e.Reason, Approver: e.Approver,
		RecordedBy: e.RecordedBy, Start: e.Start, Until: e.Until}
	if e.Scope.Key != "" {
		en.Scope.QID = 0 // the key names it
	}
	if !e.RecordedAt.IsZero() {
		en.RecordedAt = e.RecordedAt.UTC().Format(time.RFC3339)
	}
	return en
}

// maxHostsShown is how many host ids a comment lists before it counts.
const maxHostsShown = 10

// comment is the line above an entry: what the exception covers today.
func comment(e Exception) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s covered", e.Name(), e.Covered, plural(e.Covered, "finding", "findings"))
	switch {
	case e.Scope.FutureHosts:
		b.WriteString(", on every host its scope selects, future hosts included")
	case len(e.Hosts) > 0:
		ids := make([]string, 0, maxHostsShown)
		for _, h := range e.Hosts[:min(len(e.Hosts), maxHostsShown)] {
			ids = append(ids, strconv.FormatInt(h, 10))
		}
		list := strings.Join(ids, ", ")
		if len(e.Hosts) > maxHostsShown {
			list += fmt.Sprintf(" and %d more", len(e.Hosts)-maxHostsShown)
		}
		fmt.Fprintf(&b, ", on %d %s (host ids %s)", len(e.Hosts), plural(len(e.Hosts), "host", "hosts"), list)
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Encode writes exceptions as the file: by id, whatever order they come
// in, each under its comment (Covered and Hosts filled by the caller).
func Encode(w io.Writer, list []Exception, today string) error {
	list = slices.Clone(list)
	slices.SortFunc(list, func(a, b Exception) int { return cmpInt64(a.ID, b.ID) })
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range list {
		var n yaml.Node
		if err := n.Encode(EntryOf(e)); err != nil {
			return fmt.Errorf("exceptions: %s: %w", e.Name(), err)
		}
		n.HeadComment = comment(e)
		seq.Content = append(seq.Content, &n)
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "exceptions"}, seq}}
	doc.HeadComment = fmt.Sprintf("qvt exceptions: the %d active as of %s.\n"+
		"Review changes here and apply them with: qvt except import FILE (--dry-run shows the diff).\n"+
		"An entry without an id is a new exception; only until and reason of an entry with an id may change;\n"+
		"an exception left out of the file is revoked.", len(list), today)
	if len(list) == 0 {
		seq.Style = yaml.FlowStyle // "exceptions: []"
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}}); err != nil {
		return fmt.Errorf("exceptions: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("exceptions: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MaxFileBytes bounds an exceptions file.
const MaxFileBytes = 16 << 20

var goType = regexp.MustCompile(` (in|into) (type )?\[?\]?[a-z]+\.[A-Za-z]+`)

// Decode reads a file; name is how errors call it. A key qvt does not
// know is an error, as in the configuration: a misspelt "untill" must
// not silently drop an expiry.
func Decode(r io.Reader, name string) ([]Entry, error) {
	// A file of a few thousand exceptions is a few megabytes: a larger
	// one is not an exceptions file, and is not read whole.
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MB: not an exceptions file", name, MaxFileBytes>>20)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty: an exceptions file has an exceptions: list (qvt except export writes one)", name)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem, without Go's type names.
			msgs := make([]string, len(te.Errors))
			for i, m := range te.Errors {
				msgs[i] = goType.ReplaceAllString(m, "")
			}
			return nil, fmt.Errorf("%s: %s", name, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return f.Exceptions, nil
}

// Change is one line of an import's diff.
type Change struct {
	Op     string // "add", "edit" or "revoke"
	Index  int    // the entry's index in the file (from 1); 0 for a revoke
	Entry  Entry  // add: the new exception's entry
	Old    Exception
	Until  string // edit: the new expiry, "" for unchanged
	Reason string // edit: the new reason, "" for unchanged
}

// String is the change as the diff shows it.
func (c Change) String() string {
	switch c.Op {
	case "add":
		s := fmt.Sprintf("+ add %s, %s, approved by %s", c.Entry.Type, c.Entry.Scope, c.Entry.Approver)
		if c.Entry.Until != "" {
			s += ", until " + c.Entry.Until
		}
		return s
	case "edit":
		var parts []string
		if c.Until != "" {
			parts = append(parts, "until "+orNone(c.Old.Until)+" → "+c.Until)
		}
		if c.Reason != "" {
			parts = append(parts, fmt.Sprintf("reason %q → %q", c.Old.Reason, c.Reason))
		}
		return "~ " + c.Old.Name() + " " + strings.Join(parts, ", ")
	case "revoke":
		return fmt.Sprintf("- revoke %s (%s, %s)", c.Old.Name(), c.Old.Type, c.Old.Scope)
	}
	return c.Op
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Diff compares a file's entries with the active exceptions and returns
// the changes that make the store hold what the file says, in file order
// then revokes by id. New entries are validated under policy p as of
// today (and completed: their start); an entry that names an exception
// not active, repeats one, or changes what only a new approval may
// change (type, scope, approver, start) is an error naming the file
// and the entry.
func Diff(active []Exception, entries []Entry, p Policy, today, name string) ([]Change, error) {
	byID := map[int64]Exception{}
	for _, e := range active {
		byID[e.ID] = e
	}
	seen := map[int64]bool{}
	var out []Change
	for i, en := range entries {
		at := fmt.Sprintf("%s: entry %d", name, i+1)
		if en.ID == "" {
			e := en.exception()
			if err := e.Validate(p, today); err != nil {
				return nil, fmt.Errorf("%s: %v", at, err)
			}
			en.Type, en.Scope, en.Start = e.Type, e.Scope, e.Start
			out = append(out, Change{Op: "add", Index: i + 1, Entry: en})
			continue
		}
		id, err := ParseName(en.ID)
		if err != nil {
			return nil, fmt.Errorf("%s: id: %v", at, err)
		}
		at = fmt.Sprintf("%s: entry %d (%s)", name, i+1, Name(id))
		if seen[id] {
			return nil, fmt.Errorf("%s: %s is in the file twice", at, Name(id))
		}
		seen[id] = true
		old, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("%s: no active exception %s (an ended one cannot come back: remove the id to record a new one)", at, Name(id))
		}
		if err := sameApproval(old, en); err != nil {
			return nil, fmt.Errorf("%s: %v", at, err)
		}
		c := Change{Op: "edit", Index: i + 1, Old: old}
		if en.Until != old.Until {
			if en.Until == "" {
				return nil, fmt.Errorf("%s: until: the expiry %s cannot be removed; record a new exception without one", at, old.Until)
			}
			if err := CheckUntil(en.Until, old.Start, today, p); err != nil {
				return nil, fmt.Errorf("%s: %v", at, err)
			}
			c.Until = en.Until
		}
		if r := strings.TrimSpace(en.Reason); r != strings.TrimSpace(old.Reason) {
			if r == "" {
				return nil, fmt.Errorf("%s: reason: an exception needs a reason", at)
			}
			c.Reason = en.Reason
		}
		if c.Until != "" || c.Reason != "" {
			out = append(out, c)
		}
	}
	rest := slices.Clone(active)
	slices.SortFunc(rest, func(a, b Exception) int { return cmpInt64(a.ID, b.ID) })
	for _, e := range rest {
		if !seen[e.ID] {
			out = append(out, Change{Op: "revoke", Old: e})
		}
	}
	return out, nil
}

func (en Entry) exception() *Exception {
	return &Exception{Type: en.Type, Scope: en.Scope, Reason: en.Reason, Approver: en.Approver,
		RecordedBy: en.RecordedBy, Start: en.Start, Until: en.Until}
}

// sameApproval refuses an entry that changes what was approved: its type,
// scope, approver or start. A wider scope needs a new approval, and so a
// new exception.
func sameApproval(old Exception, en Entry) error {
	t, err := ParseType(en.Type)
	if err != nil {
		return fmt.Errorf("type: %v", err)
	}
	if t != old.Type {
		return fmt.Errorf("type: %s → %s: the type of an exception never changes; revoke it and record a new one", old.Type, t)
	}
	sc := en.Scope
	if err := sc.normalize(); err != nil {
		return err
	}
	if !sameScope(old.Scope, sc) {
		return fmt.Errorf("scope: %s → %s: the scope of an exception never changes; revoke it and record a new one", old.Scope, sc)
	}
	if strings.TrimSpace(en.Approver) != strings.TrimSpace(old.Approver) {
		return fmt.Errorf("approver: %s → %s: an approval never changes; revoke it and record a new exception", old.Approver, en.Approver)
	}
	if en.Start != "" && en.Start != old.Start {
		return fmt.Errorf("start: %s → %s: the start of an exception never changes", old.Start, en.Start)
	}
	return nil
}

func sameScope(a, b Scope) bool {
	port := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	if a.Key != "" || b.Key != "" {
		return a.Key == b.Key
	}
	return a.QID == b.QID && port(a.Port) == port(b.Port) && strings.TrimSpace(a.Host) == strings.TrimSpace(b.Host) &&
		strings.TrimSpace(a.Tag) == strings.TrimSpace(b.Tag) && strings.TrimSpace(a.CIDR) == strings.TrimSpace(b.CIDR) &&
		a.FutureHosts == b.FutureHosts
}
