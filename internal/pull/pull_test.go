package pull_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/epss"
	"qvt/internal/gen"
	"qvt/internal/kev"
	"qvt/internal/load"
	"qvt/internal/nvd"
	"qvt/internal/pull"
	"qvt/internal/qualys"
	"qvt/internal/sim"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

var testData = gen.Config{Seed: 7, QIDs: 1500, Hosts: 120, DetectionsPerHost: 20, CVEs: 2500}

// env is a double and clients for it, with fast retries.
type env struct {
	sim    *sim.Server
	qualys *qualys.Client
	nvd    *nvd.Client
	kev    *kev.Client
	epss   *epss.Client
}

func newEnv(t testing.TB, cfg sim.Config) *env {
	t.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	q, err := qualys.NewClient(qualys.ClientConfig{BaseURL: base, Username: "demo", Password: "demo",
		BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 12})
	if err != nil {
		t.Fatal(err)
	}
	n, err := nvd.NewClient(nvd.ClientConfig{BaseURL: s.NVDURL(), Requests: 1000, Window: time.Second,
		BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 12})
	if err != nil {
		t.Fatal(err)
	}
	k := kev.NewClient(kev.ClientConfig{URL: s.KEVURL(), BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 12})
	p := epss.NewClient(epss.ClientConfig{URL: s.EPSSURL(), BaseDelay: time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxAttempts: 12})
	return &env{sim: s, qualys: q, nvd: n, kev: k, epss: p}
}

// openStore opens a new, empty store on be.
func openStore(t testing.TB, be storetest.Backend) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), be.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (e *env) syncer(st *store.Store) *pull.Syncer {
	return &pull.Syncer{Store: st, Qualys: e.qualys, NVD: e.nvd, KEV: e.kev, EPSS: e.epss, Loader: &load.Loader{Policy: assess.DefaultPolicy()}}
}

var opts = pull.Options{BatchSize: 25, KBRange: 400, Workers: 3}

// dump returns the data tables, without the columns that record when the
// data was seen (they follow the double's running clock).
func dump(t testing.TB, st *store.Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT qid, hash FROM kb_vulns ORDER BY qid",
		"SELECT qid, ord, cve_id FROM kb_cves ORDER BY qid, ord",
		"SELECT id, hash FROM nvd_cves ORDER BY id",
		"SELECT cve_id, ord, vector, base_score FROM nvd_metrics ORDER BY cve_id, ord",
		"SELECT id, ip, os, last_vm_scanned FROM hosts ORDER BY id",
		"SELECT host_id, name FROM host_tags ORDER BY host_id, name",
		`SELECT host_id, qid, port, status, type, severity, first_found, last_found, times_found, last_fixed,
		  times_reopened, results, extra, vuln_score, breach_date, closed, qds, priority, priority_reason, due_date, urgency
		  FROM detections ORDER BY host_id, qid, port`,
		"SELECT qid, policy, cve_id, cvss_vector, env_score, rating FROM qid_scores ORDER BY qid, policy",
		"SELECT cve, date_added, due_date, ransomware, notes FROM kev_entries ORDER BY cve",
		"SELECT cve, epss, percentile FROM epss_scores ORDER BY cve",
		"SELECT qid, kev, kev_cves, kev_date_added, epss, epss_cve, threat_intel FROM qid_risk ORDER BY qid",
	} {
		rows, err := st.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		n := 0
		for rows.Next() {
			rows.Scan(ptrs...)
			for _, v := range vals {
				b.Write(v)
				b.WriteByte('|')
			}
			b.WriteByte('\n')
			n++
		}
		rows.Close()
		fmt.Fprintf(&b, "-- %d rows: %s\n", n, q[:30])
	}
	return b.String()
}

func TestFullSync(t *testing.T) { storetest.Each(t, testFullSync) }

