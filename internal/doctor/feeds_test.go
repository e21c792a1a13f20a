package doctor

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/sim"
)

// feedSim starts the API double with a data set whose KEV catalog is not
// empty.
func feedSim(t *testing.T) *sim.Server {
	t.Helper()
	s := sim.New(sim.Config{Data: gen.Config{Seed: 1, QIDs: 50, Hosts: 5, DetectionsPerHost: 3, CVEs: 2000}})
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// one runs a probe and returns its single check.
func one(t *testing.T, checks []Check) Check {
	t.Helper()
	if len(checks) != 1 {
		t.Fatalf("%d checks, want 1: %+v", len(checks), checks)
	}
	return checks[0]
}

// The KEV check reports the catalog a sync would store: the double's
// version, entry count and release time, exactly.
func TestKEVFromDouble(t *testing.T) {
	s := feedSim(t)
	want := s.Dataset().KEV(0)
	if len(want.Entries) == 0 {
		t.Fatal("the double's catalog is empty: pick a larger data set")
	}
	released, err := time.Parse(time.RFC3339Nano, want.Released)
	if err != nil {
		t.Fatal(err)
	}
	got := one(t, KEV(context.Background(), s.KEVURL()))
	msg := fmt.Sprintf("catalog %s, %d entries (released %s), from %s", want.Version, len(want.Entries),
		released.UTC().Format("2006-01-02 15:04 UTC"), s.KEVURL())
	if got.Level != OK || got.Message != msg || got.Fix != "" {
		t.Errorf("got %s %q (fix %q), want ok %q", got.Level, got.Message, got.Fix, msg)
	}
}

// The EPSS check reads the double's header and reports its model and
// day; the same file seen more than 3 days later is a stale mirror.
func TestEPSSFromDouble(t *testing.T) {
	s := feedSim(t)
	d := s.Dataset()
	h := d.EPSSHeader(0)
	day := h.ScoreDate[:10]
	now := d.Now(0).Add(13 * time.Hour)
	for _, tc := range []struct {
		later time.Duration
		level Level
		msg   string
	}{
		{0, OK, "model " + h.ModelVersion + ", scores of " + day + ", from " + s.EPSSURL()},
		{24 * time.Hour, OK, "model " + h.ModelVersion + ", scores of " + day + " (1 day old), from " + s.EPSSURL()},
		{3 * 24 * time.Hour, OK, "model " + h.ModelVersion + ", scores of " + day + " (3 days old), from " + s.EPSSURL()},
		{4 * 24 * time.Hour, Warn, s.EPSSURL() + ": model " + h.ModelVersion + ", scores of " + day + ", 4 days old: the file served is stale"},
	} {
		got := one(t, EPSS(context.Background(), s.EPSSURL(), now.Add(tc.later)))
		if got.Level != tc.level || got.Message != tc.msg {
			t.Errorf("%v later: got %s %q, want %s %q", tc.later, got.Level, got.Message, tc.level, tc.msg)
		}
		if tc.level == Warn && !strings.Contains(got.Fix, "EPSS_URL (epss_url)") {
			t.Errorf("%v later: fix %q", tc.later, got.Fix)
		}
	}
}

// The EPSS check stops after a few rows: a file that never ends is
// judged as soon as its start has been read.
func TestEPSSReadsOnlyTheStart(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		zw := gzip.NewWriter(w)
		bw := bufio.NewWriter(zw)
		bw.WriteString("#model_version:v2025.03.14,score_date:2026-11-01T00:00:00+0000\ncve,epss,percentile\n")
		for i := 0; ; i++ {
			n, err := fmt.Fprintf(bw, "CVE-2020-%05d,0.00043,0.1234\n", i)
			sent.Add(int64(n))
			if err != nil || r.Context().Err() != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	began := time.Now()
	got := one(t, EPSS(ctx, srv.URL+"/epss_scores-current.csv.gz", time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)))
	if got.Level != OK || !strings.HasPrefix(got.Message, "model v2025.03.14, scores of 2026-11-01 (1 day old), from ") {
		t.Errorf("got %s %q %q", got.Level, got.Message, got.Fix)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("took %v to read the start of the file", d)
	}
}

// Each way a feed can fail is one failed line that names the URL or the
// setting, with a fix, and never a password.
func TestFeedFailures(t *testing.T) {
	mux := http.NewServeMux()
	page := func(status int, ctype, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}
	}
	mux.Handle("/missing", page(http.StatusNotFound, "text/plain", "not found"))
	mux.Handle("/down", page(http.StatusServiceUnavailable, "text/plain", "maintenance"))
	mux.Handle("/proxy-auth", page(http.StatusProxyAuthRequired, "text/plain", ""))
	mux.Handle("/portal", page(http.StatusOK, "text/html; charset=utf-8", "<html><body>Sign in to continue</body></html>"))
	mux.Handle("/kev-bad", page(http.StatusOK, "application/json", `{"catalogVersion":"2025.08.25","vulnerabilities":[{"cveID":"CVE-2025-1","dateAdded":"2025-08-25"}]}`))
	mux.Handle("/kev-empty", page(http.StatusOK, "application/json", `{"catalogVersion":"2025.08.25","vulnerabilities":[]}`))
	mux.HandleFunc("/kev-cut", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		fmt.Fprint(w, `{"catalogVersion":"2025.08.25","vulnerabilities":[`)
		// Returning short of Content-Length makes the server drop the
		// connection.
	})
	mux.Handle("/epss-bad", page(http.StatusOK, "text/csv", "#model_version:v1,score_date:2026-11-01\ncve,epss,percentile\nCVE-2020-0001,1.5,0.3\n"))
	mux.Handle("/epss-empty", page(http.StatusOK, "text/csv", "#model_version:v1,score_date:2026-11-01\ncve,epss,percentile\n"))
	mux.Handle("/epss-undated", page(http.StatusOK, "text/csv", "cve,epss,percentile\nCVE-2020-0001,0.5,0.3\n"))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/feed"
	ln.Close()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	kevProbe := func(ctx context.Context, u string) []Check { return KEV(ctx, u) }
	epssProbe := func(ctx context.Context, u string) []Check { return EPSS(ctx, u, now) }

	for _, tc := range []struct {
		name  string
		probe func(context.Context, string) []Check
		url   string
		level Level
		msg   string // the message, or its start when it ends in "…"
		fix   string // contained in the fix
	}{
		{"kev ftp", kevProbe, "ftp://example.com/kev.json", Fail, "KEV_URL (kev_url) is not an http or https URL", "set KEV_URL to https://www.cisa.gov/"},
		{"kev no host", kevProbe, "https:///kev.json", Fail, "KEV_URL (kev_url) is not an http or https URL", "or unset it"},
		{"kev password", kevProbe, "https://mirror:hunter2@example.com/kev.json", Fail,
			"KEV_URL (kev_url) https://mirror:xxxxx@example.com/kev.json carries a user or password…", "remove the user and password from KEV_URL"},
		{"epss password", epssProbe, "https://mirror:hunter2@example.com/e.csv.gz", Fail,
			"EPSS_URL (epss_url) https://mirror:xxxxx@example.com/e.csv.gz carries a user or password…", "the feed is public"},
		{"kev refused", kevProbe, closed, Fail, closed + " does not answer: …", "check KEV_URL (kev_url), the firewall and HTTPS_PROXY"},
		{"epss refused", epssProbe, closed, Fail, closed + " does not answer: …", "point EPSS_URL at a mirror"},
		{"kev dns", kevProbe, "http://kev.qvt-doctor.invalid/kev.json", Fail,
			"http://kev.qvt-doctor.invalid/kev.json: the name kev.qvt-doctor.invalid does not resolve", "this machine's DNS"},
		{"kev 404", kevProbe, srv.URL + "/missing", Fail, srv.URL + "/missing: HTTP 404 Not Found", "check KEV_URL (kev_url): the feed is https://www.cisa.gov/"},
		{"epss 503", epssProbe, srv.URL + "/down", Fail, srv.URL + "/down: HTTP 503 Service Unavailable", "try again later"},
		{"kev 407", kevProbe, srv.URL + "/proxy-auth", Fail, srv.URL + "/proxy-auth: HTTP 407 Proxy Authentication Required from the proxy", "HTTPS_PROXY"},
		{"kev portal", kevProbe, srv.URL + "/portal", Fail, srv.URL + "/portal does not decode: …(an HTML page: a proxy's or portal's?)", "serves CISA's known_exploited_vulnerabilities.json"},
		{"epss portal", epssProbe, srv.URL + "/portal", Fail, srv.URL + "/portal does not decode: line 1: header …", "serves FIRST's epss_scores-current.csv.gz"},
		{"kev bad entry", kevProbe, srv.URL + "/kev-bad", Fail, srv.URL + `/kev-bad does not decode: entry 0, "CVE-2025-1": cveID "CVE-2025-1" is not CVE-YYYY-NNNN`, "check that KEV_URL (kev_url) serves"},
		{"kev empty", kevProbe, srv.URL + "/kev-empty", Fail, srv.URL + "/kev-empty: the catalog has no entries: a sync would leave no finding KEV", "check that KEV_URL"},
		{"kev cut", kevProbe, srv.URL + "/kev-cut", Fail, srv.URL + "/kev-cut: the answer was cut off after 50 bytes: unexpected EOF", "run qvt doctor again"},
		{"epss bad row", epssProbe, srv.URL + "/epss-bad", Fail, srv.URL + `/epss-bad does not decode: line 3: epss "1.5" is not a number from 0 to 1`, "check that EPSS_URL (epss_url) serves"},
		{"epss no rows", epssProbe, srv.URL + "/epss-empty", Fail, srv.URL + "/epss-empty: the file holds no scores", "check that EPSS_URL"},
		{"epss undated", epssProbe, srv.URL + "/epss-undated", Warn,
			srv.URL + "/epss-undated: model unknown, no score_date line: the scores' age is unknown and a sync stores them undated", "check that EPSS_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got := one(t, tc.probe(ctx, tc.url))
			match := got.Message == tc.msg
			if pre, found := strings.CutSuffix(tc.msg, "…"); found {
				match = strings.HasPrefix(got.Message, pre)
			} else if pre, post, found := strings.Cut(tc.msg, "…"); found {
				match = strings.HasPrefix(got.Message, pre) && strings.HasSuffix(got.Message, post)
			}
			if got.Level != tc.level || !match || !strings.Contains(got.Fix, tc.fix) {
				t.Errorf("got %s %q\n  fix %q\nwant %s %q\n  fix containing %q", got.Level, got.Message, got.Fix, tc.level, tc.msg, tc.fix)
			}
			if strings.Contains(got.Message+got.Fix, "hunter2") {
				t.Errorf("the password is printed: %+v", got)
			}
		})
	}
}

