// Package jira publishes findings to Jira issues: Cloud (REST v3, ADF
// descriptions, /search/jql) and Data Center (REST v2, wiki markup,
// /search with startAt), one issue per finding, per QID or per host.
//
// The local mapping table (item → issue key, state, content hash) is the
// source of truth. Every issue carries the label "qvt" and a dedupe label
// derived from its item; when mappings are lost they are rebuilt from
// the labels, and before any create the item's label is searched, so a
// run that crashed between creating issues and recording them is
// repaired, not duplicated. Creates are recorded as pending before they
// are sent and never retried blindly.
//
// Issues are routed by the finding's owner (owners: rules): created in
// the owner's project with its assignee, component and labels; grouped
// issues group within one owner. The issue of an excepted finding is
// resolved with exceptions.resolution while the exception lasts.
package jira

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"qvt/internal/exceptions"
	"qvt/internal/publish"
	"qvt/internal/publish/atlassian"
	"qvt/internal/store"
)

// TargetName is the target's name in --to and in the store.
const TargetName = "jira"

// Target publishes to Jira.
type Target struct {
	cfg    Config
	client *atlassian.Client
	api    *api
	ready  bool
}

// Option tunes a Target (tests, mostly).
type Option func(*Target)

// WithHTTPClient sends requests with h.
func WithHTTPClient(h *http.Client) Option { return func(t *Target) { t.client.HTTP = h } }

// WithSleep replaces the wait between retries.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(t *Target) { t.client.Sleep = f }
}

// WithRetryBudget sets the most attempts and the longest total wait of
// one request.
func WithRetryBudget(attempts int, wait time.Duration) Option {
	return func(t *Target) { t.client.MaxAttempts, t.client.MaxWait = attempts, wait }
}

// New checks cfg and returns a target. Nothing is sent until Publish.
func New(cfg Config, opts ...Option) (*Target, error) {
	cfg.Labels = slices.Clone(cfg.Labels)
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("jira: %w", err)
	}
	t := &Target{cfg: cfg}
	t.client = &atlassian.Client{
		Base: cfg.URL, User: cfg.User, Token: cfg.Token, Product: "jira",
		Hints: map[int]string{
			401: "Check JIRA_USER and JIRA_TOKEN: Cloud takes the account's e-mail and an API token, Data Center a personal access token with JIRA_USER empty",
			403: "The account lacks a permission qvt needs in project " + cfg.Project + " (browse, create, edit, transition, comment)",
			404: "Check JIRA_URL: the site's base URL, e.g. https://example.atlassian.net",
		},
	}
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// Name is "jira".
func (t *Target) Name() string { return TargetName }

// Config is the target's configuration, defaults filled in (the token
// redacted).
func (t *Target) Config() Config { return t.cfg.Redacted() }

// connect finds the flavor (serverInfo's deploymentType unless
// configured) and checks the credentials: Jira answers an
// unauthenticated search with an empty list, so a bad token would
// otherwise look like "no issues".
func (t *Target) connect(ctx context.Context, log *slog.Logger) error {
	t.client.Log = log
	if t.ready {
		return nil
	}
	flavor := t.cfg.Flavor
	a := &api{c: t.client}
	if flavor == "" {
		dt, err := a.serverInfo(ctx)
		if err != nil {
			return fmt.Errorf("jira: cannot tell Cloud from Data Center (set jira.flavor to skip this): %w", err)
		}
		flavor = DataCenter
		if strings.EqualFold(dt, "Cloud") {
			flavor = Cloud
		}
		log.Info("jira flavor detected", "deploymentType", dt, "flavor", flavor)
	}
	a.cloud = flavor == Cloud
	a.v, a.jqlSearch = "2", false
	if a.cloud {
		a.v, a.jqlSearch = "3", true
		if t.cfg.User == "" {
			return errors.New("jira: JIRA_USER (jira.user) is not set: Jira Cloud needs the account's e-mail with its API token")
		}
	}
	if err := a.myself(ctx); err != nil {
		return fmt.Errorf("jira: checking the credentials: %w", err)
	}
	if err := a.project(ctx, t.cfg.Project); err != nil {
		if atlassian.StatusOf(err) == http.StatusNotFound {
			return fmt.Errorf("jira: project %q (JIRA_PROJECT) not found, or the account cannot browse it: %w", t.cfg.Project, err)
		}
		return fmt.Errorf("jira: checking the project: %w", err)
	}
	// The owners' projects too: a typo would otherwise fail each of
	// their creates one by one.
	for _, o := range t.cfg.Owners {
		p := strings.TrimSpace(o.Jira.Project)
		if p == "" || p == t.cfg.Project {
			continue
		}
		if err := a.project(ctx, p); err != nil {
			if atlassian.StatusOf(err) == http.StatusNotFound {
				return fmt.Errorf("jira: project %q of owner %q not found, or the account cannot browse it: %w", p, o.Name, err)
			}
			return fmt.Errorf("jira: checking project %q of owner %q: %w", p, o.Name, err)
		}
	}
	t.cfg.Flavor = flavor
	t.api = a
	t.ready = true
	return nil
}