func testFullSync(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	res, err := e.syncer(st).Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	d := e.sim.Dataset()
	if res.Kind != "full" || !res.KBFull || res.Vulns != len(d.QIDs()) || res.CVEs != d.CVECount(0) || res.Hosts == 0 {
		t.Errorf("result = %+v", res)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM hosts").Scan(&n)
	if want := len(d.HostIDs(0)); n != want {
		t.Errorf("%d hosts stored, want %d", n, want)
	}
	// Fixed detections come too: Qualys leaves them out unless asked.
	st.DB().QueryRow("SELECT count(*) FROM detections WHERE status = 'Fixed'").Scan(&n)
	if n == 0 {
		t.Error("no Fixed detections: the sync did not ask for them")
	}
	// The first sync defers the detection indexes and builds them at the end.
	// Each engine lists its indexes in its own catalog; the primary key's
	// index is not one of the schema's secondary ones.
	indexes := "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL"
	if be.Name == "postgres" {
		indexes = "SELECT count(*) FROM pg_index WHERE indrelid = 'detections'::regclass AND NOT indisprimary"
	}
	if err := st.DB().QueryRow(indexes).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Errorf("%d secondary indexes on detections after a full sync, want the schema's 2", n)
	}
	for _, c := range e.sim.Log() {
		if c.API == sim.APIDetections && c.Status == 200 {
			p := c.Params
			if p.Get("status") != "New,Active,Re-Opened,Fixed" || p.Get("show_reopened_info") != "1" || p.Get("show_tags") != "1" {
				t.Errorf("detection call params = %v", p)
			}
		}
	}
	for _, api := range []string{sim.APIKB, sim.APIHostList, sim.APIDetections} {
		if m := e.sim.MaxConcurrent(api); m > 3 {
			t.Errorf("%s: %d calls at once, over the limit of 3", api, m)
		}
	}
}

// Faults (503s, 409s, bodies cut mid-stream) change nothing but the time
// it takes: the store equals a clean sync's.
func TestFaultySyncEqualsClean(t *testing.T) { storetest.Each(t, testFaultySyncEqualsClean) }

func testFaultySyncEqualsClean(t *testing.T, be storetest.Backend) {
	clean := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	cst := openStore(t, be)
	if _, err := clean.syncer(cst).Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	faulty := newEnv(t, sim.Config{Data: testData, Concurrency: 3,
		Faults: sim.Faults{Seed: 3, P503: 0.15, P409: 0.15, PCut: 0.2, NVD403: 0.1}})
	fst := openStore(t, be)
	if _, err := faulty.syncer(fst).Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	faults := map[string]int{}
	for _, c := range faulty.sim.Log() {
		faults[c.Fault]++
	}
	if faults["503"] == 0 || faults["409"] == 0 || faults["cut"] == 0 {
		t.Fatalf("the double injected too few faults to prove anything: %v", faults)
	}
	if a, b := dump(t, cst), dump(t, fst); a != b {
		os.WriteFile("/tmp/dump_clean.txt", []byte(a), 0o644)
		os.WriteFile("/tmp/dump_faulty.txt", []byte(b), 0o644)
		t.Errorf("the store after a faulty sync differs from a clean one (faults %v)", faults)
	}
	for _, api := range []string{sim.APIKB, sim.APIHostList, sim.APIDetections} {
		if m := faulty.sim.MaxConcurrent(api); m > 3 {
			t.Errorf("%s: %d calls at once, over the limit of 3", api, m)
		}
	}
}

// cancelAfter is a progress that cancels the sync once n detection
// batches are written.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Start(string, int)  {}
func (c *cancelAfter) Done(string, error) {}
func (c *cancelAfter) Add(phase string, n int) {
	if phase == "host detections" {
		if c.n -= n; c.n <= 0 {
			c.cancel()
		}
	}
}

// A sync killed midway leaves the store consistent; the next run resumes
// without fetching the batches it stored, and ends equal to an
// uninterrupted sync.
func TestKilledSyncResumes(t *testing.T) { storetest.Each(t, testKilledSyncResumes) }

