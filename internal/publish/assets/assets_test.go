package assets

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/publish"
	"qvt/internal/publish/assets/assetstest"
	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

const first = "2025-12-20T10:00:00Z"

var det = atlassiantest.Det

func scanA() atlassiantest.Scan {
	return atlassiantest.Scan{Datetime: "2026-01-01T00:00:00Z", Hosts: []*qualys.Host{
		atlassiantest.Host(42, "10.0.0.1", "app-01", "2025-12-31T10:00:00Z",
			det(1001, 443, 5, "New", "2025-12-31T10:00:00Z", "2025-12-31T10:00:00Z"),
			det(1002, 0, 4, "Active", first, "2025-12-31T10:00:00Z"),
			det(1003, 22, 3, "Active", first, "2025-12-31T10:00:00Z"),
			det(1004, 80, 2, "Fixed", first, "2025-12-24T10:00:00Z"),
			det(105936, 0, 4, "Active", first, "2025-12-31T10:00:00Z"),
		),
		atlassiantest.Host(43, "10.0.0.2", "db-01", "2025-12-31T10:00:00Z",
			det(1001, 443, 5, "Active", first, "2025-12-31T10:00:00Z"),
			det(1002, 0, 4, "Active", first, "2025-12-31T10:00:00Z"),
		),
	}}
}

func scanB() atlassiantest.Scan {
	return atlassiantest.Scan{Datetime: "2026-01-08T00:00:00Z", Hosts: []*qualys.Host{
		atlassiantest.Host(42, "10.0.0.1", "app-01", "2026-01-07T10:00:00Z",
			det(1001, 443, 5, "Active", "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"),
			det(1002, 0, 4, "Fixed", first, "2025-12-31T10:00:00Z"),
			det(1004, 80, 2, "Re-Opened", first, "2026-01-07T10:00:00Z"),
			det(1005, 443, 3, "New", "2026-01-07T10:00:00Z", "2026-01-07T10:00:00Z"),
			det(105936, 0, 4, "Active", first, "2026-01-07T10:00:00Z"),
		),
	}}
}

// newStore opens a new store on be with the worked KB imported.
func newStore(t *testing.T, be storetest.Backend) *store.Store {
	t.Helper()
	return atlassiantest.NewStoreAt(t, be.New(t))
}

type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return nil
}

// newTarget configures a target for srv: Cloud with the workspace
// looked up on the "Jira site" (the double), or Data Center by URL.
func newTarget(t *testing.T, srv *assetstest.Server, mod func(*Config)) (*Target, *sleeper) {
	t.Helper()
	o := srv.Options()
	cfg := Config{Schema: "ITA", User: o.User, Token: o.Token}
	if o.Flavor == "cloud" {
		cfg.JiraURL, cfg.CloudAPI = srv.URL, srv.URL
	} else {
		cfg.URL = srv.BaseURL()
	}
	if mod != nil {
		mod(&cfg)
	}
	sl := &sleeper{}
	tg, err := New(cfg, WithHTTPClient(srv.Client()), WithSleep(sl.sleep))
	if err != nil {
		t.Fatal(err)
	}
	return tg, sl
}

var day = time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC)

func publishRun(t *testing.T, tg *Target, st *store.Store, dry bool, now time.Time) (publish.Report, string, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := tg.Publish(context.Background(), st, publish.Options{DryRun: dry, Out: &out, Now: func() time.Time { return now }})
	return rep, out.String(), err
}

func mustRun(t *testing.T, tg *Target, st *store.Store) publish.Report {
	t.Helper()
	rep, _, err := publishRun(t, tg, st, false, day)
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, rep)
	}
	return rep
}

func initSchema(t *testing.T, tg *Target) []string {
	t.Helper()
	done, err := tg.InitReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return done
}

func value(o assetstest.Object, attr string) string {
	return strings.Join(o.Values[attr], ",")
}

// hostCounts is "critical/high/medium/low overdue".
func hostCounts(o assetstest.Object) string {
	return value(o, "Open Critical") + "/" + value(o, "Open High") + "/" + value(o, "Open Medium") + "/" + value(o, "Open Low") + " " + value(o, "Overdue")
}

// --init creates what is missing, once; what exists stays.
func TestInit(t *testing.T) { storetest.Each(t, testInit) }

