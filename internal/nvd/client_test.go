package nvd

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "key-5f0c1e9a-secret" // must never show in URLs, errors or logs

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeClock is a clock that only Sleep moves (and tick, for request time).
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) tick(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.t = c.t.Add(d)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) allSleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

type testClient struct {
	*Client
	logs  *lockedBuffer
	clock *fakeClock
}

func newTestClient(t *testing.T, baseURL string, mod func(*ClientConfig)) testClient {
	t.Helper()
	logs, clock := &lockedBuffer{}, newFakeClock()
	cfg := ClientConfig{
		BaseURL:     baseURL,
		MaxAttempts: 4,
		BaseDelay:   time.Millisecond,
		MaxDelay:    4 * time.Millisecond,
		Log:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:       clock.sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.now = clock.now
	return testClient{c, logs, clock}
}

// apiPage writes an API 2.0 page of n records numbered from first.
func apiPage(total, start, n int, timestamp string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"resultsPerPage":%d,"startIndex":%d,"totalResults":%d,"format":"NVD_CVE","version":"2.0","timestamp":%q,"vulnerabilities":[`,
		n, start, total, timestamp)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"cve":{"id":"CVE-2024-%05d","sourceIdentifier":"cve@mitre.org","published":"2024-01-01T00:00:00.000","lastModified":"2024-02-01T00:00:00.000","vulnStatus":"Analyzed","descriptions":[{"lang":"en","value":"d"}]}}`,
			start+i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// pagedServer serves total records in pages, as NVD does.
func pagedServer(t *testing.T, total int, record func(r *http.Request)) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if record != nil {
			record(r)
		}
		q := r.URL.Query()
		start, err1 := strconv.Atoi(q.Get("startIndex"))
		per, err2 := strconv.Atoi(q.Get("resultsPerPage"))
		if err1 != nil || err2 != nil {
			t.Errorf("bad paging parameters %q", r.URL.RawQuery)
		}
		n := max(0, min(per, total-start))
		w.Header().Set("Content-Type", "application/json")
		w.Write(apiPage(total, start, n, "2026-11-01T00:00:0"+strconv.Itoa(start/max(per, 1)%10)+".000"))
	}))
}

func collect(c *Client, ctx context.Context, q Query) ([]string, Result, error) {
	var ids []string
	res, err := c.CVEs(ctx, q, func(cve *CVE) error {
		ids = append(ids, cve.ID)
		return nil
	})
	return ids, res, err
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		name     string
		cfg      ClientConfig
		wantErr  string
		requests int
	}{
		{"defaults", ClientConfig{}, "", 5},
		{"with key", ClientConfig{APIKey: "k"}, "", 50},
		{"explicit rate", ClientConfig{APIKey: "k", Requests: 10}, "", 10},
		{"not http", ClientConfig{BaseURL: "ftp://nvd.example"}, "must start with https://", 0},
		{"no host", ClientConfig{BaseURL: "https:///rest"}, "names no host", 0},
		{"credentials", ClientConfig{BaseURL: "https://u:p@nvd.example/"}, "credentials", 0},
		{"key in URL", ClientConfig{BaseURL: "https://nvd.example/?apiKey=abc"}, "must not carry the API key", 0},
		{"page size too big", ClientConfig{PageSize: 2001}, "page size", 0},
		{"negative rate", ClientConfig{Requests: -1}, "negative", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), ":p@") {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.Requests != tt.requests || c.cfg.Window != 30*time.Second || c.cfg.PageSize != 2000 ||
				c.cfg.MaxAttempts != 8 || (tt.cfg.BaseURL == "" && c.base.String() != DefaultBaseURL) {
				t.Errorf("config %+v", c.cfg)
			}
		})
	}
}

// TestCVEsPaging: 5,001 records in pages of 2,000 are three requests.
func TestCVEsPaging(t *testing.T) {
	var mu sync.Mutex
	var queries []url.Values
	srv := pagedServer(t, 5001, func(r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
	})
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.Requests = 50 })
	ids, res, err := collect(tc.Client, context.Background(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{Pages: 3, Records: 5001, Timestamp: "2026-11-01T00:00:00.000"}); res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if len(ids) != 5001 || ids[0] != "CVE-2024-00000" || ids[5000] != "CVE-2024-05000" || len(slices.Compact(slices.Clone(ids))) != 5001 {
		t.Errorf("%d ids, first %s", len(ids), ids[0])
	}
	var starts []string
	for _, q := range queries {
		starts = append(starts, q.Get("startIndex"))
		if q.Get("resultsPerPage") != "2000" || q.Has("lastModStartDate") || q.Has("apiKey") {
			t.Errorf("query %v", q)
		}
	}
	if !slices.Equal(starts, []string{"0", "2000", "4000"}) {
		t.Errorf("startIndex %v", starts)
	}
}

