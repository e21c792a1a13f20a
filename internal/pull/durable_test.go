package pull_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/assess"
	"qvt/internal/load"
	"qvt/internal/pull"
	"qvt/internal/qualys"
	"qvt/internal/sim"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// watched is the Qualys client with a hook after each detection batch
// that arrived whole, and one before each call.
type watched struct {
	pull.Qualys
	mu     sync.Mutex
	before func(ctx context.Context, n int) error // n: the call's number, from 1
	after  func(n int, ids string)                // after call n returned all its records
	calls  int
}

func (w *watched) Detections(ctx context.Context, params url.Values, fn func(*qualys.Host) error) (qualys.Response, error) {
	w.mu.Lock()
	w.calls++
	n := w.calls
	w.mu.Unlock()
	if w.before != nil {
		if err := w.before(ctx, n); err != nil {
			return qualys.Response{}, err
		}
	}
	resp, err := w.Qualys.Detections(ctx, params, fn)
	if err == nil && w.after != nil {
		w.after(n, params.Get("ids"))
	}
	return resp, err
}

func doneBatches(t testing.TB, st *store.Store) map[string]bool {
	t.Helper()
	rows, err := st.DB().Query("SELECT spec FROM sync_batches WHERE phase = 'detections' AND done = 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var spec string
		rows.Scan(&spec)
		out[spec] = true
	}
	return out
}

func detectionCalls(s *sim.Server) int {
	n := 0
	for _, c := range s.Log() {
		if c.API == sim.APIDetections && c.Status == 200 {
			n++
		}
	}
	return n
}

// settledCalls is detectionCalls once it has not moved for 300 ms (at
// most 5 s).
func settledCalls(s *sim.Server) int {
	n := detectionCalls(s)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		m := detectionCalls(s)
		if m == n {
			break
		}
		n = m
	}
	return n
}

// A sync cancelled after N batches arrived (a SIGINT) has stored those N
// batches and marked them done, however few records they hold; the
// resumed sync fetches only the rest.
func TestCancelledSyncKeepsAnsweredBatches(t *testing.T) {
	storetest.Each(t, testCancelledSyncKeepsAnsweredBatches)
}

func testCancelledSyncKeepsAnsweredBatches(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3, Latency: 30 * time.Millisecond})
	st := openStore(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var answered []string
	w := &watched{Qualys: e.qualys, after: func(n int, ids string) {
		mu.Lock()
		defer mu.Unlock()
		answered = append(answered, ids)
		if len(answered) == 4 {
			cancel()
		}
	}}
	s := e.syncer(st)
	s.Qualys = w
	o := pull.Options{BatchSize: 10, Workers: 2, SkipNVD: true, SkipKB: true}
	if _, err := s.Run(ctx, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled sync returned %v, want context.Canceled", err)
	}
	done := doneBatches(t, st)
	mu.Lock()
	for _, ids := range answered {
		if !done[ids] {
			t.Errorf("batch %s arrived before the cancellation but is not marked done", ids)
		}
	}
	mu.Unlock()
	// The hosts of every batch marked done are stored.
	for spec := range done {
		for _, r := range strings.Split(spec, ",") {
			lo, hi, _ := strings.Cut(r, "-")
			a, _ := strconv.ParseInt(lo, 10, 64)
			b := a
			if hi != "" {
				b, _ = strconv.ParseInt(hi, 10, 64)
			}
			var n int64
			st.DB().QueryRow("SELECT count(*) FROM hosts WHERE id BETWEEN ? AND ?", a, b).Scan(&n)
			if n != b-a+1 {
				t.Errorf("batch %s is marked done but %d of hosts %d-%d are stored", spec, n, a, b)
			}
		}
	}
	total := (len(e.sim.Dataset().HostIDs(0)) + o.BatchSize - 1) / o.BatchSize
	// A request the cancelled sync gave up on may still be answered by
	// the double after Run returned: count from when that has settled.
	before := settledCalls(e.sim)
	res, err := e.syncer(st).Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := detectionCalls(e.sim) - before; !res.Resumed || res.Skipped != len(done) || got != total-len(done) {
		t.Errorf("the resumed sync fetched %d batches of %d, skipping %d (resumed %v); %d were done", got, total, res.Skipped, res.Resumed, len(done))
	}
}

// A batch that has arrived whole is committed within 2 seconds, although
// the transaction is far from full and the other fetches hang.
func TestArrivedBatchCommittedWithinTwoSeconds(t *testing.T) {
	storetest.Each(t, testArrivedBatchCommittedWithinTwoSeconds)
}