func testInit(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	// A Host type exists with some of the attributes.
	srv.AddType("Host", assetstest.Attr{Name: "Name", Label: true}, assetstest.Attr{Name: "IP"}, assetstest.Attr{Name: "Open Critical", DefaultType: assetstest.Integer})
	tg, _ := newTarget(t, srv, nil)
	done := initSchema(t, tg)
	got := strings.Join(done, "\n")
	for _, want := range []string{"object type Vulnerability Finding", "attribute Host.Hostname", "attribute Host.Overdue",
		"attribute Vulnerability Finding.Host", "attribute Vulnerability Finding.Breach Date"} {
		if !strings.Contains(got, want) {
			t.Errorf("init did not create %s:\n%s", want, got)
		}
	}
	for _, no := range []string{"object type Host\n", "attribute Host.IP", "attribute Host.Open Critical", "Host.Name", "Finding.Name"} {
		if strings.Contains(got+"\n", no) {
			t.Errorf("init created %q, which existed:\n%s", no, got)
		}
	}
	types := srv.Types()
	hostType, ft := types["Host"], types["Vulnerability Finding"]
	kinds := map[string]int{}
	var ref assetstest.Attr
	for _, a := range ft.Attrs {
		kinds[a.Name] = a.DefaultType
		if a.Name == "Host" {
			ref = *a
		}
	}
	if ref.Type != 1 || ref.RefType != hostType.ID || kinds["QID"] != assetstest.Integer || kinds["Breach Date"] != assetstest.Date || kinds["CVSS"] != assetstest.Double {
		t.Errorf("finding attributes: ref %+v kinds %v", ref, kinds)
	}
	if again := initSchema(t, tg); len(again) != 0 {
		t.Errorf("a second init created %v", again)
	}
	// Publishing without init says what to do.
	srv2 := assetstest.New(assetstest.Options{Flavor: "datacenter"})
	defer srv2.Close()
	tg2, _ := newTarget(t, srv2, func(c *Config) { c.User = "" })
	st := newStore(t, be)
	if _, _, err := publishRun(t, tg2, st, false, day); err == nil || !strings.Contains(err.Error(), "--init") {
		t.Errorf("want an error pointing at --init, got %v", err)
	}
}

// Cloud, the workspace found on the Jira site: objects are created once,
// reruns change nothing, closed findings update their Status and host
// counts follow.
func TestPublishCloud(t *testing.T) { storetest.Each(t, testPublishCloud) }

