package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/publish/mysql/mysqltest"
	"qvt/internal/sim"
	"qvt/internal/store/storetest"
)

// concData is the estate of the concurrency test: enough hosts that the
// incremental sync writes many batches while the others read.
var concData = gen.Config{Seed: 23, QIDs: 500, Hosts: 400, DetectionsPerHost: 10, CVEs: 800}

// A sync, the dashboard under requests, exports and publishes to MySQL,
// all at once on one store: nothing is lost, doubled or torn. Each export
// is one snapshot (every host's findings as before the sync or as after
// it, every QID's KB fields the same on all its findings, no key twice),
// every dashboard answer is 200 and its totals add up, and the MySQL
// table ends holding exactly the store's findings. PostgreSQL is the
// engine this is for (serve and export read REPEATABLE READ snapshots
// while the sync writes); SQLite must hold to it too.
func TestSyncServeExportPublishAtOnce(t *testing.T) {
	storetest.Run(t, testSyncServeExportPublishAtOnce)
}

func testSyncServeExportPublishAtOnce(t *testing.T, loc string) {
	s := startSyncSim(t, sim.Config{Data: concData, Concurrency: 3, Latency: 40 * time.Millisecond})
	env := syncSimEnv(s, loc)
	env["QVT_MYSQL_DSN"] = mariaDB(t)
	run := func(ctx context.Context, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(ctx, args, &out, &errb, func(k string) string { return env[k] })
		return code, out.String(), errb.String()
	}
	must := func(args ...string) string {
		t.Helper()
		code, out, errs := run(context.Background(), args...)
		if code != 0 {
			t.Fatalf("qvt %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	exportAll := []string{"export", "--format", "ndjson", "--status", "all"}

	// The store before: a full sync and a first publish. Then a day
	// passes on the double: findings get fixed, reopened and added.
	must("sync", "--full")
	must("publish", "--to", "mysql")
	before := parseExport(t, must(exportAll...))
	s.Advance()

	// serving ends serve; asking ends the dashboard clients, first, so
	// that serve shuts down with no request in flight.
	serving, stopServing := context.WithCancel(context.Background())
	defer stopServing()
	asking, stopAsking := context.WithCancel(context.Background())
	defer stopAsking()
	var writers, clients sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 40 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}

	// The dashboard, asked without pause from two clients.
	addr := freeAddr(t)
	served := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() {
		served <- Run(serving, []string{"serve", "--addr", addr}, io.Discard, &serveErr, func(k string) string { return env[k] })
	}()
	waitGet(t, "http://"+addr+"/healthz", served)

	// The sync, incremental, in small batches so that it commits many
	// times while the others read.
	syncing := make(chan struct{})
	var syncStart, syncEnd time.Time
	writers.Go(func() {
		syncStart = time.Now()
		code, _, errs := run(context.Background(), "sync", "--batch", "5", "--workers", "2", "--wait")
		syncEnd = time.Now()
		close(syncing)
		if code != 0 {
			fail("sync: exit %d\n%s", code, errs)
		}
	})

	requests := 0
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for range 2 {
		clients.Go(func() {
			paths := []string{"/", "/findings", "/findings?status=all&sort=deadline", "/findings?status=closed&sort=host",
				"/api/summary", "/api/findings?status=all&limit=100", "/api/findings?status=open&sort=deadline&limit=50"}
			for i := 0; ; i++ {
				select {
				case <-asking.Done():
					return
				default:
				}
				p := paths[i%len(paths)]
				body, status, err := get(client, "http://"+addr+p)
				if err != nil {
					if asking.Err() == nil {
						fail("GET %s: %v", p, err)
					}
					return
				}
				mu.Lock()
				requests++
				mu.Unlock()
				if status != http.StatusOK {
					fail("GET %s: %d\n%.300s", p, status, body)
					continue
				}
				checkDashboard(p, body, fail)
			}
		})
	}

	// Exports, one after another, until the sync has ended.
	type taken struct {
		start, end time.Time
		out        string
	}
	var exports []taken
	writers.Go(func() {
		for {
			start := time.Now()
			code, out, errs := run(context.Background(), exportAll...)
			if code != 0 {
				fail("export: exit %d\n%s", code, errs)
				return
			}
			mu.Lock()
			exports = append(exports, taken{start, time.Now(), out})
			mu.Unlock()
			select {
			case <-syncing:
				return
			default:
			}
		}
	})

	// Publishes, waiting their turn behind the sync's writer lock, until
	// one has run after the sync: the table must then hold the store.
	publishes := 0
	writers.Go(func() {
		for {
			ended := false
			select {
			case <-syncing:
				ended = true
			default:
			}
			code, _, errs := run(context.Background(), "publish", "--to", "mysql", "--wait")
			if code != 0 {
				fail("publish: exit %d\n%s", code, errs)
				return
			}
			mu.Lock()
			publishes++
			mu.Unlock()
			if ended {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	})

	// The writers and the exports end on their own; the dashboard clients
	// keep asking until stopAsking.
	writersDone := make(chan struct{})
	go func() { writers.Wait(); close(writersDone) }()
	select {
	case <-writersDone:
	case <-time.After(5 * time.Minute):
		t.Fatal("the sync, exports and publishes did not end in 5 minutes")
	}
	after := parseExport(t, must(exportAll...))
	// The dashboard, asked once more, comes to the store's count.
	deadline := time.Now().Add(30 * time.Second)
	for {
		body, status, err := get(client, "http://"+addr+"/api/summary")
		var o struct {
			Total int  `json:"total"`
			Stale bool `json:"stale"`
		}
		if err == nil && status == http.StatusOK && json.Unmarshal([]byte(body), &o) == nil && o.Total == len(after.rows) && !o.Stale {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the dashboard's total is %d (stale %v), the store's %d findings", o.Total, o.Stale, len(after.rows))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopAsking()
	clients.Wait()
	// A connection the clients opened but never used would hold serve's
	// shutdown for its 5 s: close them all first.
	tr.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	stopServing()
	if code := <-served; code != 0 {
		t.Errorf("serve: exit %d\n%s", code, serveErr.String())
	}
	for _, p := range problems {
		t.Error(p)
	}

	// The test proves something only if the sync changed findings and the
	// others ran while it wrote.
	changed := 0
	for h := range union(before.hosts, after.hosts) {
		if before.hosts[h] != after.hosts[h] {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("the sync changed no host's findings: nothing proved")
	}
	during, mixed := 0, 0
	for i, e := range exports {
		if e.start.After(syncStart) && e.end.Before(syncEnd) {
			during++
		}
		x := parseExport(t, e.out)
		if msg := x.problem(); msg != "" {
			t.Errorf("export %d: %s", i, msg)
		}
		fromBefore, fromAfter := 0, 0
		for h := range union(before.hosts, after.hosts) {
			got := x.hosts[h]
			switch {
			case got == before.hosts[h] && got == after.hosts[h]:
			case got == before.hosts[h]:
				fromBefore++
			case got == after.hosts[h]:
				fromAfter++
			default:
				t.Errorf("export %d: host %d's findings are neither as before the sync nor as after it:\n got %.400s\nbefore %.400s\n after %.400s",
					i, h, got, before.hosts[h], after.hosts[h])
			}
		}
		if fromBefore > 0 && fromAfter > 0 {
			mixed++
		}
	}
	if during == 0 {
		t.Errorf("none of %d exports ran while the sync wrote (%v to %v)", len(exports), syncStart, syncEnd)
	}
	t.Logf("%d exports (%d while the sync wrote, %d between its commits), %d publishes, %d dashboard requests; %d of %d hosts changed",
		len(exports), during, mixed, publishes, requests, changed, len(after.hosts))
	if msg := after.problem(); msg != "" {
		t.Errorf("the export after: %s", msg)
	}

	// The MySQL table holds the store's findings, each once, as they are.
	db, err := sql.Open("mysql", env["QVT_MYSQL_DSN"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT finding_key, host_id, status, times_found, times_reopened, vuln_score, results FROM qvt_findings")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var key, status, score, results string
		var host int64
		var found, reopened int
		if err := rows.Scan(&key, &host, &status, &found, &reopened, &score, &results); err != nil {
			t.Fatal(err)
		}
		if seen[key] {
			t.Errorf("MySQL holds %s twice", key)
		}
		seen[key] = true
		f, ok := after.rows[key]
		if !ok {
			t.Errorf("MySQL holds %s, the store does not", key)
			continue
		}
		got := fmt.Sprint(host, status, found, reopened, score, results)
		want := fmt.Sprint(f.HostID, f.Status, f.TimesFound, f.TimesReopened, f.VulnScore, f.Results)
		if got != want {
			t.Errorf("MySQL's %s is %q, the store's %q", key, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for key := range after.rows {
		if !seen[key] {
			t.Errorf("the store's %s is not in MySQL", key)
		}
	}
}

// expRow is the part of an exported finding the test reads by name.
type expRow struct {
	Key           string `json:"key"`
	HostID        int64  `json:"host_id"`
	QID           int    `json:"qid"`
	Status        string `json:"status"`
	TimesFound    int    `json:"times_found"`
	TimesReopened int    `json:"times_reopened"`
	VulnScore     string `json:"vuln_score"`
	Results       string `json:"results"`
}

// kbFields are the fields an export takes from the KB and NVD: the same
// on every finding of a QID in one snapshot.
var kbFields = []string{"title", "category", "vuln_type", "diagnosis", "consequence", "solution", "patchable",
	"remote", "vendor_refs", "cves", "cve_id", "cvss_version", "cvss_vector", "base", "temporal", "env_score",
	// What KEV, EPSS and threat intel say of the QID, which their phases
	// change for every host at once.
	"kev", "kev_cves", "kev_date_added", "kev_due_date", "kev_ransomware", "epss", "epss_percentile", "epss_cve", "threat_intel"}

// snapshot is an NDJSON export read back: each host's findings as text
// (without the KB's fields, which a KB sync changes for every host at
// once), each QID's KB fields, and the rows by key.
type snapshot struct {
	lines int
	rows  map[string]expRow
	hosts map[int64]string
	qids  map[int]map[string]bool // QID → its KB fields, as JSON, as found
	dups  []string
}

func parseExport(t *testing.T, out string) *snapshot {
	t.Helper()
	x := &snapshot{rows: map[string]expRow{}, hosts: map[int64]string{}, qids: map[int]map[string]bool{}}
	perHost := map[int64][]string{}
	for l := range strings.Lines(out) {
		x.lines++
		var r expRow
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("export line %d: %v", x.lines, err)
		}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := x.rows[r.Key]; ok {
			x.dups = append(x.dups, r.Key)
		}
		x.rows[r.Key] = r
		kb := map[string]json.RawMessage{}
		for _, f := range kbFields {
			kb[f] = m[f]
			delete(m, f)
		}
		// vuln_score and breach_date follow the KB's scores too, and the
		// priority follows them and the QID's KEV and EPSS.
		for _, f := range []string{"vuln_score", "breach_date", "priority", "priority_reason", "due_date"} {
			delete(m, f)
		}
		kbJSON, _ := json.Marshal(kb)
		if x.qids[r.QID] == nil {
			x.qids[r.QID] = map[string]bool{}
		}
		x.qids[r.QID][string(kbJSON)] = true
		rest, _ := json.Marshal(m)
		perHost[r.HostID] = append(perHost[r.HostID], string(rest))
	}
	for h, ls := range perHost {
		sort.Strings(ls)
		x.hosts[h] = strings.Join(ls, "\n")
	}
	return x
}

// problem says what makes the export not one snapshot on its own.
func (x *snapshot) problem() string {
	if len(x.dups) > 0 {
		return fmt.Sprintf("%d keys twice (%s…)", len(x.dups), x.dups[0])
	}
	if x.lines != len(x.rows) {
		return fmt.Sprintf("%d lines, %d keys", x.lines, len(x.rows))
	}
	for q, versions := range x.qids {
		if len(versions) > 1 {
			return fmt.Sprintf("QID %d has %d versions of its KB fields", q, len(versions))
		}
	}
	return ""
}

func union[V any](a, b map[int64]V) map[int64]bool {
	u := map[int64]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func get(c *http.Client, url string) (string, int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// checkDashboard checks that an answer's totals add up: the overview's
// counts by rating, status and closing reason against its totals, and a
// list page's rows against its total.
func checkDashboard(path, body string, fail func(string, ...any)) {
	switch {
	case strings.HasPrefix(path, "/api/summary"):
		type count struct {
			Count int `json:"count"`
		}
		var o struct {
			Total    int     `json:"total"`
			Open     int     `json:"open"`
			ByRating []count `json:"by_rating"`
			ByStatus []count `json:"by_status"`
			Closed   []count `json:"closed"`
			Matrix   []count `json:"matrix"`
		}
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			fail("GET %s: %v", path, err)
			return
		}
		sum := func(cs []count) int {
			n := 0
			for _, c := range cs {
				n += c.Count
			}
			return n
		}
		if r, s, c, m := sum(o.ByRating), sum(o.ByStatus), sum(o.Closed), sum(o.Matrix); r != o.Open || s != o.Open || o.Open+c != o.Total || m != o.Total {
			fail("GET %s: totals do not add up: open %d, by rating %d, by status %d; total %d, open+closed %d, matrix %d",
				path, o.Open, r, s, o.Total, o.Open+c, m)
		}
	case strings.HasPrefix(path, "/api/findings"):
		var p struct {
			Findings []struct {
				Key string `json:"key"`
			} `json:"findings"`
			Total *int `json:"total"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			fail("GET %s: %v", path, err)
			return
		}
		keys := map[string]bool{}
		for _, f := range p.Findings {
			if keys[f.Key] {
				fail("GET %s: %s twice on one page", path, f.Key)
			}
			keys[f.Key] = true
		}
		if p.Total != nil && *p.Total < len(p.Findings) {
			fail("GET %s: total %d, %d rows on the page", path, *p.Total, len(p.Findings))
		}
	}
}

// mariaDB creates a database for the test on the MariaDB of the machine
// (mysqltest), dropped when the test ends, and returns its DSN.
func mariaDB(t *testing.T) string {
	t.Helper()
	return mysqltest.Database(t, "qvt_conc")
}