func testArrivedBatchCommittedWithinTwoSeconds(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	arrived := make(chan time.Time, 1)
	w := &watched{Qualys: e.qualys,
		before: func(ctx context.Context, n int) error {
			if n > 2 {
				<-ctx.Done() // a server that never answers
				return ctx.Err()
			}
			return nil
		},
		after: func(n int, ids string) {
			if n == 2 {
				arrived <- time.Now()
			}
		}}
	s := e.syncer(st)
	s.Qualys = w
	errc := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, pull.Options{BatchSize: 10, Workers: 1, SkipNVD: true, SkipKB: true})
		errc <- err
	}()
	var at time.Time
	select {
	case at = <-arrived:
	case err := <-errc:
		t.Fatalf("the sync ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the second batch never arrived")
	}
	for len(doneBatches(t, st)) < 2 {
		if time.Since(at) > 2*time.Second {
			t.Fatalf("%d batches done 2 s after the second one arrived, want 2", len(doneBatches(t, st)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled sync returned %v", err)
	}
}

// A resumed sync does not fetch again the phases the interrupted one
// finished: NVD and the KnowledgeBase.
func TestResumeSkipsFinishedPhases(t *testing.T) { storetest.Each(t, testResumeSkipsFinishedPhases) }

func testResumeSkipsFinishedPhases(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	w := &watched{Qualys: e.qualys, before: func(ctx context.Context, n int) error {
		if n >= 3 {
			return errors.New("the network went away")
		}
		return nil
	}}
	s := e.syncer(st)
	s.Qualys = w
	if _, err := s.Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "network went away") {
		t.Fatalf("the first sync returned %v", err)
	}
	count := func() (nvd, kb int) {
		for _, c := range e.sim.Log() {
			switch {
			case c.API == sim.APINVD, c.API == sim.APIKEV, c.API == sim.APIEPSS:
				nvd++ // the feeds count with NVD: a resumed sync fetches none of them again
			case c.API == sim.APIKB && c.Params.Get("ids") == "":
				kb++
			}
		}
		return
	}
	nvd0, kb0 := count()
	if nvd0 == 0 || kb0 == 0 {
		t.Fatalf("the first sync made %d NVD, KEV or EPSS and %d KB calls", nvd0, kb0)
	}
	res, err := e.syncer(st).Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	nvd1, kb1 := count()
	if !res.Resumed || nvd1 != nvd0 || kb1 != kb0 || strings.Join(res.Finished, ",") != "NVD,KEV,EPSS,KnowledgeBase" {
		t.Errorf("the resumed sync (resumed %v, phases finished before %v) made %d NVD, KEV or EPSS and %d KB calls, want none", res.Resumed, res.Finished, nvd1-nvd0, kb1-kb0)
	}
	// The NVD watermark the first run's phase gave moves with the sync.
	if mark, _ := st.State(context.Background(), "nvd.watermark"); mark == "" {
		t.Error("no NVD watermark after the resumed sync")
	}
	whole := openStore(t, be)
	e2 := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	if _, err := e2.syncer(whole).Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if dump(t, st) != dump(t, whole) {
		t.Error("an interrupted and resumed sync differs from an uninterrupted one")
	}
}

// Wrong credentials, or a URL that is not Qualys, fail at the first
// call, before NVD or anything else is fetched, and write nothing.
func TestAccountCheckedFirst(t *testing.T) { storetest.Each(t, testAccountCheckedFirst) }

func testAccountCheckedFirst(t *testing.T, be storetest.Backend) {
	notQualys := httptest.NewServer(http.NotFoundHandler())
	defer notQualys.Close()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		qualys.WriteSimpleReturn(w, "2026-01-01T00:00:00Z", 2002, "User account is locked", nil)
	}))
	defer locked.Close()
	for _, tc := range []struct {
		name, base, password, want string
	}{
		{"bad password", "", "wrong-secret-1234", "rejected the credentials"},
		{"locked account", locked.URL, "demo", "User account is locked"},
		{"not a Qualys API", notQualys.URL, "demo", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sim.Config{Data: testData})
			base := tc.base
			if base == "" {
				base = e.sim.BaseURL()
			}
			q, err := qualys.NewClient(qualys.ClientConfig{BaseURL: base, Username: "demo", Password: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t, be)
			s := &pull.Syncer{Store: st, Qualys: q, NVD: e.nvd, Loader: &load.Loader{Policy: assess.DefaultPolicy()}}
			start := time.Now()
			_, err = s.Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "wrong-secret-1234") {
				t.Errorf("error = %v, want one saying %q", err, tc.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("failed after %v", took)
			}
			if n := len(e.sim.Log()); n > 1 {
				t.Errorf("%d calls made to the double, want at most the one check", n)
			}
			for _, table := range []string{"nvd_cves", "kb_vulns", "hosts", "sync_runs", "sync_state"} {
				var n int
				st.DB().QueryRow("SELECT count(*) FROM " + table).Scan(&n)
				if n != 0 {
					t.Errorf("%d rows written to %s", n, table)
				}
			}
		})
	}
}

