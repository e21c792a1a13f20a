// Package assets publishes findings to Jira Service Management Assets
// (Cloud and Data Center): a Host object per host, with its open finding
// counts by rating and its overdue count, and a Vulnerability Finding
// object per finding, referring to its host. Objects are keyed by Name
// (the host's address, the finding key): the local mapping table holds
// their ids, and an AQL search on Name finds them when it does not, so
// reruns update instead of duplicating.
package assets

import (
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

	"qvt/internal/finding"
	"qvt/internal/publish"
	"qvt/internal/publish/atlassian"
	"qvt/internal/store"
)

// TargetName is the target's name in --to and in the store.
const TargetName = "assets"

// Target publishes to Assets.
type Target struct {
	cfg    Config
	client *atlassian.Client
	opts   []Option
	api    *api
	log    *slog.Logger
	schema id
	hostT  *objType
	findT  *objType
}

// objType is an object type and its attribute ids by logical name.
type objType struct {
	id    id
	name  string
	attrs map[string]id
}

// Option tunes a Target (tests, mostly).
type Option func(*Target)

// WithHTTPClient sends requests with h.
func WithHTTPClient(h *http.Client) Option { return func(t *Target) { t.client.HTTP = h } }

// WithSleep replaces the wait between retries.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(t *Target) { t.client.Sleep = f }
}

// WithLogger logs progress (and, for Init, what it creates) to l.
func WithLogger(l *slog.Logger) Option { return func(t *Target) { t.log = l } }

// New checks cfg and returns a target. Nothing is sent until Publish or
// Init.
func New(cfg Config, opts ...Option) (*Target, error) {
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	t := &Target{cfg: cfg, opts: opts, log: slog.New(slog.DiscardHandler)}
	t.client = &atlassian.Client{User: cfg.User, Token: cfg.Token, Product: "assets",
		Hints: map[int]string{
			401: "Check JIRA_USER and JIRA_TOKEN: Cloud takes the account's e-mail and an API token, Data Center a personal access token with JIRA_USER empty",
			403: "The account lacks Assets permissions on the schema (object schema manager for --init, user to publish)",
			404: "Check ASSETS_URL (Data Center: the base ending in /rest/insight/1.0 or /rest/assets/1.0) or ASSETS_WORKSPACE_ID",
		}}
	for _, o := range opts {
		o(t)
	}
	return t, nil
}

// Name is "assets".
func (t *Target) Name() string { return TargetName }

// Config is the configuration, defaults filled in (the token redacted).
func (t *Target) Config() Config { return t.cfg.Redacted() }

// connect finds the API base (asking the Jira site for the Cloud
// workspace when needed) and the schema.
func (t *Target) connect(ctx context.Context) error {
	t.client.Log = t.log
	if t.api != nil {
		return nil
	}
	base := t.cfg.URL
	if base == "" {
		ws := t.cfg.WorkspaceID
		if ws == "" {
			site := *t.client
			site.Base = t.cfg.JiraURL
			var err error
			if ws, err = workspace(ctx, &site); err != nil {
				return fmt.Errorf("assets: finding the Cloud workspace (set ASSETS_WORKSPACE_ID to skip this): %w", err)
			}
			t.log.Info("assets workspace found", "workspace", ws)
		}
		base = t.cfg.CloudAPI + "/jsm/assets/workspace/" + ws + "/v1"
	}
	t.client.Base = base
	a := &api{c: t.client, cloud: t.cfg.flavor(base) == Cloud, insight: strings.HasSuffix(base, "/rest/insight/1.0")}
	schemas, err := a.schemas(ctx)
	if err != nil {
		return fmt.Errorf("assets: listing object schemas: %w", err)
	}
	var names []string
	for _, s := range schemas {
		if string(s.ID) == t.cfg.Schema || strings.EqualFold(s.Key, t.cfg.Schema) || strings.EqualFold(s.Name, t.cfg.Schema) {
			t.schema = s.ID
		}
		names = append(names, s.Key)
	}
	if t.schema == "" {
		return fmt.Errorf("assets: no object schema %q (ASSETS_SCHEMA) among %s", t.cfg.Schema, strings.Join(names, ", "))
	}
	t.api = a
	return nil
}

// Init creates the object types and attributes qvt uses that the schema
// lacks; what exists is left alone, so it can run again.
func (t *Target) Init(ctx context.Context) error {
	_, err := t.InitReport(ctx)
	return err
}