// A redirect to another host is followed (the feeds are public, and
// FIRST's old address redirects to its new one).
func TestFeedRedirect(t *testing.T) {
	s := feedSim(t)
	hop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.EPSSURL(), http.StatusMovedPermanently)
	}))
	defer hop.Close()
	got := one(t, EPSS(context.Background(), hop.URL+"/epss_scores-current.csv.gz", s.Dataset().Now(0)))
	if got.Level != OK || !strings.HasSuffix(got.Message, ", from "+hop.URL+"/epss_scores-current.csv.gz") {
		t.Errorf("got %s %q %q", got.Level, got.Message, got.Fix)
	}
}

// A mirror's token in the query is not printed.
func TestFeedURLShown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	got := one(t, KEV(context.Background(), srv.URL+"/kev.json?token=s3cr3t&v=2"))
	if strings.Contains(got.Message, "s3cr3t") || !strings.Contains(got.Message, "token=[masked]&v=2") {
		t.Errorf("got %q", got.Message)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1404: "1,404", 250000: "250,000", 1234567: "1,234,567", -1404: "-1,404"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// A feed that starts its answer and then stalls fails within the time
// the doctor allows, and says so.
func TestFeedStalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"catalogVersion":"2025.08.25","vulnerabilities":[`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	got := one(t, KEV(ctx, srv.URL+"/kev.json"))
	if got.Level != Fail || got.Message != srv.URL+"/kev.json: the answer did not arrive within 1s" {
		t.Errorf("got %s %q %q", got.Level, got.Message, got.Fix)
	}
}