func testKilledSyncResumes(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 2})
	st := openStore(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	s := e.syncer(st)
	s.Progress = &cancelAfter{n: 2, cancel: cancel}
	o := opts
	o.Workers = 1
	if _, err := s.Run(ctx, o); err == nil {
		t.Fatal("the interrupted sync did not fail")
	}
	mark, _ := st.State(context.Background(), "detections.watermark")
	if mark != "" {
		t.Errorf("watermark moved by a failed sync: %q", mark)
	}
	// Count the rerun's own calls by their place in the log: a call the
	// interrupted run left in flight may still be logged as answered after
	// the rerun starts.
	before := len(e.sim.Log())
	res, err := e.syncer(st).Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.Skipped < 2 {
		t.Errorf("the rerun did not resume: %+v", res)
	}
	got := 0
	for _, c := range e.sim.Log()[before:] {
		if c.API == sim.APIDetections && c.Status == 200 {
			got++
		}
	}
	if got != res.Batches {
		t.Errorf("the rerun fetched %d detection pages for %d batches left", got, res.Batches)
	}
	whole := openStore(t, be)
	e2 := newEnv(t, sim.Config{Data: testData, Concurrency: 2})
	if _, err := e2.syncer(whole).Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if dump(t, st) != dump(t, whole) {
		t.Error("a killed and resumed sync differs from an uninterrupted one")
	}
}

// Incremental syncs ask only for what changed, from watermarks moved back
// by the overlap, and bring the double's changes in.
func TestIncrementalWatermarks(t *testing.T) { storetest.Each(t, testIncrementalWatermarks) }

func testIncrementalWatermarks(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	ctx := context.Background()
	first, err := e.syncer(st).Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	maxMod, _ := st.MaxKBModified(ctx)
	nCalls := len(e.sim.Log())
	e.sim.Advance()
	second, err := e.syncer(st).Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.Kind != "incremental" || second.KBFull {
		t.Errorf("second sync = %+v", second)
	}
	overlap := 24 * time.Hour
	wantHosts := first.Start.Add(-overlap).UTC().Format(time.RFC3339)
	mod, _ := time.Parse(time.RFC3339, maxMod)
	wantKB := mod.Add(-overlap).UTC().Format(time.RFC3339)
	var sawHostList, sawKB, sawNVD bool
	for _, c := range e.sim.Log()[nCalls:] {
		p := c.Params
		switch c.API {
		case sim.APIHostList, sim.APIDetections:
			if c.API == sim.APIHostList && p.Get("ids") != "" {
				continue // the account check
			}
			if got := p.Get("vm_processed_after"); got != wantHosts {
				t.Errorf("%s: vm_processed_after = %q, want %q (first sync's start minus the overlap)", c.API, got, wantHosts)
			}
			sawHostList = true
		case sim.APIKB:
			if p.Get("ids") != "" {
				continue // QIDs missing from the KB
			}
			if got := p.Get("last_modified_after"); got != wantKB {
				t.Errorf("kb: last_modified_after = %q, want %q", got, wantKB)
			}
			sawKB = true
		case sim.APINVD:
			start, err := time.Parse("2006-01-02T15:04:05.000-07:00", p.Get("lastModStartDate"))
			if err != nil || p.Get("lastModEndDate") == "" {
				t.Errorf("nvd: window %q – %q", p.Get("lastModStartDate"), p.Get("lastModEndDate"))
				continue
			}
			if want := first.Start.Add(-overlap); start.After(want) {
				t.Errorf("nvd: lastModStartDate %s is after the first sync minus the overlap (%s)", start, want)
			}
			sawNVD = true
		}
	}
	if !sawHostList || !sawKB || !sawNVD {
		t.Errorf("incremental calls: host list %v, KB %v, NVD %v", sawHostList, sawKB, sawNVD)
	}
	// What changed at the double is in the store: compare every host the
	// double processed with the store.
	d := e.sim.Dataset()
	changed := d.HostsProcessedSince(first.Start.Add(-overlap), e.sim.Epoch())
	if len(changed) == 0 || second.Hosts != len(changed) {
		t.Errorf("second sync stored %d hosts; the double changed %d", second.Hosts, len(changed))
	}
	var status string
	for _, id := range changed[:min(5, len(changed))] {
		h := d.Host(id, e.sim.Epoch())
		for _, det := range h.Detections {
			if det.Type == "Info" {
				continue
			}
			err := st.DB().QueryRow("SELECT status FROM detections WHERE host_id = ? AND qid = ? AND port = ?", id, det.QID, det.Port).Scan(&status)
			if err != nil || status != det.Status {
				t.Errorf("host %d qid %d: stored %q (%v), the double says %q", id, det.QID, status, err, det.Status)
			}
		}
	}
	// A third sync right away asks again from the second one's start.
	e.sim.Advance()
	third, err := e.syncer(st).Run(ctx, opts)
	if err != nil || !third.Start.After(second.Start) {
		t.Errorf("third sync: %+v, %v", third, err)
	}
}