// InitReport is Init, returning one line per type or attribute created.
func (t *Target) InitReport(ctx context.Context) ([]string, error) {
	if err := t.connect(ctx); err != nil {
		return nil, err
	}
	var done []string
	types, err := t.api.types(ctx, t.schema)
	if err != nil {
		return nil, fmt.Errorf("assets: listing object types: %w", err)
	}
	var icon id
	ensureType := func(name, desc string) (id, error) {
		for _, ty := range types {
			if strings.EqualFold(ty.Name, name) {
				return ty.ID, nil
			}
		}
		if icon == "" {
			icons, err := t.api.icons(ctx)
			if err != nil || len(icons) == 0 {
				return "", fmt.Errorf("assets: listing icons for a new object type: %w", err)
			}
			icon = icons[0].ID
			for _, i := range icons {
				if strings.EqualFold(i.Name, "Server") || strings.EqualFold(i.Name, "Computer") {
					icon = i.ID
				}
			}
		}
		ty, err := t.api.createType(ctx, t.schema, name, desc, icon)
		if err != nil {
			return "", fmt.Errorf("assets: creating object type %q: %w", name, err)
		}
		types = append(types, ty)
		done = append(done, "object type "+name)
		t.log.Info("assets: object type created", "name", name, "id", ty.ID)
		return ty.ID, nil
	}
	hostID, err := ensureType(t.cfg.HostType, "Hosts scanned by Qualys (qvt)")
	if err != nil {
		return done, err
	}
	findID, err := ensureType(t.cfg.FindingType, "Qualys findings: one host, QID and port (qvt)")
	if err != nil {
		return done, err
	}
	hostSpecs, findSpecs := t.cfg.specs()
	var refType string
	ensureAttrs := func(typ id, typeName string, specs []attrSpec) error {
		have, err := t.api.attributes(ctx, typ)
		if err != nil {
			return fmt.Errorf("assets: listing the attributes of %s: %w", typeName, err)
		}
		for _, s := range specs {
			if slices.ContainsFunc(have, func(a attrJSON) bool { return strings.EqualFold(a.Name, s.name) }) {
				continue
			}
			body := map[string]any{"name": s.name, "type": 0}
			switch s.kind {
			case kText:
				body["defaultTypeId"] = 0
				if s.key == "name" {
					body["label"] = true
				}
			case kInt:
				body["defaultTypeId"] = 1
			case kBool:
				body["defaultTypeId"] = 2
			case kDouble:
				body["defaultTypeId"] = 3
			case kDate:
				body["defaultTypeId"] = 4
			case kRef:
				if refType == "" {
					rts, err := t.api.referenceTypes(ctx, t.schema)
					if err != nil && atlassian.StatusOf(err) != http.StatusNotFound {
						return fmt.Errorf("assets: listing reference types: %w", err)
					}
					for _, rt := range rts {
						if refType == "" || strings.EqualFold(rt.Name, "Reference") {
							refType = string(rt.ID)
						}
					}
				}
				body = map[string]any{"name": s.name, "type": 1, "typeValue": string(hostID)}
				if refType != "" {
					body["additionalValue"] = refType
				}
			}
			if _, err := t.api.createAttribute(ctx, typ, body); err != nil {
				return fmt.Errorf("assets: creating attribute %q of %s: %w", s.name, typeName, err)
			}
			done = append(done, "attribute "+typeName+"."+s.name)
			t.log.Info("assets: attribute created", "type", typeName, "name", s.name, "kind", s.kind)
		}
		return nil
	}
	if err := ensureAttrs(hostID, t.cfg.HostType, hostSpecs); err != nil {
		return done, err
	}
	if err := ensureAttrs(findID, t.cfg.FindingType, findSpecs); err != nil {
		return done, err
	}
	t.hostT, t.findT = nil, nil // resolve again
	return done, nil
}