// Publish state names.
const (
	stateRev     = "rev"     // the store revision published
	stateHistory = "history" // the last history row published
	stateSeen    = "seen"    // the newest data time published
	stateGroup   = "grouping"
)

type run struct {
	t     *Target
	st    *store.Store
	opt   publish.Options
	log   *slog.Logger
	rep   publish.Report
	notes []string
	maps  *publish.Mappings
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// Publish pushes what changed since the last publish. See the package
// documentation and Config.Plan for the rules.
func (t *Target) Publish(ctx context.Context, st *store.Store, opt publish.Options) (publish.Report, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &run{t: t, st: st, opt: opt, log: opt.Log, rep: publish.Report{Target: TargetName}}
	rep, err := r.publish(ctx)
	rep.Notes = capNotes(r.notes, 50)
	return rep, err
}

func capNotes(n []string, max int) []string {
	if len(n) <= max {
		return n
	}
	return append(n[:max:max], fmt.Sprintf("… and %d more notes", len(n)-max))
}

func (r *run) publish(ctx context.Context) (publish.Report, error) {
	t, st := r.t, r.st
	if err := t.connect(ctx, r.log); err != nil {
		return r.rep, err
	}
	get := func(name string) int64 {
		v, _ := st.PublishState(ctx, TargetName, name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	revWM, histWM, seenWM := get(stateRev), get(stateHistory), get(stateSeen)
	if g, _ := st.PublishState(ctx, TargetName, stateGroup); g != "" && g != t.cfg.Grouping {
		r.note("grouping changed from %s to %s: issues of the old grouping are left as they are", g, t.cfg.Grouping)
	}
	var err error
	if r.maps, err = publish.LoadMappings(ctx, st, TargetName); err != nil {
		return r.rep, err
	}
	rebuild := len(r.maps.Items) == 0
	if rebuild {
		revWM = 0 // nothing is known to be published: look at everything
	}
	rev, err := st.Revision(ctx)
	if err != nil {
		return r.rep, err
	}
	var changed []*store.Published
	if err := st.Changed(ctx, revWM, func(p *store.Published) error {
		changed = append(changed, p)
		return nil
	}); err != nil {
		return r.rep, err
	}
	var hist []store.HistoryRow
	lastHist, err := st.HistoryAfter(ctx, histWM, func(h store.HistoryRow) error {
		if !rebuild { // a rebuild adopts issues; their past is not news
			hist = append(hist, h)
		}
		return nil
	})
	if err != nil {
		return r.rep, err
	}
	members, err := r.members(ctx, changed, hist)
	if err != nil {
		return r.rep, err
	}
	if err := r.resolve(ctx, changed, members, hist, rebuild); err != nil {
		return r.rep, err
	}
	excs, err := r.exceptions(ctx, changed, members)
	if err != nil {
		return r.rep, err
	}
	plan, err := t.cfg.Plan(Input{Changed: changed, Members: members, Mappings: r.maps.Items, History: hist, SeenBefore: seenWM, Exceptions: excs})
	if err != nil {
		return r.rep, err
	}
	r.rep.Unchanged = plan.Unchanged
	r.log.Info("jira plan", "changed", len(changed), "actions", len(plan.Actions),
		"create", plan.Count(Create), "update", plan.Count(Update), "close", plan.Count(Close), "reopen", plan.Count(Reopen))
	if r.opt.DryRun {
		return r.dryRun(plan)
	}
	execErr := r.execute(ctx, plan)
	if err := r.flush(ctx); err != nil && execErr == nil {
		execErr = err
	}
	var flood *FloodError
	if execErr != nil && !errors.As(execErr, &flood) && atlassian.IsFatal(execErr) {
		return r.rep, execErr
	}
	// History comments are best effort: always move on, so a retry
	// does not comment twice. The revision moves only when everything
	// went through; what failed is planned again next run.
	kv := map[string]string{stateHistory: strconv.FormatInt(lastHist, 10), stateGroup: t.cfg.Grouping}
	if r.rep.Failed == 0 && execErr == nil {
		seen := seenWM
		for _, p := range changed {
			seen = max(seen, p.LastSeen)
		}
		kv[stateRev] = strconv.FormatInt(rev, 10)
		kv[stateSeen] = strconv.FormatInt(seen, 10)
	} else if r.rep.Failed > 0 {
		r.note("%d item(s) failed: the next run tries them again", r.rep.Failed)
	}
	if err := st.SetPublishState(ctx, TargetName, kv); err != nil {
		return r.rep, err
	}
	return r.rep, execErr
}

// exceptions reads the exceptions the excepted findings name, once each.
func (r *run) exceptions(ctx context.Context, changed []*store.Published, members map[string][]*store.Row) (map[string]exceptions.Exception, error) {
	out := map[string]exceptions.Exception{}
	load := func(name string) error {
		if name == "" {
			return nil
		}
		if _, ok := out[name]; ok {
			return nil
		}
		id, err := exceptions.ParseName(name)
		if err != nil {
			return nil // not one of ours: named without details
		}
		e, _, err := r.st.Exception(ctx, id)
		if errors.Is(err, store.ErrNoException) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jira: reading %s: %w", name, err)
		}
		out[name] = e
		return nil
	}
	for _, p := range changed {
		if err := load(p.Exception); err != nil {
			return nil, err
		}
	}
	for _, ms := range members {
		for _, m := range ms {
			if err := load(m.Exception); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// members loads, for grouped issues, the open findings at or above
// MinRating of each group a changed finding belongs to, and of each
// group that lost a finding to another owner.
func (r *run) members(ctx context.Context, changed []*store.Published, hist []store.HistoryRow) (map[string][]*store.Row, error) {
	c := &r.t.cfg
	if c.Grouping == ByFinding {
		return nil, nil
	}
	want := map[string]bool{}
	var keys []string
	addItem := func(it string) {
		if !want[it] {
			want[it] = true
			keys = append(keys, it)
		}
	}
	for _, p := range changed {
		addItem(itemOf(c.Grouping, &p.Finding))
	}
	_, extra := c.historyItems(Input{Changed: changed, History: hist})
	for _, it := range extra {
		addItem(it)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	out := map[string][]*store.Row{}
	for chunk := range slices.Chunk(keys, 500) {
		f := store.Filter{Open: true, MinRating: c.MinRating}
		seen := map[string]bool{}
		for _, k := range chunk {
			id, _ := groupID(k)
			if seen[id] {
				continue // two owners' groups of one QID or host
			}
			seen[id] = true
			if c.Grouping == ByQID {
				q, _ := strconv.Atoi(id)
				f.QIDs = append(f.QIDs, q)
			} else {
				f.Hosts = append(f.Hosts, id)
			}
		}
		err := r.st.Findings(ctx, f, func(row *store.Row) error {
			it := itemOf(c.Grouping, &row.Finding)
			if want[it] {
				cp := *row
				out[it] = append(out[it], &cp)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resolve finds the issues of items that have none recorded: after a
// loss of the mapping table all of qvt's issues (label "qvt"), else by
// dedupe label the items about to be created, those whose create is
// pending, and those with recorded changes (their issue may predate a
// lost mapping). Found issues become mappings (the newest issue wins
// when several carry a label); pending creates that left no issue are
// forgotten, so they are planned again.
func (r *run) resolve(ctx context.Context, changed []*store.Published, members map[string][]*store.Row, hist []store.HistoryRow, rebuild bool) error {
	c := &r.t.cfg
	hasHist := map[string]bool{}
	hs, _ := c.historyItems(Input{Changed: changed, Members: members, History: hist})
	for it := range hs {
		hasHist[it] = true
	}
	need := map[string]string{} // label → item
	for _, p := range changed {
		it := itemOf(c.Grouping, &p.Finding)
		m, mapped := r.maps.Items[it]
		scope := c.inScope(p)
		if c.Grouping != ByFinding {
			scope = len(members[it]) > 0
		}
		if !mapped && (scope || hasHist[it] || rebuild) {
			need[DedupeLabel(it)] = it
		}
		if mapped && m.State == StatePending {
			need[DedupeLabel(it)] = it
		}
	}
	for it, m := range r.maps.Items { // pending creates of items that did not change since
		if m.State == StatePending {
			need[DedupeLabel(it)] = it
		}
	}
	if len(need) == 0 {
		return nil
	}
	byLabel := map[string]found{}
	collect := func(f found) error {
		for _, l := range f.Labels {
			if _, ok := need[l]; ok {
				if old, ok := byLabel[l]; !ok || f.ID > old.ID {
					byLabel[l] = f
				}
			}
		}
		return nil
	}
	// Issues are in jira.project and in the owners' projects.
	var ps []string
	for _, p := range c.projects() {
		ps = append(ps, quoteJQL(p))
	}
	project := "project = " + ps[0]
	if len(ps) > 1 {
		project = "project in (" + strings.Join(ps, ", ") + ")"
	}
	if rebuild {
		r.log.Info("jira: no mappings: rebuilding them from the issues' labels")
		if err := r.t.api.search(ctx, project+" AND labels = "+quoteJQL(CommonLabel), collect); err != nil {
			return fmt.Errorf("jira: rebuilding the mappings: %w", err)
		}
	} else {
		labels := make([]string, 0, len(need))
		for l := range need {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		for chunk := range slices.Chunk(labels, 50) {
			q := make([]string, len(chunk))
			for i, l := range chunk {
				q[i] = quoteJQL(l)
			}
			if err := r.t.api.search(ctx, project+" AND labels in ("+strings.Join(q, ", ")+")", collect); err != nil {
				return fmt.Errorf("jira: searching dedupe labels: %w", err)
			}
		}
	}
	now := r.opt.Now()
	adopted := 0
	for l, it := range need {
		f, ok := byLabel[l]
		old, mapped := r.maps.Items[it]
		switch {
		case ok:
			state := StateOpen
			if f.Category == "done" {
				state = StateClosed
			}
			m := store.Mapping{Item: it, Remote: f.Key, State: state, Updated: now}
			if mapped && old.State != StatePending && old.Remote == f.Key {
				continue // already known
			}
			r.maps.Set(m)
			adopted++
		case mapped && old.State == StatePending:
			if old.Remote != "" {
				// A reopen as a new issue that did not happen: back to
				// the closed issue.
				m := store.Mapping{Item: it, Remote: old.Remote, State: StateClosed, Hash: old.Hash, Updated: now}
				r.maps.Set(m)
			} else {
				r.maps.Drop(it)
			}
		}
	}
	if adopted > 0 {
		r.note("%d issue(s) found by their dedupe label and adopted instead of created", adopted)
		r.log.Info("jira: issues adopted by label", "count", adopted)
	}
	if !r.opt.DryRun {
		return r.flush(ctx)
	}
	return nil
}

// flush writes the mappings changed so far.
func (r *run) flush(ctx context.Context) error {
	if r.opt.DryRun {
		return nil
	}
	return r.maps.Flush(ctx, r.st)
}

func (r *run) setMapping(m store.Mapping) {
	m.Updated = r.opt.Now()
	r.maps.Set(m)
}

func (r *run) dryRun(plan *Plan) (publish.Report, error) {
	w := tabwriter.NewWriter(r.opt.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACTION\tITEM\tISSUE\tSUMMARY")
	creates := 0
	for _, a := range plan.Actions {
		issue := a.Issue
		if a.Kind == Create {
			creates++
			issue = "(new)"
			if a.LinkTo != "" {
				issue = "(new, linked to " + a.LinkTo + ")"
			}
			if r.t.cfg.MaxCreates >= 0 && creates > r.t.cfg.MaxCreates {
				issue = "(over max_creates)"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Kind, a.Item, issue, oneLine(a.Summary(), 100))
		if a.Content != nil {
			if _, cut := r.render(a.Content); cut {
				r.note("%s: description over %d characters; it will be truncated", a.Item, r.t.cfg.MaxTextLength)
			}
		}
	}
	w.Flush()
	r.rep.Created = r.maxCreates(plan.Count(Create))
	r.rep.Updated = plan.Count(Update)
	r.rep.Closed = plan.Count(Close) + plan.Count(Except)
	r.rep.Reopened = plan.Count(Reopen)
	if n := plan.Count(Create); r.t.cfg.MaxCreates >= 0 && n > r.t.cfg.MaxCreates {
		r.note("flood guard: the plan creates %d issues, more than jira.max_creates (%d); a run would create the %d most urgent and stop", n, r.t.cfg.MaxCreates, r.t.cfg.MaxCreates)
	}
	r.note("dry run: nothing was changed in Jira or in the store")
	return r.rep, nil
}

func (r *run) maxCreates(n int) int {
	if r.t.cfg.MaxCreates < 0 {
		return n
	}
	return min(n, r.t.cfg.MaxCreates)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// render is a description as the flavor takes it, cut to the limit.
func (r *run) render(c *content) (any, bool) {
	cloud := r.t.api.cloud
	ptr := para(txt("…truncated; full record: "), mono(c.Pointer))
	d, cut := c.Desc.fit(r.t.cfg.MaxTextLength, cloud, ptr)
	if cloud {
		return d.adf(), cut
	}
	return d.wiki(), cut
}

// renderComment is a comment body, cut to the limit.
func (r *run) renderComment(lines []string) any {
	cloud := r.t.api.cloud
	d, _ := commentDoc(lines).fit(r.t.cfg.MaxTextLength, cloud, para(txt("…truncated")))
	if cloud {
		return d.adf()
	}
	return d.wiki()
}

// user is a user field's value: by account id on Cloud, by name on Data
// Center.
func (r *run) user(u string) map[string]any {
	if r.t.api.cloud {
		return map[string]any{"accountId": u}
	}
	return map[string]any{"name": u}
}

// fields are the issue fields of c: all of them for a create, those qvt
// owns for an edit (labels are added with update verbs then, so labels
// people add stay; "kev" is removed by one when it no longer applies).
// The due date is cleared on an edit when there is none.
func (r *run) fields(a *Action, create bool) map[string]any {
	c := a.Content
	cfg := &r.t.cfg
	desc, cut := r.render(c)
	if cut {
		r.note("%s: description over %d characters, truncated with a pointer to %q", a.Item, cfg.MaxTextLength, c.Pointer)
	}
	f := map[string]any{"summary": c.Summary, "description": desc}
	if create {
		project := c.Project
		if project == "" {
			project = cfg.Project
		}
		f["project"] = map[string]any{"key": project}
		f["issuetype"] = map[string]any{"name": cfg.IssueType}
		f["labels"] = c.Labels
		if c.Assignee != "" {
			f["assignee"] = r.user(c.Assignee)
		}
		if c.Component != "" {
			f["components"] = []any{map[string]any{"name": c.Component}}
		}
	}
	if c.Priority != "" {
		f["priority"] = map[string]any{"name": c.Priority}
	}
	if cfg.DueDateField != "none" {
		if c.Due != "" {
			f[cfg.DueDateField] = c.Due
		} else if !create {
			f[cfg.DueDateField] = nil
		}
	}
	for k, v := range c.Custom {
		f[k] = v
	}
	return f
}

func (r *run) execute(ctx context.Context, plan *Plan) error {
	var creates []Action
	dead := map[string]bool{} // items whose issue is gone or failed this run
	for i := range plan.Actions {
		a := &plan.Actions[i]
		if a.Kind == Create {
			creates = append(creates, *a)
			continue
		}
		if dead[a.Item] {
			continue
		}
		err := r.act(ctx, a)
		if err == nil {
			continue
		}
		if atlassian.IsFatal(err) {
			return err
		}
		dead[a.Item] = true
		if atlassian.StatusOf(err) == http.StatusNotFound {
			r.note("%s: issue %s no longer exists (deleted?); its mapping is dropped", a.Item, a.Issue)
			r.maps.Drop(a.Item)
			continue
		}
		r.rep.Failed++
		r.note("%s: %s %s failed: %v", a.Item, a.Kind, a.Issue, err)
		if r.maps.Unflushed() >= 50 {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	return r.create(ctx, creates)
}

// act carries out one action on an existing issue.
func (r *run) act(ctx context.Context, a *Action) error {
	m := r.maps.Items[a.Item]
	switch a.Kind {
	case Update:
		labels := []any{}
		for _, l := range a.Content.Labels {
			labels = append(labels, map[string]any{"add": l})
		}
		if !slices.Contains(a.Content.Labels, KEVLabel) {
			// Its findings left the catalog (removing a label the issue
			// lacks is no error).
			labels = append(labels, map[string]any{"remove": KEVLabel})
		}
		fields, update := r.fields(a, false), map[string]any{"labels": labels}
		if a.OwnerChanged {
			r.reroute(a, fields, update)
		}
		if err := r.t.api.edit(ctx, a.Issue, fields, update); err != nil {
			return err
		}
		m.Hash = mapHash(a.Content)
		r.setMapping(m)
		r.rep.Updated++
	case Close:
		ok, err := r.move(ctx, a, true)
		if err != nil {
			return err
		}
		if ok {
			m.State = StateClosed
			r.setMapping(m)
			r.rep.Closed++
		}
	case Except:
		ok, err := r.move(ctx, a, true)
		if err != nil {
			return err
		}
		if ok {
			m.State = StateExcepted
			r.setMapping(m)
			r.rep.Closed++
		}
	case Reopen:
		ok, err := r.move(ctx, a, false)
		if err != nil {
			return err
		}
		if ok {
			m.State = StateOpen
			r.setMapping(m)
			r.rep.Reopened++
		}
	}
	if len(a.Comment) > 0 {
		if err := r.t.api.comment(ctx, a.Issue, r.renderComment(a.Comment)); err != nil {
			return err
		}
	}
	return nil
}

// move transitions an issue to done (closing) or back to open. A missing
// transition is a note, not an error: the issue may already be there
// (someone moved it), or the workflow needs configuring. It tells
// whether the issue is now where qvt wants it.
func (r *run) move(ctx context.Context, a *Action, done bool) (bool, error) {
	cfg := &r.t.cfg
	ts, err := r.t.api.transitions(ctx, a.Issue)
	if err != nil {
		return false, err
	}
	names, cats := cfg.ReopenTransitions, []string{cfg.ReopenCategory, "new", "indeterminate"}
	if done {
		names, cats = cfg.DoneTransitions, []string{cfg.DoneCategory}
	}
	var pick *transition
	for _, n := range names {
		for i := range ts {
			if strings.EqualFold(ts[i].Name, n) || strings.EqualFold(ts[i].To.Name, n) {
				pick = &ts[i]
				break
			}
		}
		if pick != nil {
			break
		}
	}
	for _, cat := range cats {
		for i := range ts {
			if pick == nil && cat != "" && ts[i].To.StatusCategory.Key == cat {
				pick = &ts[i]
			}
		}
	}
	if pick == nil {
		status, cat, err := r.t.api.status(ctx, a.Issue)
		if err != nil {
			return false, err
		}
		if (cat == "done") == done {
			where := "done"
			if !done {
				where = "open"
			}
			r.note("%s: issue %s is already %s (status %s)", a.Item, a.Issue, where, status)
			a.Comment = append(a.Comment[:1:1], append([]string{"(the issue was already " + where + ")"}, a.Comment[1:]...)...)
			return true, nil
		}
		want := "done_transitions / done_category"
		if !done {
			want = "reopen_transitions / reopen_category"
		}
		r.note("%s: issue %s has no transition to %s from status %q; set jira.%s", a.Item, a.Issue,
			map[bool]string{true: "done", false: "reopen"}[done], status, want)
		a.Comment = append(a.Comment, "qvt found no workflow transition to move this issue from "+status+"; please move it by hand.")
		return false, nil
	}
	fields := map[string]any{}
	if _, ok := pick.Fields["resolution"]; ok {
		switch {
		case !done:
			fields["resolution"] = nil
		case a.Kind == Except && cfg.ExceptionResolution == "":
			// exceptions.resolution unset: the transition's own.
		case a.Kind == Except:
			fields["resolution"] = map[string]any{"name": cfg.ExceptionResolution}
		default:
			fields["resolution"] = map[string]any{"name": cfg.Resolution}
		}
	}
	if err := r.t.api.transition(ctx, a.Issue, pick.ID, fields); err != nil {
		return false, err
	}
	return true, nil
}

// create carries out the creates: the flood guard first, then batches
// of at most 50, each recorded as pending before it is sent and as
// created (or forgotten) after.
func (r *run) create(ctx context.Context, creates []Action) error {
	cfg := &r.t.cfg
	slices.SortStableFunc(creates, func(a, b Action) int { return cmp.Compare(b.Rank, a.Rank) })
	var guard error
	if cfg.MaxCreates >= 0 && len(creates) > cfg.MaxCreates {
		guard = &FloodError{Planned: len(creates), Max: cfg.MaxCreates}
		creates = creates[:cfg.MaxCreates]
	}
	for batch := range slices.Chunk(creates, 50) {
		prev := map[string]store.Mapping{}
		var updates []map[string]any
		for i := range batch {
			a := &batch[i]
			if old, ok := r.maps.Items[a.Item]; ok {
				prev[a.Item] = old
			}
			f := r.fields(a, true)
			u := map[string]any{"fields": f}
			if a.LinkTo != "" {
				u["update"] = map[string]any{"issuelinks": []any{map[string]any{"add": map[string]any{
					"type": map[string]any{"name": cfg.LinkType}, "outwardIssue": map[string]any{"key": a.LinkTo}}}}}
			}
			updates = append(updates, u)
			// Write ahead: a crash from here on leaves a pending mapping,
			// which the next run resolves by label before creating.
			r.setMapping(store.Mapping{Item: a.Item, Remote: a.LinkTo, State: StatePending, Hash: prev[a.Item].Hash})
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		res, err := r.t.api.bulkCreate(ctx, updates)
		if err != nil {
			if atlassian.IsAmbiguous(err) {
				r.rep.Failed += len(batch)
				r.note("a create batch of %d failed and may have been carried out (%v); the next run checks their labels before creating again", len(batch), err)
				continue // pending stays
			}
			for _, a := range batch {
				r.undoPending(a.Item, prev)
			}
			if ferr := r.flush(ctx); ferr != nil {
				return ferr
			}
			if atlassian.IsFatal(err) {
				return err
			}
			r.rep.Failed += len(batch)
			r.note("a create batch of %d failed: %v", len(batch), err)
			continue
		}
		for i, a := range batch {
			if res[i].Err != "" {
				r.undoPending(a.Item, prev)
				r.rep.Failed++
				r.note("%s: create failed: %s", a.Item, res[i].Err)
				continue
			}
			r.setMapping(store.Mapping{Item: a.Item, Remote: res[i].Key, State: StateOpen, Hash: mapHash(a.Content)})
			r.rep.Created++
			if a.Move {
				r.retire(ctx, &a, res[i].Key)
				continue
			}
			if a.LinkTo != "" {
				r.rep.Reopened++
				r.note("%s: reopened as %s, linked to %s", a.Item, res[i].Key, a.LinkTo)
			}
		}
		if err := r.flush(ctx); err != nil {
			return err
		}
		r.log.Info("jira: created issues", "count", len(batch))
	}
	if guard != nil {
		guard.(*FloodError).Created = r.rep.Created
	}
	return guard
}

// FloodError is the flood guard tripping: a run that would create more
// issues than jira.max_creates creates that many, the most urgent
// first, and stops with it.
type FloodError struct {
	Planned, Max, Created int
}

func (e *FloodError) Error() string {
	return fmt.Sprintf("jira: flood guard: this run would create %d issues, more than jira.max_creates (%d); "+
		"it created %d (the most urgent) and stopped. Check jira.min_rating and jira.grouping, or raise "+
		"jira.max_creates (-1: no limit); the next run goes on where this one stopped", e.Planned, e.Max, e.Created)
}

// OwnerChangedLabel marks an issue whose owner changed to one with
// another project, when qvt does not move issues between projects.
const OwnerChangedLabel = "qvt-owner-changed"

// MovedLabel marks an issue qvt moved to another project (closed, with
// its dedupe label taken off so that it is never adopted again).
const MovedLabel = "qvt-moved"

// reroute adds to an update the route of the new owner: assignee and
// component when the issue is in the new owner's project (the
// component the old owner's route set taken off, the assignee cleared
// when the new owner names none but the old route set one; components
// and assignees people set otherwise stay), else only the label qvt-owner-changed (the plan adds the
// comment): another project's component and people are not this one's.
func (r *run) reroute(a *Action, fields, update map[string]any) {
	ct := a.Content
	labels := update["labels"].([]any)
	if issueProject(a.Issue) != ct.Project {
		update["labels"] = append(labels, map[string]any{"add": OwnerChangedLabel})
		r.note("%s: owner changed from %s to %s, whose project is %s: %s stays in its project (jira.move_between_projects is off)",
			a.Item, orNone(a.OwnerFrom), orNone(ct.Owner), ct.Project, a.Issue)
		return
	}
	old := a.from
	switch {
	case ct.Assignee != "":
		fields["assignee"] = r.user(ct.Assignee)
	case old.Assignee != "":
		fields["assignee"] = nil
	}
	var comps []any
	if old.Component != "" && old.Component != ct.Component {
		comps = append(comps, map[string]any{"remove": map[string]any{"name": old.Component}})
	}
	if ct.Component != "" {
		comps = append(comps, map[string]any{"add": map[string]any{"name": ct.Component}})
	}
	if len(comps) > 0 {
		update["components"] = comps
	}
}

// retire finishes a move between projects: the old issue loses its
// dedupe label, gets a comment naming the new one and is closed. A
// failure is a note: the new issue is the finding's from now on.
func (r *run) retire(ctx context.Context, a *Action, newKey string) {
	r.note("%s: moved from %s to %s (owner %s)", a.Item, a.LinkTo, newKey, orNone(a.Content.Owner))
	old := &Action{Kind: Close, Item: a.Item, Issue: a.LinkTo,
		Comment: []string{fmt.Sprintf("qvt: moved to %s: owner changed from %s to %s (project %s).", newKey, orNone(a.OwnerFrom), orNone(a.Content.Owner), a.Content.Project)}}
	labels := []any{map[string]any{"remove": a.Label}, map[string]any{"add": MovedLabel}}
	err := r.t.api.edit(ctx, a.LinkTo, nil, map[string]any{"labels": labels})
	if err == nil {
		err = r.t.api.comment(ctx, a.LinkTo, r.renderComment(old.Comment))
	}
	if err == nil {
		_, err = r.move(ctx, old, true)
	}
	if err != nil {
		r.note("%s: moved to %s, but closing %s failed: %v; close it by hand", a.Item, newKey, a.LinkTo, err)
	}
}

func (r *run) undoPending(item string, prev map[string]store.Mapping) {
	if old, ok := prev[item]; ok {
		r.setMapping(old)
		return
	}
	r.maps.Drop(item)
}