// A full KB sync runs by itself when the last one is older than KBMaxAge.
func TestKBMaxAge(t *testing.T) { storetest.Each(t, testKBMaxAge) }

func testKBMaxAge(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	ctx := context.Background()
	now := time.Now()
	s := e.syncer(st)
	s.Now = func() time.Time { return now }
	if _, err := s.Run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	now = now.Add(3 * 24 * time.Hour)
	res, err := s.Run(ctx, opts)
	if err != nil || res.KBFull {
		t.Errorf("3 days later: KB full %v, %v", res.KBFull, err)
	}
	now = now.Add(5 * 24 * time.Hour)
	res, err = s.Run(ctx, opts)
	if err != nil || !res.KBFull {
		t.Errorf("8 days after the full KB sync: KB full %v, %v", res.KBFull, err)
	}
}

// Detections naming QIDs the KB lacks bring those QIDs in.
func TestMissingQIDs(t *testing.T) { storetest.Each(t, testMissingQIDs) }

func testMissingQIDs(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	ctx := context.Background()
	if _, err := e.syncer(st).Run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// Forget part of the KB, as an incremental KB pull would miss it.
	if _, err := st.DB().Exec("DELETE FROM kb_vulns WHERE qid IN (SELECT DISTINCT qid FROM detections LIMIT 10)"); err != nil {
		t.Fatal(err)
	}
	missing, _ := st.MissingQIDs(ctx)
	if len(missing) != 10 {
		t.Fatalf("%d missing", len(missing))
	}
	res, err := e.syncer(st).Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Missing != 10 {
		t.Errorf("fetched %d missing QIDs, want 10", res.Missing)
	}
	if missing, _ := st.MissingQIDs(ctx); len(missing) != 0 {
		t.Errorf("still missing: %v", missing)
	}
}

// Bad credentials fail fast with a clear message and leave the store as
// it was.
func TestBadCredentials(t *testing.T) { storetest.Each(t, testBadCredentials) }

func testBadCredentials(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData})
	q, _ := qualys.NewClient(qualys.ClientConfig{BaseURL: e.sim.BaseURL(), Username: "demo", Password: "wrong-secret-1234"})
	st := openStore(t, be)
	s := &pull.Syncer{Store: st, Qualys: q, Loader: &load.Loader{Policy: assess.DefaultPolicy()}, Log: slog.New(slog.DiscardHandler)}
	_, err := s.Run(context.Background(), pull.Options{SkipNVD: true})
	if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), "wrong-secret-1234") {
		t.Errorf("error = %v", err)
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM detections").Scan(&n)
	if n != 0 {
		t.Errorf("%d detections stored", n)
	}
}

var _ = url.Values{}

// A sync brings CISA's catalog, the day's EPSS scores and each
// detection's QDS, and its findings carry what they say: the catalog
// whole, a score per CVE the data set scores, and priorities that follow.
// An unchanged catalog the next day writes nothing; a day's new scores
// move only the findings they concern.
func TestSyncFeedsAndQDS(t *testing.T) { storetest.Each(t, testSyncFeedsAndQDS) }