// resolve finds the two object types and their attribute ids by name,
// once per run.
func (t *Target) resolve(ctx context.Context) error {
	types, err := t.api.types(ctx, t.schema)
	if err != nil {
		return fmt.Errorf("assets: listing object types: %w", err)
	}
	hostSpecs, findSpecs := t.cfg.specs()
	var missing []string
	get := func(name string, specs []attrSpec) (*objType, error) {
		i := slices.IndexFunc(types, func(ty typeJSON) bool { return strings.EqualFold(ty.Name, name) })
		if i < 0 {
			missing = append(missing, "object type "+name)
			return nil, nil
		}
		ot := &objType{id: types[i].ID, name: name, attrs: map[string]id{}}
		attrs, err := t.api.attributes(ctx, ot.id)
		if err != nil {
			return nil, fmt.Errorf("assets: listing the attributes of %s: %w", name, err)
		}
		for _, s := range specs {
			j := slices.IndexFunc(attrs, func(a attrJSON) bool { return strings.EqualFold(a.Name, s.name) })
			if j < 0 {
				missing = append(missing, "attribute "+name+"."+s.name)
				continue
			}
			ot.attrs[s.key] = attrs[j].ID
		}
		return ot, nil
	}
	if t.hostT, err = get(t.cfg.HostType, hostSpecs); err != nil {
		return err
	}
	if t.findT, err = get(t.cfg.FindingType, findSpecs); err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("assets: the schema lacks %s; run qvt publish --to assets --init to create them", strings.Join(missing, ", "))
	}
	return nil
}

// Publish state names.
const (
	stateRev = "rev" // the store revision published
	stateDay = "day" // the date host counts were last recomputed for all hosts
)