// TestCVEsTotals: the total is re-read on every page, a shrinking total
// ends the paging, and an empty page before the end is retried, then an
// error.
func TestCVEsTotals(t *testing.T) {
	t.Run("total shrinks", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			if start == 0 {
				w.Write(apiPage(25, 0, 10, "t0"))
				return
			}
			w.Write(apiPage(12, start, max(0, 12-start), "t1")) // records went away meanwhile
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.PageSize = 10 })
		ids, res, err := collect(tc.Client, context.Background(), Query{})
		if err != nil || len(ids) != 12 || res.Pages != 2 || res.Timestamp != "t0" {
			t.Errorf("ids %d, result %+v, err %v", len(ids), res, err)
		}
	})
	t.Run("total grows", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
			total := min(25, 15+start) // records are added while paging
			w.Write(apiPage(total, start, min(10, max(0, total-start)), "t"))
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.PageSize = 10 })
		_, res, err := collect(tc.Client, context.Background(), Query{})
		if err != nil || res.Records != 25 || res.Pages != 3 {
			t.Errorf("result %+v, err %v", res, err)
		}
	})
	t.Run("empty page", func(t *testing.T) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Write(apiPage(10, 0, 0, "t"))
		}))
		defer srv.Close()
		tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxAttempts = 2 })
		_, _, err := collect(tc.Client, context.Background(), Query{})
		if err == nil || !strings.Contains(err.Error(), "no records at startIndex 0 of 10") || n.Load() != 2 {
			t.Errorf("err = %v after %d requests", err, n.Load())
		}
	})
	t.Run("nothing", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"resultsPerPage":0,"startIndex":0,"totalResults":0,"format":"NVD_CVE","version":"2.0","timestamp":"t"}`))
		}))
		defer srv.Close()
		_, res, err := collect(newTestClient(t, srv.URL, nil).Client, context.Background(), Query{})
		if err != nil || res != (Result{Pages: 1, Timestamp: "t"}) {
			t.Errorf("result %+v, err %v", res, err)
		}
	})
}

// TestCVEsWindows: an incremental query is cut into windows of at most
// 120 days, each with both dates in NVD's format, '+' sent as %2B.
func TestCVEsWindows(t *testing.T) {
	day := func(m time.Month, d int) time.Time { return time.Date(2024, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		q    Query
		want [][2]string // raw lastModStartDate, lastModEndDate
	}{
		{
			name: "one window",
			q:    Query{LastModStart: time.Date(2024, 3, 1, 10, 20, 30, 456e6, time.FixedZone("CET", 3600)), LastModEnd: day(3, 2)},
			want: [][2]string{{"2024-03-01T09:20:30.456%2B00:00", "2024-03-02T00:00:00.000%2B00:00"}},
		},
		{
			name: "exactly 120 days",
			q:    Query{LastModStart: day(1, 1), LastModEnd: day(1, 1).Add(MaxWindow)},
			want: [][2]string{{"2024-01-01T00:00:00.000%2B00:00", "2024-04-30T00:00:00.000%2B00:00"}},
		},
		{
			name: "three windows",
			q:    Query{LastModStart: day(1, 1), LastModEnd: day(9, 1)},
			want: [][2]string{
				{"2024-01-01T00:00:00.000%2B00:00", "2024-04-30T00:00:00.000%2B00:00"},
				{"2024-04-30T00:00:00.000%2B00:00", "2024-08-28T00:00:00.000%2B00:00"},
				{"2024-08-28T00:00:00.000%2B00:00", "2024-09-01T00:00:00.000%2B00:00"},
			},
		},
		{
			name: "open end is now",
			q:    Query{LastModStart: time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)},
			want: [][2]string{{"2026-10-31T12:00:00.000%2B00:00", "2026-11-01T12:00:00.000%2B00:00"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][2]string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var s, e string
				for _, kv := range strings.Split(r.URL.RawQuery, "&") {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "lastModStartDate":
						s = v
					case "lastModEndDate":
						e = v
					}
				}
				got = append(got, [2]string{s, e})
				q := r.URL.Query()
				start, err1 := time.Parse("2006-01-02T15:04:05.000-07:00", q.Get("lastModStartDate"))
				end, err2 := time.Parse("2006-01-02T15:04:05.000-07:00", q.Get("lastModEndDate"))
				if err1 != nil || err2 != nil || end.Sub(start) > 120*24*time.Hour || end.Before(start) {
					t.Errorf("bad window %q", r.URL.RawQuery)
				}
				w.Write(apiPage(1, 0, 1, "ts"))
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.Requests = 50 })
			_, res, err := collect(tc.Client, context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("windows\n%v\nwant\n%v", got, tt.want)
			}
			if res.Pages != len(tt.want) || res.Timestamp != "ts" {
				t.Errorf("result %+v", res)
			}
		})
	}

	for _, bad := range []Query{{LastModEnd: day(1, 1)}, {LastModStart: day(2, 1), LastModEnd: day(1, 1)}} {
		if _, err := windows(bad, day(3, 1)); err == nil {
			t.Errorf("windows(%v): no error", bad)
		}
	}
}

// TestSlidingWindow: no Requests+1 requests within any Window, and no
// waiting beyond that.
func TestSlidingWindow(t *testing.T) {
	var mu sync.Mutex
	var sent []time.Time
	var tc testClient
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, tc.clock.now())
		mu.Unlock()
		tc.clock.tick(2 * time.Second) // each request takes 2s
		start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
		w.Write(apiPage(12, start, 1, "t"))
	}))
	defer srv.Close()
	tc = newTestClient(t, srv.URL, func(c *ClientConfig) { c.PageSize = 1 })
	if _, res, err := collect(tc.Client, context.Background(), Query{}); err != nil || res.Pages != 12 {
		t.Fatalf("result %+v, err %v", res, err)
	}
	const n, window = 5, 30 * time.Second
	for i := n; i < len(sent); i++ {
		if d := sent[i].Sub(sent[i-n]); d < window {
			t.Errorf("requests %d and %d only %v apart", i-n, i, d)
		}
		if d := sent[i].Sub(sent[i-n]); d > window && sent[i].Sub(sent[i-1]) > 2*time.Second {
			t.Errorf("request %d waited longer than needed (%v after request %d)", i, d, i-n)
		}
	}
	sl := tc.clock.allSleeps()
	if want := []time.Duration{20 * time.Second, 20 * time.Second}; len(sl) < 2 || !slices.Equal(sl[:2], want) {
		t.Errorf("first sleeps %v, want %v (5 requests 2s apart, then wait for the oldest)", sl, want)
	}
}

func TestSlidingWindowReserve(t *testing.T) {
	clock := newFakeClock()
	w := &slidingWindow{n: 3, window: 10 * time.Second, now: clock.now}
	var waits []time.Duration
	for _, step := range []time.Duration{0, 1, 1, 0, 0, 20, 0} {
		clock.tick(step * time.Second)
		waits = append(waits, w.reserve())
	}
	// Sends at 0,1,2; the 4th (at 2) waits for 0+10, the 5th for 1+10;
	// at 22 the oldest kept (10, 11, 22) are all past or now, so no wait.
	want := []time.Duration{0, 0, 0, 8 * time.Second, 9 * time.Second, 0, 0}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
}

// TestAPIKey: the key goes in the apiKey header only, never in URLs, logs
// or errors.
func TestAPIKey(t *testing.T) {
	var n atomic.Int32
	var headers []string
	var raw []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers = append(headers, r.Header.Get("apiKey"))
		raw = append(raw, r.URL.String())
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503) // logged retry
		case 2:
			w.Write(apiPage(1, 0, 1, "t"))
		default:
			w.Header().Set("message", "Invalid apiKey "+r.Header.Get("apiKey"))
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.APIKey = testKey })
	if _, _, err := collect(tc.Client, context.Background(), Query{}); err != nil {
		t.Fatal(err)
	}
	_, _, err := collect(tc.Client, context.Background(), Query{})
	if err == nil || !strings.Contains(err.Error(), "Invalid apiKey") {
		t.Fatalf("err = %v", err)
	}
	for i, h := range headers {
		if h != testKey {
			t.Errorf("request %d apiKey header %q", i, h)
		}
	}
	for _, u := range raw {
		if strings.Contains(u, testKey) || strings.Contains(strings.ToLower(u), "apikey") {
			t.Errorf("URL carries the key: %s", u)
		}
	}
	if logs := tc.logs.String(); strings.Contains(logs, testKey) || !strings.Contains(logs, "nvd: retrying") {
		t.Errorf("logs:\n%s", logs)
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the key: %v", err)
	}
}

// TestRetries covers each retryable failure followed by success.
func TestRetries(t *testing.T) {
	good := apiPage(3, 0, 3, "t")
	tests := []struct {
		name     string
		first    func(w http.ResponseWriter)
		reason   string
		minSleep time.Duration
		records  int // delivered to fn in all
	}{
		{"403 throttled", func(w http.ResponseWriter) { w.WriteHeader(403) }, "http_403", 6 * time.Second, 3},
		{"429 Retry-After", func(w http.ResponseWriter) { w.Header().Set("Retry-After", "45"); w.WriteHeader(429) }, "http_429", 45 * time.Second, 3},
		{"503", func(w http.ResponseWriter) { w.WriteHeader(503) }, "http_503", 0, 3},
		{"body cut", func(w http.ResponseWriter) { w.Write(good[:len(good)*3/4]) }, "incomplete_body", 0, 5},
		{"body cut, gzip", func(w http.ResponseWriter) {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(good)
			zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(b.Bytes()[:b.Len()-6])
		}, "incomplete_body", 0, -3},
		{"empty body", func(w http.ResponseWriter) {}, "empty_body", 0, 3},
		{"connection dropped", func(w http.ResponseWriter) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, "connection", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					tt.first(w)
					return
				}
				w.Write(good)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			ids, res, err := collect(tc.Client, context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			if !(len(ids) == tt.records || tt.records < 0 && len(ids) >= -tt.records) || res.Records != 3 || res.Pages != 1 {
				t.Errorf("%d records delivered, result %+v", len(ids), res)
			}
			st := tc.Stats()
			if st.Calls != 2 || st.Retries != 1 || st.ByReason[tt.reason] != 1 {
				t.Errorf("stats %+v, want one %s retry", st, tt.reason)
			}
			if logs := tc.logs.String(); !strings.Contains(logs, `level=INFO msg="nvd: retrying"`) || !strings.Contains(logs, "attempt=2") {
				t.Errorf("retry not logged:\n%s", logs)
			}
			if tt.minSleep > 0 {
				found := false
				for _, d := range tc.clock.allSleeps() {
					found = found || d >= tt.minSleep
				}
				if !found {
					t.Errorf("sleeps %v, want one of at least %v", tc.clock.allSleeps(), tt.minSleep)
				}
			}
		})
	}
}

func TestFailFast(t *testing.T) {
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter)
		want   []string
		status int
	}{
		{"404 with message", func(w http.ResponseWriter) {
			w.Header().Set("message", "Invalid apiKey")
			w.WriteHeader(404)
		}, []string{"HTTP 404 Not Found: Invalid apiKey", "startIndex=0"}, 404},
		{"400 with message", func(w http.ResponseWriter) {
			w.Header().Set("message", "The lastModStartDate and lastModEndDate parameters must both be present")
			w.WriteHeader(400)
		}, []string{"HTTP 400 Bad Request: The lastModStartDate"}, 400},
		{"not JSON", func(w http.ResponseWriter) { w.Write([]byte("<html>maintenance</html>")) }, []string{"malformed response"}, 200},
		{"not an API page", func(w http.ResponseWriter) { w.Write([]byte(`{"cve":{"id":"CVE-2024-0001"}}`)) }, []string{"not an NVD API 2.0 page"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				tt.handle(w)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			_, _, err := collect(tc.Client, context.Background(), Query{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status {
				t.Errorf("error %#v", e)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
		})
	}
}

func TestMaxAttempts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxAttempts = 3 })
	_, _, err := collect(tc.Client, context.Background(), Query{})
	var e *Error
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts; last:") || !strings.Contains(err.Error(), "HTTP 502") ||
		!errors.As(err, &e) || e.Attempts != 3 || tc.Stats().Calls != 3 {
		t.Errorf("err = %v, stats %+v", err, tc.Stats())
	}
}

func TestCallbackError(t *testing.T) {
	srv := pagedServer(t, 10, nil)
	defer srv.Close()
	tc := newTestClient(t, srv.URL, nil)
	stop := errors.New("disk full")
	_, err := tc.CVEs(context.Background(), Query{}, func(*CVE) error { return stop })
	if err != stop || tc.Stats().Calls != 1 {
		t.Errorf("err = %#v after %d calls, want the callback's error as it is", err, tc.Stats().Calls)
	}
}

func TestReadTimeout(t *testing.T) {
	good := apiPage(2, 0, 2, "t")
	release := make(chan struct{})
	defer close(release)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Write(good[:40])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(good)
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.ReadTimeout = 150 * time.Millisecond })
	ids, _, err := collect(tc.Client, context.Background(), Query{})
	if err != nil || len(ids) != 2 || tc.Stats().ByReason["read_timeout"] != 1 {
		t.Errorf("ids %v, err %v, stats %+v", ids, err, tc.Stats())
	}
}

func TestGzipAndHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("Accept-Encoding") != "gzip" || !strings.HasPrefix(r.Header.Get("User-Agent"), "qvt/") ||
			r.Header.Get("apiKey") != "" {
			t.Errorf("request %s %v", r.Method, r.Header)
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(apiPage(4, 0, 4, "t"))
		zw.Close()
	}))
	defer srv.Close()
	ids, _, err := collect(newTestClient(t, srv.URL, nil).Client, context.Background(), Query{})
	if err != nil || len(ids) != 4 {
		t.Errorf("ids %v, err %v", ids, err)
	}
}