func testSyncFeedsAndQDS(t *testing.T, be storetest.Backend) {
	ctx := context.Background()
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	res, err := e.syncer(st).Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	d := e.sim.Dataset()
	cat := d.KEV(0)
	if res.KEV.Entries != len(cat.Entries) || res.KEV.Added != len(cat.Entries) || len(cat.Entries) == 0 {
		t.Errorf("KEV: %+v, the catalog has %d entries", res.KEV, len(cat.Entries))
	}
	if res.EPSS.Scores == 0 || res.EPSS.Changed != res.EPSS.Scores {
		t.Errorf("EPSS: %+v", res.EPSS)
	}
	count := func(q string) int {
		var n int
		if err := st.DB().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count(*) FROM kev_entries"); n != len(cat.Entries) {
		t.Errorf("%d KEV entries stored, the catalog has %d", n, len(cat.Entries))
	}
	if n := count("SELECT count(*) FROM epss_scores"); n != res.EPSS.Scores {
		t.Errorf("%d EPSS scores stored, the file had %d", n, res.EPSS.Scores)
	}
	// Every detection call asked for QDS, and the store has it.
	for _, c := range e.sim.Log() {
		if c.API == sim.APIDetections && c.Status == 200 && (c.Params.Get("show_qds") != "1" || c.Params.Get("show_qds_factors") != "1") {
			t.Fatalf("a detection call without QDS: %v", c.Params)
		}
	}
	if n := count("SELECT count(*) FROM detections WHERE qds IS NOT NULL AND type <> 'Info'"); n == 0 {
		t.Error("no detection has a QDS")
	}
	// Findings of KEV QIDs are P1 under the default rules, and every
	// finding has a priority.
	kevs := count("SELECT count(*) FROM detections d JOIN qid_risk k ON k.qid = d.qid WHERE k.kev = 1 AND d.type <> 'Info'")
	p1 := count("SELECT count(*) FROM detections d JOIN qid_risk k ON k.qid = d.qid WHERE k.kev = 1 AND d.type <> 'Info' AND d.priority = 'P1'")
	if kevs == 0 || p1 != kevs {
		t.Errorf("%d findings of KEV QIDs, %d of them P1", kevs, p1)
	}
	if n := count("SELECT count(*) FROM detections WHERE type <> 'Info' AND priority NOT IN ('P1', 'P2', 'P3', 'P4')"); n != 0 {
		t.Errorf("%d findings without a priority", n)
	}

	// The next day: the double's scores drift; what the store holds moves
	// with them, no more.
	e.sim.Advance()
	res2, err := e.syncer(st).Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res2.EPSS.Changed == 0 || res2.EPSS.Changed == res2.EPSS.Scores && res2.EPSS.Scores > 100 {
		t.Errorf("the next day's EPSS: %+v", res2.EPSS)
	}
	var stored float64
	var cve string
	if err := st.DB().QueryRow("SELECT cve, epss FROM epss_scores ORDER BY cve LIMIT 1").Scan(&cve, &stored); err != nil {
		t.Fatal(err)
	}
	if want, _, ok := epssOf(d, cve, 1); !ok || stored != want {
		t.Errorf("%s: stored EPSS %v, the double's file says %v", cve, stored, want)
	}
}

// epssOf is the data set's EPSS score of a CVE on an epoch.
func epssOf(d *gen.Dataset, cve string, epoch int) (float64, float64, bool) {
	for i := range d.CVECount(epoch) {
		if d.CVEID(i) == cve {
			return d.EPSS(i, epoch)
		}
	}
	return 0, 0, false
}

// A subscription that refuses the QDS parameters: one warning, then the
// detections come without them, and the next sync does not ask again.
func TestSyncWithoutQDS(t *testing.T) { storetest.Each(t, testSyncWithoutQDS) }

func testSyncWithoutQDS(t *testing.T, be storetest.Backend) {
	ctx := context.Background()
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3, RejectQDS: true})
	st := openStore(t, be)
	var logs strings.Builder
	s := e.syncer(st)
	s.Log = slog.New(slog.NewTextHandler(&logs, nil))
	res, err := s.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hosts == 0 {
		t.Fatalf("no hosts: %+v", res)
	}
	if n := strings.Count(logs.String(), "refuses QDS"); n != 1 {
		t.Errorf("%d warnings about QDS, want 1:\n%s", n, logs.String())
	}
	var n int
	st.DB().QueryRow("SELECT count(*) FROM detections WHERE qds IS NOT NULL").Scan(&n)
	if n != 0 {
		t.Errorf("%d detections with a QDS from a subscription without it", n)
	}
	before := len(e.sim.Log())
	e.sim.Advance()
	if _, err := e.syncer(st).Run(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.sim.Log()[before:] {
		if c.API == sim.APIDetections && c.Params.Has("show_qds") {
			t.Fatalf("the next sync asked for QDS again: %v", c.Params)
		}
	}
}
