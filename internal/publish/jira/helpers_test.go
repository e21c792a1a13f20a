package jira

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/publish"
	"qvt/internal/publish/atlassian/atlassiantest"
	"qvt/internal/publish/jira/jiratest"
	"qvt/internal/qualys"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

const (
	first = "2025-12-20T10:00:00Z"
	tA    = "2026-01-01T00:00:00Z"
	tB    = "2026-01-08T00:00:00Z"
	tC    = "2026-01-15T00:00:00Z"
)

var det = atlassiantest.Det

// scanA: two hosts. Host 42 has a Critical, two High (one the worked KB
// QID 105936 with CVSS and a CVE), a Medium and a Low that is already
// Fixed; host 43 a Critical and a High.
func scanA() atlassiantest.Scan {
	return atlassiantest.Scan{Datetime: tA, Hosts: []*qualys.Host{
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

// scanB rescans host 42: 1001 turns Active (not news), 1002 Fixed, 1003
// gone, 1004 Re-Opened (never published: it was fixed), 1005 new.
func scanB() atlassiantest.Scan {
	return atlassiantest.Scan{Datetime: tB, Hosts: []*qualys.Host{
		atlassiantest.Host(42, "10.0.0.1", "app-01", "2026-01-07T10:00:00Z",
			det(1001, 443, 5, "Active", "2025-12-31T10:00:00Z", "2026-01-07T10:00:00Z"),
			det(1002, 0, 4, "Fixed", first, "2025-12-31T10:00:00Z"),
			det(1004, 80, 2, "Re-Opened", first, "2026-01-07T10:00:00Z"),
			det(1005, 443, 3, "New", "2026-01-07T10:00:00Z", "2026-01-07T10:00:00Z"),
			det(105936, 0, 4, "Active", first, "2026-01-07T10:00:00Z"),
		),
	}}
}

// scanC rescans host 42: 1002 is back (Re-Opened).
func scanC() atlassiantest.Scan {
	d1004 := det(1004, 80, 2, "Active", first, "2026-01-14T10:00:00Z")
	d1004.TimesReopened = 1 // Qualys keeps counting
	return atlassiantest.Scan{Datetime: tC, Hosts: []*qualys.Host{
		atlassiantest.Host(42, "10.0.0.1", "app-01", "2026-01-14T10:00:00Z",
			det(1001, 443, 5, "Active", "2025-12-31T10:00:00Z", "2026-01-14T10:00:00Z"),
			det(1002, 0, 4, "Re-Opened", first, "2026-01-14T10:00:00Z"),
			d1004,
			det(1005, 443, 3, "Active", "2026-01-07T10:00:00Z", "2026-01-14T10:00:00Z"),
			det(105936, 0, 4, "Active", first, "2026-01-14T10:00:00Z"),
		),
	}}
}

// newStore opens a new store on be with the worked KB imported.
func newStore(t *testing.T, be storetest.Backend) *store.Store {
	t.Helper()
	return atlassiantest.NewStoreAt(t, be.New(t))
}

// sleeper records the waits asked for instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) total() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, d := range s.waits {
		t += d
	}
	return t
}

func newTarget(t *testing.T, srv *jiratest.Server, mod func(*Config), opts ...Option) (*Target, *sleeper) {
	t.Helper()
	o := srv.Options()
	cfg := Config{URL: srv.URL, User: o.User, Token: o.Token, Project: "SEC"}
	if mod != nil {
		mod(&cfg)
	}
	sl := &sleeper{}
	opts = append([]Option{WithHTTPClient(srv.Client()), WithSleep(sl.sleep)}, opts...)
	tg, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tg, sl
}

func publishRun(t *testing.T, tg *Target, st *store.Store, dry bool) (publish.Report, string, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := tg.Publish(context.Background(), st, publish.Options{DryRun: dry, Out: &out,
		Now: func() time.Time { return time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC) }})
	return rep, out.String(), err
}

func mustRun(t *testing.T, tg *Target, st *store.Store) publish.Report {
	t.Helper()
	rep, _, err := publishRun(t, tg, st, false)
	if err != nil {
		t.Fatalf("publish: %v\n%s", err, rep)
	}
	return rep
}

// counts is a report's counts as text.
func counts(r publish.Report) string {
	return strings.Join([]string{
		"c" + itoa(r.Created), "u" + itoa(r.Updated), "x" + itoa(r.Closed), "r" + itoa(r.Reopened), "f" + itoa(r.Failed),
	}, " ")
}

func itoa(n int) string { return strconv.Itoa(n) }

// byLabel maps each dedupe label to the issues carrying it, and fails on
// a duplicate.
func byLabel(t *testing.T, srv *jiratest.Server) map[string]jiratest.Issue {
	t.Helper()
	out := map[string]jiratest.Issue{}
	for _, is := range srv.Issues() {
		for _, l := range is.Labels {
			if strings.HasPrefix(l, "qvt-") && l != OwnerChangedLabel && l != MovedLabel {
				if prev, dup := out[l]; dup {
					t.Errorf("duplicate issues for %s: %s and %s", l, prev.Key, is.Key)
				}
				out[l] = is
			}
		}
	}
	return out
}

// issueOf is the issue of a finding key (finding grouping).
func issueOf(t *testing.T, srv *jiratest.Server, key string) jiratest.Issue {
	t.Helper()
	is, ok := byLabel(t, srv)[DedupeLabel(key)]
	if !ok {
		t.Fatalf("no issue for %s", key)
	}
	return is
}

func mappings(t *testing.T, st *store.Store) map[string]store.Mapping {
	t.Helper()
	m, err := st.Mappings(context.Background(), TargetName)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func keysOf[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