func testPublishCloud(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, _ := newTarget(t, srv, nil)
	initSchema(t, tg)
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	rep := mustRun(t, tg, st)
	if rep.Created != 8 || rep.Failed != 0 {
		t.Fatalf("first run: %s", rep)
	}
	hosts, fs := srv.Objects("Host"), srv.Objects("Vulnerability Finding")
	if len(hosts) != 2 || len(fs) != 6 {
		t.Fatalf("%d hosts, %d findings", len(hosts), len(fs))
	}
	h42 := hosts["10.0.0.1"]
	if got := hostCounts(h42); got != "1/2/1/0 3" {
		t.Errorf("host 42 counts %s", got)
	}
	if value(h42, "Hostname") != "app-01" || value(h42, "Qualys Host ID") != "42" || value(h42, "OS") != "Linux" {
		t.Errorf("host 42: %+v", h42.Values)
	}
	if got := hostCounts(hosts["10.0.0.2"]); got != "1/1/0/0 2" {
		t.Errorf("host 43 counts %s", got)
	}
	kb := fs["10.0.0.1:105936:0"]
	if value(kb, "QID") != "105936" || value(kb, "Status") != "Active" || value(kb, "Rating") != "High" || value(kb, "CVSS") != "7.6" ||
		value(kb, "Breach Date") != "2026-01-19" || value(kb, "Host") != itoa(h42.ID) || !strings.Contains(value(kb, "Title"), "OpenSSH") {
		t.Errorf("finding object: %+v", kb.Values)
	}
	snap := srv.Snapshot()
	if rep := mustRun(t, tg, st); rep.Created+rep.Updated != 0 {
		t.Errorf("rerun: %s", rep)
	}
	if srv.Snapshot() != snap {
		t.Errorf("a rerun changed Assets")
	}

	atlassiantest.Import(t, st, scanB())
	rep = mustRun(t, tg, st)
	// Created: 1004, 1005. Updated: 1002 (Fixed), 1003 (Gone), 1001
	// (Status New → Active) and host 42's counts.
	if rep.Created != 2 || rep.Updated != 4 || rep.Closed != 2 || rep.Failed != 0 {
		t.Fatalf("after scan B: %s", rep)
	}
	fs = srv.Objects("Vulnerability Finding")
	if value(fs["10.0.0.1:1002:0"], "Status") != "Fixed" || value(fs["10.0.0.1:1003:22"], "Status") != "Gone" || value(fs["10.0.0.1:1001:443"], "Status") != "Active" {
		t.Errorf("statuses: %v %v", fs["10.0.0.1:1002:0"].Values, fs["10.0.0.1:1003:22"].Values)
	}
	if got := hostCounts(srv.Objects("Host")["10.0.0.1"]); got != "1/1/1/1 2" {
		t.Errorf("host 42 counts after B %s", got)
	}
	if n := srv.CountObjects(); n != 10 {
		t.Errorf("%d objects, want 10", n)
	}
	if rep := mustRun(t, tg, st); rep.Created+rep.Updated != 0 {
		t.Errorf("rerun after B: %s", rep)
	}
	// Later, 1005 (Medium, due 2026-04-07) turns overdue with no scan:
	// host 42's count follows; host 43's stays.
	rep, _, err := publishRun(t, tg, st, false, time.Date(2026, 4, 10, 0, 0, 0, 0, time.UTC))
	if err != nil || rep.Updated != 1 || rep.Created != 0 {
		t.Fatalf("next day: %v %s", err, rep)
	}
	if got := hostCounts(srv.Objects("Host")["10.0.0.1"]); got != "1/1/1/1 3" {
		t.Errorf("host 42 overdue later: %s", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Data Center (Insight base, IQL; Assets base, AQL), a bearer PAT, short
// pages: a lost mapping table is rebuilt by Name, no duplicates.
func TestPublishDataCenter(t *testing.T) { storetest.Each(t, testPublishDataCenter) }

func testPublishDataCenter(t *testing.T, be storetest.Backend) {
	for _, base := range []string{"/rest/insight/1.0", "/rest/assets/1.0"} {
		t.Run(base, func(t *testing.T) {
			srv := assetstest.New(assetstest.Options{Flavor: "datacenter", DCBase: base, PageSize: 2})
			defer srv.Close()
			tg, _ := newTarget(t, srv, func(c *Config) { c.User = "" })
			initSchema(t, tg)
			st := newStore(t, be)
			atlassiantest.Import(t, st, scanA())
			if rep := mustRun(t, tg, st); rep.Created != 8 {
				t.Fatalf("first run: %s", rep)
			}
			st.DeleteMappings(t.Context(), TargetName, nil)
			rep := mustRun(t, tg, st)
			if rep.Created != 0 || srv.CountObjects() != 8 {
				t.Fatalf("after losing the mappings: %s, %d objects", rep, srv.CountObjects())
			}
			search := "/aql/objects"
			if base == "/rest/insight/1.0" {
				search = "/iql/objects"
			}
			if n := srv.Count("GET", base+search, 200); n < 4 {
				t.Errorf("%d search pages, want paging", n)
			}
			atlassiantest.Import(t, st, scanB())
			if rep := mustRun(t, tg, st); rep.Created != 2 || rep.Failed != 0 {
				t.Errorf("after B: %s", rep)
			}
			if srv.CountObjects() != 10 {
				t.Errorf("%d objects", srv.CountObjects())
			}
		})
	}
}

// A create whose answer is lost is not repeated: the next run finds the
// object by Name. 429s without Retry-After back off and succeed.
func TestCrashAndRateLimit(t *testing.T) { storetest.Each(t, testCrashAndRateLimit) }

func testCrashAndRateLimit(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, sl := newTarget(t, srv, nil)
	initSchema(t, tg)
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	srv.Inject(atlassiantest.Throttle429(6, ""),
		atlassiantest.Rule{Method: "POST", PathPrefix: "/jsm/assets/workspace/ws-1/v1/object/create", Count: 2, Status: 500, After: true})
	rep, _, err := publishRun(t, tg, st, false, day)
	if err != nil || rep.Failed == 0 {
		t.Fatalf("want failures, got %v %s", err, rep)
	}
	if len(sl.waits) < 6 {
		t.Errorf("waits %v", sl.waits)
	}
	if n := srv.CountObjects(); n != 8 && n != 7 {
		t.Logf("%d objects after the first run", n)
	}
	rep = mustRun(t, tg, st)
	if srv.CountObjects() != 8 || rep.Failed != 0 {
		t.Fatalf("after restart: %d objects, %s", srv.CountObjects(), rep)
	}
	for it, m := range mustMappings(t, st) {
		if m.State == "pending" || m.Remote == "" {
			t.Errorf("%s: %+v", it, m)
		}
	}
	names := map[string]int{}
	for _, typ := range []string{"Host", "Vulnerability Finding"} {
		for n := range srv.Objects(typ) {
			names[n]++
		}
	}
	if len(names) != 8 {
		t.Errorf("objects by name: %v", names)
	}
}

func mustMappings(t *testing.T, st *store.Store) map[string]store.Mapping {
	m, err := st.Mappings(context.Background(), TargetName)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A dry run prints the plan and changes nothing.
func TestDryRun(t *testing.T) { storetest.Each(t, testDryRun) }

func testDryRun(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, _ := newTarget(t, srv, nil)
	initSchema(t, tg)
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	snap := srv.Snapshot()
	rep, out, err := publishRun(t, tg, st, true, day)
	if err != nil || rep.Created != 8 {
		t.Fatalf("%v %s", err, rep)
	}
	if !strings.Contains(out, "ACTION  TYPE") || !strings.Contains(out, "create  Vulnerability Finding  10.0.0.1:105936:0") {
		t.Errorf("plan:\n%s", out)
	}
	if srv.Snapshot() != snap || len(mustMappings(t, st)) != 0 {
		t.Errorf("a dry run changed something")
	}
	if v, _ := st.PublishState(t.Context(), TargetName, stateRev); v != "" {
		t.Errorf("a dry run set the watermark %q", v)
	}
}

// MinRating: only findings so rated get objects; hosts still count all.
func TestMinRating(t *testing.T) { storetest.Each(t, testMinRating) }

func testMinRating(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{})
	defer srv.Close()
	tg, _ := newTarget(t, srv, func(c *Config) { c.MinRating = "critical" })
	initSchema(t, tg)
	st := newStore(t, be)
	atlassiantest.Import(t, st, scanA())
	mustRun(t, tg, st)
	if fs := srv.Objects("Vulnerability Finding"); len(fs) != 2 {
		t.Errorf("%d finding objects, want the 2 Critical", len(fs))
	}
	if got := hostCounts(srv.Objects("Host")["10.0.0.1"]); got != "1/2/1/0 3" {
		t.Errorf("counts %s", got)
	}
}

// Many objects lost from the mapping table: the type is scanned page by
// page instead of asked name by name; nothing is duplicated.
func TestRebuildLarge(t *testing.T) { storetest.Each(t, testRebuildLarge) }

func testRebuildLarge(t *testing.T, be storetest.Backend) {
	srv := assetstest.New(assetstest.Options{PageSize: 40})
	defer srv.Close()
	tg, _ := newTarget(t, srv, nil)
	initSchema(t, tg)
	st := newStore(t, be)
	var dets []qualys.Detection
	for i := range 210 {
		dets = append(dets, det(4000+i, 0, 3, "Active", first, "2025-12-31T10:00:00Z"))
	}
	atlassiantest.Import(t, st, atlassiantest.Scan{Datetime: "2026-01-01T00:00:00Z", Hosts: []*qualys.Host{
		atlassiantest.Host(70, "10.0.0.70", "many-01", "2025-12-31T10:00:00Z", dets...)}})
	if rep := mustRun(t, tg, st); rep.Created != 211 {
		t.Fatalf("first run: %s", rep)
	}
	st.DeleteMappings(t.Context(), TargetName, nil)
	aql := srv.Count("POST", "", 0)
	rep := mustRun(t, tg, st)
	if rep.Created != 0 || srv.CountObjects() != 211 || len(mustMappings(t, st)) != 211 {
		t.Fatalf("rebuild: %s, %d objects", rep, srv.CountObjects())
	}
	if n := srv.Count("POST", "", 0) - aql; n < 6 || n > 8 {
		t.Errorf("%d search calls for 210 findings in pages of 40 (plus the host)", n)
	}
}