type run struct {
	t     *Target
	st    *store.Store
	opt   publish.Options
	rep   publish.Report
	notes []string
	maps  *publish.Mappings
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// Publish brings the objects of what changed since the last publish up
// to date.
func (t *Target) Publish(ctx context.Context, st *store.Store, opt publish.Options) (publish.Report, error) {
	if opt.Log != nil {
		t.log = opt.Log
	}
	if opt.Out == nil {
		opt.Out = io.Discard
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	r := &run{t: t, st: st, opt: opt, rep: publish.Report{Target: TargetName}}
	err := r.publish(ctx)
	r.rep.Notes = r.notes
	if len(r.rep.Notes) > 50 {
		r.rep.Notes = append(r.rep.Notes[:50:50], fmt.Sprintf("… and %d more notes", len(r.notes)-50))
	}
	return r.rep, err
}

func (r *run) publish(ctx context.Context) error {
	t, st := r.t, r.st
	if err := t.connect(ctx); err != nil {
		return err
	}
	if err := t.resolve(ctx); err != nil {
		return err
	}
	revS, _ := st.PublishState(ctx, TargetName, stateRev)
	revWM, _ := strconv.ParseInt(revS, 10, 64)
	lastDay, _ := st.PublishState(ctx, TargetName, stateDay)
	today := r.opt.Now().UTC().Format("2006-01-02")
	var err error
	if r.maps, err = publish.LoadMappings(ctx, st, TargetName); err != nil {
		return err
	}
	rebuild := len(r.maps.Items) == 0
	if rebuild {
		revWM = 0
	}
	rev, err := st.Revision(ctx)
	if err != nil {
		return err
	}
	var changed []*store.Published
	if err := st.Changed(ctx, revWM, func(p *store.Published) error {
		changed = append(changed, p)
		return nil
	}); err != nil {
		return err
	}
	// Hosts to bring up to date: those of changed findings, and once a
	// day every host with an object (findings turn overdue by the date).
	hostIDs := map[int64]bool{}
	for _, p := range changed {
		hostIDs[p.HostID] = true
	}
	if today != lastDay {
		for it := range r.maps.Items {
			if id, ok := strings.CutPrefix(it, "host:"); ok {
				if n, err := strconv.ParseInt(id, 10, 64); err == nil {
					hostIDs[n] = true
				}
			}
		}
	}
	hosts, err := r.hostFacts(ctx, hostIDs, changed, today)
	if err != nil {
		return err
	}
	if err := r.lookup(ctx, changed, hosts, rebuild); err != nil {
		return err
	}
	plan := t.cfg.Plan(Input{Changed: changed, Hosts: hosts, Mappings: r.maps.Items})
	r.rep.Unchanged = plan.Unchanged
	t.log.Info("assets plan", "changed", len(changed), "hosts", len(hosts), "actions", len(plan.Actions))
	if r.opt.DryRun {
		return r.dryRun(plan)
	}
	if err := r.execute(ctx, plan); err != nil {
		r.flush(ctx)
		return err
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	kv := map[string]string{stateDay: today}
	if r.rep.Failed == 0 {
		kv[stateRev] = strconv.FormatInt(rev, 10)
	} else {
		r.note("%d object(s) failed: the next run tries them again", r.rep.Failed)
		delete(kv, stateDay)
	}
	return st.SetPublishState(ctx, TargetName, kv)
}

// hostFacts counts the open findings of the hosts by rating and
// overdue (due date before today, not excepted).
func (r *run) hostFacts(ctx context.Context, ids map[int64]bool, changed []*store.Published, today string) (map[int64]*HostFacts, error) {
	out := map[int64]*HostFacts{}
	for id := range ids {
		out[id] = &HostFacts{ID: id}
	}
	ident := func(h *HostFacts, f *finding.Finding) {
		if !h.Known {
			h.Address, h.Hostname, h.OS, h.Known = f.IP, f.Hostname, f.OS, true
		}
	}
	for _, p := range changed {
		ident(out[p.HostID], &p.Finding)
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, strconv.FormatInt(id, 10))
	}
	slices.Sort(list)
	for chunk := range slices.Chunk(list, 500) {
		err := r.st.Findings(ctx, store.Filter{Open: true, Hosts: chunk}, func(row *store.Row) error {
			h, ok := out[row.HostID]
			if !ok {
				return nil
			}
			ident(h, &row.Finding)
			switch row.VulnScore {
			case "Critical":
				h.Critical++
			case "High":
				h.High++
			case "Medium":
				h.Medium++
			case "Low":
				h.Low++
			}
			// An excepted finding is not overdue while its exception lasts.
			if d := dueDate(&row.Finding); d != "" && d < today && !row.Excepted {
				h.Overdue++
			}
			if r.t.cfg.MinRating == "" || finding.RatingRank(row.VulnScore) >= finding.RatingRank(r.t.cfg.MinRating) {
				h.Scope = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lookup finds by AQL on Name the objects of items with no mapping
// (all objects of both types after a loss of the mapping table), and
// resolves creates left pending by a crash. Found objects are adopted.
func (r *run) lookup(ctx context.Context, changed []*store.Published, hosts map[int64]*HostFacts, rebuild bool) error {
	t := r.t
	need := map[string]map[string]string{} // type id → Name → item
	add := func(typ *objType, name, item string) {
		if name == "" {
			return
		}
		if need[string(typ.id)] == nil {
			need[string(typ.id)] = map[string]string{}
		}
		need[string(typ.id)][name] = item
	}
	for id, h := range hosts {
		it := HostItem(id)
		if m, ok := r.maps.Items[it]; (!ok && (h.Scope || rebuild)) || m.State == "pending" {
			add(t.hostT, h.Address, it)
		}
	}
	for _, p := range changed {
		if m, ok := r.maps.Items[p.Key]; (!ok && (t.cfg.inScope(p) || rebuild)) || m.State == "pending" {
			add(t.findT, p.Key, p.Key)
		}
	}
	for it, m := range r.maps.Items { // pending creates of items that did not change since
		if m.State == "pending" && m.Hash != "" {
			typ := t.findT
			if strings.HasPrefix(it, "host:") {
				typ = t.hostT
			}
			add(typ, m.Hash, it) // a pending mapping keeps the Name in Hash
		}
	}
	found := map[string]object{} // item → object
	for _, typ := range []*objType{t.hostT, t.findT} {
		names := need[string(typ.id)]
		if len(names) == 0 {
			continue
		}
		collect := func(o object) error {
			if it, ok := names[o.Label]; ok {
				if prev, dup := found[it]; !dup || o.ID < prev.ID {
					found[it] = o // the oldest object with the Name wins
				}
			}
			return nil
		}
		base := "objectTypeId = " + string(typ.id)
		if rebuild && len(names) > 200 {
			if err := t.api.search(ctx, t.schema, base, collect); err != nil {
				return fmt.Errorf("assets: rebuilding the mappings: %w", err)
			}
			continue
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		slices.Sort(list)
		for chunk := range slices.Chunk(list, 50) {
			q := make([]string, len(chunk))
			for i, n := range chunk {
				q[i] = quoteAQL(n)
			}
			if err := t.api.search(ctx, t.schema, base+" AND Name IN ("+strings.Join(q, ", ")+")", collect); err != nil {
				return fmt.Errorf("assets: searching objects by Name: %w", err)
			}
		}
	}
	adopted := 0
	for _, names := range need {
		for _, it := range names {
			m, mapped := r.maps.Items[it]
			if o, ok := found[it]; ok {
				if mapped && m.State != "pending" {
					continue
				}
				r.set(store.Mapping{Item: it, Remote: string(o.ID), State: o.Key})
				adopted++
			} else if mapped && m.State == "pending" {
				r.maps.Drop(it)
			}
		}
	}
	if adopted > 0 {
		r.note("%d object(s) found by Name and adopted instead of created", adopted)
	}
	if r.opt.DryRun {
		return nil
	}
	return r.flush(ctx)
}

func (r *run) set(m store.Mapping) {
	m.Updated = r.opt.Now()
	r.maps.Set(m)
}

func (r *run) flush(ctx context.Context) error {
	if r.opt.DryRun {
		return nil
	}
	return r.maps.Flush(ctx, r.st)
}

func (r *run) dryRun(plan *Plan) error {
	w := tabwriter.NewWriter(r.opt.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACTION\tTYPE\tNAME\tOBJECT")
	for _, a := range plan.Actions {
		obj := a.Object
		if a.Kind == Create {
			obj = "(new)"
		}
		typ := r.t.cfg.HostType
		if a.Type == FindingObject {
			typ = r.t.cfg.FindingType
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Kind, typ, a.Name, obj)
	}
	w.Flush()
	r.rep.Created = plan.Count(Create, HostObject) + plan.Count(Create, FindingObject)
	r.rep.Updated = plan.Count(Update, HostObject) + plan.Count(Update, FindingObject)
	r.note("dry run: nothing was changed in Assets or in the store")
	return nil
}

// attrs turns an action's values into attribute payloads; references
// become the referenced object's id.
func (r *run) attrs(a *Action) ([]attrValue, error) {
	typ := r.t.hostT
	if a.Type == FindingObject {
		typ = r.t.findT
	}
	keys := make([]string, 0, len(a.Values))
	for k := range a.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []attrValue
	for _, k := range keys {
		v := a.Values[k]
		if k == "host" {
			m, ok := r.maps.Items[v[0]]
			if !ok || m.Remote == "" || m.State == "pending" {
				return nil, fmt.Errorf("its host object (%s) does not exist", v[0])
			}
			v = []string{m.Remote}
		}
		if len(v) == 0 && a.Kind == Create {
			continue // nothing to clear on a new object
		}
		out = append(out, attrValue{ID: typ.attrs[k], Values: v})
	}
	return out, nil
}

func (r *run) execute(ctx context.Context, plan *Plan) error {
	typeOf := func(a *Action) *objType {
		if a.Type == FindingObject {
			return r.t.findT
		}
		return r.t.hostT
	}
	// Write ahead: every create is recorded pending (with its Name) before
	// it is sent; a crash leaves pending mappings that the next run
	// resolves by AQL instead of creating again.
	for _, a := range plan.Actions {
		if a.Kind == Create {
			r.set(store.Mapping{Item: a.Item, State: "pending", Hash: a.Name})
		}
	}
	if err := r.flush(ctx); err != nil {
		return err
	}
	for i := range plan.Actions {
		a := &plan.Actions[i]
		av, err := r.attrs(a)
		if err == nil {
			var o object
			if a.Kind == Create {
				o, err = r.t.api.create(ctx, typeOf(a).id, av)
				if err == nil {
					r.set(store.Mapping{Item: a.Item, Remote: string(o.ID), State: o.Key, Hash: a.Hash})
					r.rep.Created++
				}
			} else {
				o, err = r.t.api.update(ctx, a.Object, typeOf(a).id, av)
				if err == nil {
					m := r.maps.Items[a.Item]
					m.Hash = a.Hash
					if o.Key != "" {
						m.State = o.Key
					}
					r.set(m)
					r.rep.Updated++
					if a.Type == FindingObject && a.Values["status"] != nil && !isOpenStatus(a.Values["status"][0]) {
						r.rep.Closed++
					}
				}
			}
		}
		if err != nil {
			var ae *atlassian.Error
			if ctx.Err() != nil || errors.As(err, &ae) && atlassian.IsFatal(err) {
				return err
			}
			r.rep.Failed++
			switch {
			case a.Kind == Create && atlassian.IsAmbiguous(err):
				r.note("%s: create %s may have been carried out (%v); the next run looks for it by Name", a.Name, a.Type, err)
			case a.Kind == Create:
				r.maps.Drop(a.Item)
				r.note("%s: create %s failed: %v", a.Name, a.Type, err)
			case atlassian.StatusOf(err) == http.StatusNotFound:
				r.rep.Failed--
				r.note("%s: object %s no longer exists; its mapping is dropped", a.Name, a.Object)
				r.maps.Drop(a.Item)
			default:
				r.note("%s: update %s failed: %v", a.Name, a.Type, err)
			}
		}
		if r.maps.Unflushed() >= 50 {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func isOpenStatus(s string) bool {
	return s == "New" || s == "Active" || s == "Re-Opened"
}