// stripping is a proxy to the double that drops parameters from the
// requests to one API path, so the double answers records that the
// client did not ask for.
func stripping(t *testing.T, target, path string, drop ...string) string {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSuffix(r.URL.Path, "/") == strings.TrimSuffix(path, "/") {
			r.ParseForm()
			f := r.PostForm
			for _, k := range drop {
				f.Del(k)
			}
			body := f.Encode()
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Records a request did not ask for (a server answering every host, or
// the whole KB, to a request for a few) are rejected with an error naming
// the request and the id, and are not stored.
func TestUnaskedRecordsRejected(t *testing.T) { storetest.Each(t, testUnaskedRecordsRejected) }

func testUnaskedRecordsRejected(t *testing.T, be storetest.Backend) {
	for _, tc := range []struct {
		name, path, what string
		drop             []string
		opt              pull.Options
		table            string
	}{
		{"detections", qualys.EndpointDetections, "host", []string{"ids"},
			pull.Options{BatchSize: 10, Workers: 2, SkipNVD: true, SkipKB: true}, "SELECT count(*) FROM hosts WHERE id = ?"},
		{"KB range", qualys.EndpointKB, "QID", []string{"id_min", "id_max"},
			pull.Options{KBRange: 100, Workers: 2, SkipNVD: true}, "SELECT count(*) FROM kb_vulns WHERE qid = ?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
			base := stripping(t, e.sim.BaseURL(), tc.path, tc.drop...)
			q, err := qualys.NewClient(qualys.ClientConfig{BaseURL: base, Username: "demo", Password: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t, be)
			s := &pull.Syncer{Store: st, Qualys: q, QualysURL: base, Loader: &load.Loader{Policy: assess.DefaultPolicy()}}
			_, err = s.Run(context.Background(), tc.opt)
			if err == nil {
				t.Fatal("the sync stored what it did not ask for")
			}
			m := regexp.MustCompile(regexp.QuoteMeta(base+tc.path) + `\?\S+ answered ` + tc.what + ` (\d+), which was not asked for`).FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("error = %v, want one naming the request and the %s", err, tc.what)
			}
			var n int
			st.DB().QueryRow(tc.table, m[1]).Scan(&n)
			if n != 0 {
				t.Errorf("%s %s, not asked for, is stored", tc.what, m[1])
			}
		})
	}
}

// The missing QIDs are asked for by id: a KB answer with other QIDs is
// rejected.
func TestUnaskedMissingQIDsRejected(t *testing.T) { storetest.Each(t, testUnaskedMissingQIDsRejected) }

func testUnaskedMissingQIDsRejected(t *testing.T, be storetest.Backend) {
	e := newEnv(t, sim.Config{Data: testData, Concurrency: 3})
	st := openStore(t, be)
	ctx := context.Background()
	if _, err := e.syncer(st).Run(ctx, pull.Options{BatchSize: 25, Workers: 2, SkipNVD: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec("DELETE FROM kb_vulns WHERE qid IN (SELECT DISTINCT qid FROM detections LIMIT 3)"); err != nil {
		t.Fatal(err)
	}
	var before int
	st.DB().QueryRow("SELECT count(*) FROM kb_vulns").Scan(&before)
	base := stripping(t, e.sim.BaseURL(), qualys.EndpointKB, "ids")
	q, err := qualys.NewClient(qualys.ClientConfig{BaseURL: base, Username: "demo", Password: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	s := &pull.Syncer{Store: st, Qualys: q, QualysURL: base, Loader: &load.Loader{Policy: assess.DefaultPolicy()}}
	_, err = s.Run(ctx, pull.Options{BatchSize: 25, Workers: 2, SkipNVD: true})
	if err == nil || !strings.Contains(err.Error(), base+qualys.EndpointKB+"?") || !strings.Contains(err.Error(), "which was not asked for") {
		t.Fatalf("error = %v", err)
	}
	var after int
	st.DB().QueryRow("SELECT count(*) FROM kb_vulns").Scan(&after)
	if after > before+3 {
		t.Errorf("the KB grew from %d to %d entries for 3 QIDs asked for", before, after)
	}
}
