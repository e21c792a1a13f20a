package qualys

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

const (
	testUser     = "alice"
	testPassword = "pw-Zq8!secret" // must never show in errors or logs
)

// lockedBuffer is a log sink safe for concurrent handlers.
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

// sleepRecorder is an injected Sleep that records and returns at once.
type sleepRecorder struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ds)
}

type testClient struct {
	*Client
	logs   *lockedBuffer
	sleeps *sleepRecorder
}

func newTestClient(t *testing.T, baseURL string, mod func(*ClientConfig)) testClient {
	t.Helper()
	logs, sleeps := &lockedBuffer{}, &sleepRecorder{}
	cfg := ClientConfig{
		BaseURL:     baseURL,
		Username:    testUser,
		Password:    testPassword,
		MaxAttempts: 4,
		BaseDelay:   time.Millisecond,
		MaxDelay:    4 * time.Millisecond,
		Log:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:       sleeps.sleep,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testClient{c, logs, sleeps}
}

// noSecrets fails the test if the password shows in the error or the logs.
func (tc testClient) noSecrets(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPassword) {
		t.Errorf("error shows the password: %v", err)
	}
	if strings.Contains(tc.logs.String(), testPassword) {
		t.Errorf("logs show the password:\n%s", tc.logs)
	}
}

func hldPage(t *testing.T, datetime string, warn *Warning, ids ...int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewHostListDetectionWriter(&buf, datetime)
	for _, id := range ids {
		h := &Host{ID: id, IP: fmt.Sprintf("10.0.0.%d", id), Detections: []Detection{{QID: 38170, Type: "Confirmed", Status: "Active"}}}
		if err := w.Host(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(warn); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func kbPage(t *testing.T, datetime string, warn *Warning, qids ...int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewKBWriter(&buf, datetime)
	for _, q := range qids {
		if err := w.Vuln(&Vuln{QID: q, VulnType: "Vulnerability", Severity: 3, Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(warn); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func simpleReturn(t *testing.T, code int, text string, items map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteSimpleReturn(&buf, "2026-11-01T00:00:00Z", code, text, items); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func collectHosts(c *Client, ctx context.Context, params url.Values) ([]int64, Response, error) {
	var ids []int64
	resp, err := c.Detections(ctx, params, func(h *Host) error {
		ids = append(ids, h.ID)
		return nil
	})
	return ids, resp, err
}

func TestPlatformURL(t *testing.T) {
	want := map[string]string{
		"US1": "https://qualysapi.qualys.com", "US2": "https://qualysapi.qg2.apps.qualys.com",
		"US3": "https://qualysapi.qg3.apps.qualys.com", "US4": "https://qualysapi.qg4.apps.qualys.com",
		"EU1": "https://qualysapi.qualys.eu", "EU2": "https://qualysapi.qg2.apps.qualys.eu",
		"EU3": "https://qualysapi.qg3.apps.qualys.it", "IN1": "https://qualysapi.qg1.apps.qualys.in",
		"CA1": "https://qualysapi.qg1.apps.qualys.ca", "AE1": "https://qualysapi.qg1.apps.qualys.ae",
		"UK1": "https://qualysapi.qg1.apps.qualys.co.uk", "AU1": "https://qualysapi.qg1.apps.qualys.com.au",
		"KSA1": "https://qualysapi.qg1.apps.qualysksa.com",
	}
	if got := Platforms(); len(got) != len(want) {
		t.Errorf("Platforms() = %v, want %d names", got, len(want))
	}
	for name, u := range want {
		for _, spelling := range []string{name, strings.ToLower(name), " " + name + "\t"} {
			got, err := PlatformURL(spelling)
			if err != nil || got != u {
				t.Errorf("PlatformURL(%q) = %q, %v; want %q", spelling, got, err, u)
			}
		}
	}
	for _, bad := range []string{"", "US5", "EU", "eu-1", "qualysapi.qualys.com", "US1x"} {
		got, err := PlatformURL(bad)
		if err == nil {
			t.Errorf("PlatformURL(%q) = %q, want an error", bad, got)
		} else if !strings.Contains(err.Error(), "KSA1") {
			t.Errorf("PlatformURL(%q) error %q does not list the platforms", bad, err)
		}
	}
}

func TestNewClientValidation(t *testing.T) {
	ok := ClientConfig{BaseURL: "https://qualysapi.qualys.eu", Username: "u", Password: "p"}
	tests := []struct {
		name    string
		mod     func(*ClientConfig)
		wantErr string // "" for success
		base    string // the normalized base URL on success
	}{
		{"valid", func(*ClientConfig) {}, "", "https://qualysapi.qualys.eu"},
		{"trailing slash", func(c *ClientConfig) { c.BaseURL = "https://qualysapi.qualys.eu/" }, "", "https://qualysapi.qualys.eu"},
		{"path prefix", func(c *ClientConfig) { c.BaseURL = "http://127.0.0.1:8080/qualys/" }, "", "http://127.0.0.1:8080/qualys"},
		{"no URL", func(c *ClientConfig) { c.BaseURL = "" }, "no API URL", ""},
		{"not http", func(c *ClientConfig) { c.BaseURL = "ftp://qualysapi.qualys.eu" }, "must start with https://", ""},
		{"no scheme", func(c *ClientConfig) { c.BaseURL = "qualysapi.qualys.eu" }, "must start with https://", ""},
		{"no host", func(c *ClientConfig) { c.BaseURL = "https://" }, "names no host", ""},
		{"credentials in URL", func(c *ClientConfig) { c.BaseURL = "https://u:p@qualysapi.qualys.eu" }, "must not carry credentials", ""},
		{"query", func(c *ClientConfig) { c.BaseURL = "https://qualysapi.qualys.eu/?x=1" }, "query", ""},
		{"no credentials", func(c *ClientConfig) { c.Username, c.Password = "", "" }, "no credentials", ""},
		{"no username", func(c *ClientConfig) { c.Username = "" }, "QUALYS_USERNAME", ""},
		{"no password", func(c *ClientConfig) { c.Password = "" }, "QUALYS_PASSWORD", ""},
		{"negative concurrency", func(c *ClientConfig) { c.Concurrency = -1 }, "negative", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			c, err := NewClient(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), ":p@") {
					t.Errorf("error shows the URL password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tt.base {
				t.Errorf("base = %q, want %q", c.base, tt.base)
			}
			if c.cfg.MaxAttempts != 8 || c.cfg.BaseDelay != 2*time.Second || c.cfg.MaxDelay != 5*time.Minute ||
				c.cfg.ReadTimeout != 5*time.Minute || c.cfg.ConnectTimeout != 30*time.Second ||
				!strings.HasPrefix(c.cfg.UserAgent, "qvt/") {
				t.Errorf("defaults not applied: %+v", c.cfg)
			}
		})
	}
}

// TestRequestShape checks what every request carries, on each endpoint,
// with plain and gzip bodies.
func TestRequestShape(t *testing.T) {
	type seen struct {
		path, rawQuery, method, ctype string
		form                          url.Values
		header                        http.Header
		user, pass                    string
		authOK                        bool
	}
	tests := []struct {
		name     string
		gzip     bool
		body     []byte
		call     func(c *Client) (int, error) // returns the number of records
		path     string
		wantForm url.Values
	}{
		{
			name: "KB gzip", gzip: true, body: kbPage(t, "2026-11-01T00:00:00Z", nil, 1, 2, 3),
			call: func(c *Client) (int, error) {
				n := 0
				_, err := c.KB(context.Background(), url.Values{"details": {"All"}, "action": {"delete"}}, func(*Vuln) error { n++; return nil })
				return n, err
			},
			path:     EndpointKB,
			wantForm: url.Values{"action": {"list"}, "details": {"All"}},
		},
		{
			name: "detections plain", body: hldPage(t, "2026-11-01T00:00:00Z", nil, 7, 8),
			call: func(c *Client) (int, error) {
				ids, _, err := collectHosts(c, context.Background(), url.Values{"ids": {"7-8"}, "status": {"New,Active,Re-Opened,Fixed"}})
				return len(ids), err
			},
			path:     EndpointDetections,
			wantForm: url.Values{"action": {"list"}, "ids": {"7-8"}, "status": {"New,Active,Re-Opened,Fixed"}},
		},
		{
			name: "host ids gzip", gzip: true,
			body: func() []byte {
				var b bytes.Buffer
				if err := WriteHostIDList(&b, "2026-11-01T00:00:00Z", []int64{1, 2, 3, 9}); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			}(),
			call: func(c *Client) (int, error) {
				ids, err := c.HostIDs(context.Background(), url.Values{"vm_processed_after": {"2026-10-01T00:00:00Z"}, "details": {"All"}})
				return len(ids), err
			},
			path: EndpointHostList,
			wantForm: url.Values{"action": {"list"}, "details": {"None"}, "truncation_limit": {"0"},
				"vm_processed_after": {"2026-10-01T00:00:00Z"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := r.ParseForm(); err != nil {
					t.Error(err)
				}
				u, p, ok := r.BasicAuth()
				mu.Lock()
				got = append(got, seen{r.URL.Path, r.URL.RawQuery, r.Method, r.Header.Get("Content-Type"), r.PostForm, r.Header.Clone(), u, p, ok})
				mu.Unlock()
				w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
				if tt.gzip {
					w.Header().Set("Content-Encoding", "gzip")
					w.Write(gzipped(t, tt.body))
					return
				}
				w.Write(tt.body)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			n, err := tt.call(tc.Client)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Error("no records decoded")
			}
			if len(got) != 1 {
				t.Fatalf("%d requests, want 1", len(got))
			}
			s := got[0]
			if s.method != http.MethodPost || s.path != tt.path || s.rawQuery != "" {
				t.Errorf("request %s %s?%s, want POST %s without a query", s.method, s.path, s.rawQuery, tt.path)
			}
			if s.ctype != "application/x-www-form-urlencoded" {
				t.Errorf("Content-Type %q", s.ctype)
			}
			if !s.authOK || s.user != testUser || s.pass != testPassword {
				t.Errorf("basic auth %q/%q (%v)", s.user, s.pass, s.authOK)
			}
			if v := s.header.Get("X-Requested-With"); v != "qvt" {
				t.Errorf("X-Requested-With %q", v)
			}
			if v := s.header.Get("Accept-Encoding"); v != "gzip" {
				t.Errorf("Accept-Encoding %q", v)
			}
			if v := s.header.Get("User-Agent"); !strings.HasPrefix(v, "qvt/") {
				t.Errorf("User-Agent %q", v)
			}
			if s.form.Encode() != tt.wantForm.Encode() {
				t.Errorf("form %s, want %s", s.form.Encode(), tt.wantForm.Encode())
			}
			tc.noSecrets(t, nil)
			if st := tc.Stats(); st.Calls != 1 || st.Retries != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestPaging follows WARNING URLs, which name another host: the pages must
// still come from the configured server, every record once.
func TestPaging(t *testing.T) {
	const foreign = "https://qualysapi.elsewhere.example"
	tests := []struct {
		name string
		run  func(c *Client) ([]int64, Response, error)
		page func(t *testing.T, datetime string, warn *Warning, ids ...int64) []byte
		path string
	}{
		{
			name: "detections", path: EndpointDetections, page: hldPage,
			run: func(c *Client) ([]int64, Response, error) {
				return collectHosts(c, context.Background(), url.Values{"truncation_limit": {"2"}, "show_igs": {"1"}})
			},
		},
		{
			name: "KB", path: EndpointKB,
			page: func(t *testing.T, datetime string, warn *Warning, ids ...int64) []byte {
				qids := make([]int, len(ids))
				for i, id := range ids {
					qids[i] = int(id)
				}
				return kbPage(t, datetime, warn, qids...)
			},
			run: func(c *Client) ([]int64, Response, error) {
				var ids []int64
				resp, err := c.KB(context.Background(), url.Values{"details": {"All"}}, func(v *Vuln) error {
					ids = append(ids, int64(v.QID))
					return nil
				})
				return ids, resp, err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var forms []url.Values
			var hosts []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				forms = append(forms, r.PostForm)
				hosts = append(hosts, r.Host)
				next := func(idMin int) *Warning {
					return &Warning{Code: "1980", Text: "2 record limit exceeded. Use URL to get next batch of results.",
						URL: foreign + tt.path + "?action=list&truncation_limit=2&show_igs=1&details=All&id_min=" + strconv.Itoa(idMin)}
				}
				switch r.PostForm.Get("id_min") {
				case "":
					w.Write(tt.page(t, "2026-11-01T00:00:01Z", next(3), 1, 2))
				case "3":
					w.Write(tt.page(t, "2026-11-01T00:00:02Z", next(5), 3, 4))
				case "5":
					w.Write(tt.page(t, "2026-11-01T00:00:03Z", nil, 5))
				default:
					t.Errorf("unexpected id_min %q", r.PostForm.Get("id_min"))
					http.Error(w, "bad", 500)
				}
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			ids, resp, err := tt.run(tc.Client)
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{1, 2, 3, 4, 5}; !slices.Equal(ids, want) {
				t.Errorf("records %v, want %v", ids, want)
			}
			if resp.Datetime != "2026-11-01T00:00:01Z" || resp.Warning != nil {
				t.Errorf("response %+v, want the first page's datetime and no warning", resp)
			}
			if len(forms) != 3 {
				t.Fatalf("%d requests, want 3", len(forms))
			}
			for i, h := range hosts {
				if h != strings.TrimPrefix(srv.URL, "http://") {
					t.Errorf("request %d went to %q", i, h)
				}
			}
			if f := forms[2]; f.Get("action") != "list" || f.Get("truncation_limit") != "2" || f.Get("id_min") != "5" {
				t.Errorf("third page form %v", f)
			}
			if !strings.Contains(tc.logs.String(), "next page") {
				t.Errorf("pages not logged:\n%s", tc.logs)
			}
		})
	}
}

func TestPagingBadWarning(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{"another API", "https://qualysapi.qualys.com/api/2.0/fo/scan/?action=list&id_min=3", "another API"},
		{"no progress", "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/?action=list", "repeats the request"},
		{"no parameters", "https://qualysapi.qualys.com/api/2.0/fo/asset/host/vm/detection/", "no parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(hldPage(t, "2026-11-01T00:00:00Z", &Warning{Code: "1980", Text: "limit", URL: tt.url}, 1))
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			_, _, err := collectHosts(tc.Client, context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), EndpointDetections) {
				t.Fatalf("err = %v, want one naming the endpoint and %q", err, tt.want)
			}
		})
	}
}

func TestHostIDs(t *testing.T) {
	pages := []string{
		`<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE HOST_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/asset/host/host_list_output.dtd">
<HOST_LIST_OUTPUT>
  <RESPONSE>
    <DATETIME>2026-11-01T00:00:00Z</DATETIME>
    <ID_SET>
      <ID>12</ID>
      <ID_RANGE>100-103</ID_RANGE>
      <ID>7</ID>
      <ID_RANGE> 200 - 200 </ID_RANGE>
    </ID_SET>
    <WARNING>
      <CODE>1980</CODE>
      <TEXT>5 record limit exceeded. Use URL to get next batch of results.</TEXT>
      <URL><![CDATA[https://qualysapi.qualys.com/api/2.0/fo/asset/host/?action=list&details=None&id_min=201]]></URL>
    </WARNING>
  </RESPONSE>
</HOST_LIST_OUTPUT>`,
		`<HOST_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-01T00:00:01Z</DATETIME>
<ID_SET><ID>201</ID><ID_RANGE>103-104</ID_RANGE></ID_SET></RESPONSE></HOST_LIST_OUTPUT>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.PostForm.Get("id_min") == "201" {
			w.Write([]byte(pages[1]))
			return
		}
		w.Write([]byte(pages[0]))
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, nil)
	ids, err := tc.HostIDs(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{7, 12, 100, 101, 102, 103, 104, 200, 201}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}

	t.Run("empty", func(t *testing.T) {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			WriteHostIDList(w, "2026-11-01T00:00:00Z", nil)
		}))
		defer srv.Close()
		ids, err := newTestClient(t, srv.URL, nil).HostIDs(context.Background(), nil)
		if err != nil || len(ids) != 0 || n.Load() != 1 {
			t.Errorf("ids %v, err %v, %d calls", ids, err, n.Load())
		}
	})

	for _, bad := range []string{"5-", "a-b", "9-3", "0-4", "1-99999999999"} {
		t.Run("bad range "+bad, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "<HOST_LIST_OUTPUT><RESPONSE><DATETIME>x</DATETIME><ID_SET><ID_RANGE>%s</ID_RANGE></ID_SET></RESPONSE></HOST_LIST_OUTPUT>", bad)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			_, err := tc.HostIDs(context.Background(), nil)
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "ID_RANGE") {
				t.Errorf("err = %v, want a SyntaxError about ID_RANGE", err)
			}
			if st := tc.Stats(); st.Calls != 1 {
				t.Errorf("%d calls: a malformed body must not be retried", st.Calls)
			}
		})
	}
}

func TestKBIDs(t *testing.T) {
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form = r.PostForm
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8" ?>
<!DOCTYPE KNOWLEDGE_BASE_VULN_LIST_OUTPUT SYSTEM "https://qualysapi.qualys.com/api/2.0/fo/knowledge_base/vuln/knowledge_base_vuln_list_output.dtd">
<KNOWLEDGE_BASE_VULN_LIST_OUTPUT><RESPONSE><DATETIME>2026-11-01T00:00:00Z</DATETIME>
<ID_SET><ID>38170</ID><ID_RANGE>10-12</ID_RANGE><ID>11</ID></ID_SET></RESPONSE></KNOWLEDGE_BASE_VULN_LIST_OUTPUT>`)
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, nil)
	ids, err := tc.KBIDs(context.Background(), url.Values{"last_modified_after": {"2026-10-01"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{10, 11, 12, 38170}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if form.Get("action") != "list" || form.Get("details") != "None" || form.Get("last_modified_after") != "2026-10-01" {
		t.Errorf("form %v", form)
	}
}

// TestFailFast covers the errors that must not be retried.
func TestFailFast(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    []byte
		want    []string // substrings of the message
		code    int
		wantAPI bool // errors.As(*APIError)
	}{
		{
			name: "200 SIMPLE_RETURN 2001", status: 200, body: readFixture(t, "simple_return_2001.xml"),
			want: []string{EndpointDetections, "2001", "This account has expired."}, code: 2001, wantAPI: true,
		},
		{
			name: "401", status: 401, body: readFixture(t, "simple_return_2000.xml"),
			want: []string{EndpointDetections, "Qualys rejected the credentials for alice at http://127.0.0.1",
				"(check QUALYS_USERNAME/QUALYS_PASSWORD and the platform)"}, code: 2000, wantAPI: true,
		},
		{
			name: "401 without body", status: 401,
			want: []string{"Qualys rejected the credentials for alice"},
		},
		{
			name: "403", status: 403, body: simpleReturn(t, 2002, "User account is inactive.", nil),
			want: []string{"refused access for alice", "API access is not enabled", "User account is inactive."}, code: 2002, wantAPI: true,
		},
		{
			name: "400 1905", status: 400, body: readFixture(t, "simple_return_1905.xml"),
			want: []string{EndpointDetections, "HTTP 400", "parameter ids has invalid value: abc123", "code 1905"}, code: 1905, wantAPI: true,
		},
		{
			name: "400 1901", status: 400, body: simpleReturn(t, 1901, "Unrecognized parameter(s): bogus", nil),
			want: []string{"Unrecognized parameter(s): bogus", "code 1901"}, code: 1901, wantAPI: true,
		},
		{
			name: "400 1903", status: 400, body: simpleReturn(t, 1903, "Missing required parameter(s): action", nil),
			want: []string{"Missing required parameter(s): action"}, code: 1903, wantAPI: true,
		},
		{
			name: "404", status: 404, body: []byte("<html>not here</html>"),
			want: []string{"HTTP 404 Not Found"},
		},
		{
			name: "200 HTML", status: 200, body: []byte("<!doctype html><html><body>proxy login</body></html>"),
			want: []string{"malformed response"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write(tt.body)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, nil)
			_, _, err := collectHosts(tc.Client, context.Background(), url.Values{"ids": {"abc123"}})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.Endpoint != EndpointDetections || e.Status != tt.status || e.Code != tt.code {
				t.Errorf("error %#v: want *Error with endpoint, status %d, code %d", e, tt.status, tt.code)
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) != tt.wantAPI {
				t.Errorf("errors.As(*APIError) = %v, want %v", !tt.wantAPI, tt.wantAPI)
			}
			if st := tc.Stats(); st.Calls != 1 || st.Retries != 0 {
				t.Errorf("stats %+v: want one call, no retry", st)
			}
			tc.noSecrets(t, err)
		})
	}
}

func TestCallbackError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(hldPage(t, "2026-11-01T00:00:00Z", nil, 1, 2, 3))
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, nil)
	stop := errors.New("store is full")
	n := 0
	_, err := tc.Detections(context.Background(), nil, func(*Host) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop {
		t.Errorf("err = %#v, want the callback's error as it is", err)
	}
	if st := tc.Stats(); st.Calls != 1 || n != 2 {
		t.Errorf("%d calls, %d records: want 1 call and a stop at the second record", st.Calls, n)
	}
}

// TestRetries covers each retryable failure followed by success.
func TestRetries(t *testing.T) {
	good := hldPage(t, "2026-11-01T00:00:00Z", nil, 1, 2, 3, 4)
	cut := func(b []byte) []byte { return b[:len(b)*2/3] }
	tests := []struct {
		name   string
		first  func(w http.ResponseWriter) // the failing first response
		reason string                      // Stats.ByReason key
		logged string                      // in the retry log line
		sleep  time.Duration               // > 0: a sleep of about this long must be asked for
		hosts  int                         // records delivered in all (a cut page re-sends); -n: at least n
	}{
		{
			name: "409 1960", reason: "concurrency_limit", logged: "concurrency limit", hosts: 4,
			first: func(w http.ResponseWriter) {
				w.Header().Set("X-Concurrency-Limit-Limit", "2")
				w.Header().Set("X-Concurrency-Limit-Running", "2")
				w.WriteHeader(409)
				w.Write(simpleReturn(t, 1960, "This API cannot be run again until 1 currently running instance has finished.", map[string]string{"CALLS_TO_FINISH": "1"}))
			},
		},
		{
			name: "409 1965 ToWait header", reason: "rate_limit", logged: "rate limit", hosts: 4, sleep: 38 * time.Second,
			first: func(w http.ResponseWriter) {
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-ToWait-Sec", "37")
				w.WriteHeader(409)
				w.Write(simpleReturn(t, 1965, "This API cannot be run again for another 37 seconds.", nil))
			},
		},
		{
			name: "409 1965 SECONDS_TO_WAIT item", reason: "rate_limit", logged: "rate limit", hosts: 4, sleep: 91 * time.Second,
			first: func(w http.ResponseWriter) {
				w.WriteHeader(409)
				w.Write(simpleReturn(t, 1965, "This API cannot be run again for another 1 minute and 30 seconds.", map[string]string{"SECONDS_TO_WAIT": "90"}))
			},
		},
		{
			name: "503", reason: "http_503", logged: "HTTP 503", hosts: 4,
			first: func(w http.ResponseWriter) { w.WriteHeader(503); w.Write([]byte("maintenance")) },
		},
		{
			name: "502", reason: "http_502", logged: "HTTP 502", hosts: 4,
			first: func(w http.ResponseWriter) { w.WriteHeader(502) },
		},
		{
			name: "202", reason: "http_202", logged: "HTTP 202", hosts: 4,
			first: func(w http.ResponseWriter) { w.WriteHeader(202) },
		},
		{
			name: "429", reason: "http_429", logged: "HTTP 429", hosts: 4,
			first: func(w http.ResponseWriter) { w.WriteHeader(429) },
		},
		{
			name: "body cut, chunked", reason: "incomplete_body", logged: "cut off", hosts: 4 + 2,
			first: func(w http.ResponseWriter) { w.Write(cut(good)) },
		},
		{
			name: "body cut, short of Content-Length", reason: "incomplete_body", logged: "cut off", hosts: 4 + 2,
			first: func(w http.ResponseWriter) {
				w.Header().Set("Content-Length", strconv.Itoa(len(good)))
				w.Write(cut(good))
			},
		},
		{
			name: "gzip body cut", reason: "incomplete_body", logged: "cut off", hosts: -4, // what a half stream yields depends on flate
			first: func(w http.ResponseWriter) {
				w.Header().Set("Content-Encoding", "gzip")
				z := gzipped(t, good)
				w.Write(z[:len(z)/2])
			},
		},
		{
			name: "empty body", reason: "empty_body", logged: "empty response body", hosts: 4,
			first: func(w http.ResponseWriter) {},
		},
		{
			name: "connection dropped", reason: "connection", logged: "connection error", hosts: 4,
			first: func(w http.ResponseWriter) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				conn.Close()
			},
		},
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
			ids, resp, err := collectHosts(tc.Client, context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !(len(ids) == tt.hosts || tt.hosts < 0 && len(ids) >= -tt.hosts) || resp.Datetime != "2026-11-01T00:00:00Z" {
				t.Errorf("hosts %v, response %+v", ids, resp)
			}
			st := tc.Stats()
			if st.Calls != 2 || st.Retries != 1 || st.ByReason[tt.reason] != 1 {
				t.Errorf("stats %+v, want 2 calls and one %s retry", st, tt.reason)
			}
			logs := tc.logs.String()
			if !strings.Contains(logs, "level=INFO msg=\"qualys: retrying\"") || !strings.Contains(logs, tt.logged) ||
				!strings.Contains(logs, "endpoint="+EndpointDetections) || !strings.Contains(logs, "attempt=2") {
				t.Errorf("retry not logged at Info with reason %q, endpoint and attempt:\n%s", tt.logged, logs)
			}
			if tt.sleep > 0 {
				sl := tc.sleeps.all()
				if len(sl) != 1 || sl[0] > tt.sleep || sl[0] < tt.sleep-time.Second {
					t.Errorf("sleeps %v, want one of about %v", sl, tt.sleep)
				}
			}
			tc.noSecrets(t, nil)
		})
	}
}

func TestReadTimeout(t *testing.T) {
	good := hldPage(t, "2026-11-01T00:00:00Z", nil, 1, 2)
	release := make(chan struct{})
	defer close(release)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Write(good[:100])
			w.(http.Flusher).Flush()
			select { // then silence
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write(good)
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.ReadTimeout = 150 * time.Millisecond })
	start := time.Now()
	ids, _, err := collectHosts(tc.Client, context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || tc.Stats().ByReason["read_timeout"] != 1 {
		t.Errorf("ids %v, stats %+v", ids, tc.Stats())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestMaxAttempts(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(409)
			w.Write(simpleReturn(t, 1960, "concurrency", nil))
			return
		}
		w.WriteHeader(503)
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.MaxAttempts = 3 })
	_, err := tc.KB(context.Background(), nil, func(*Vuln) error { return nil })
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{EndpointKB, "giving up after 3 attempts", "last: HTTP 503 Service Unavailable"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 3 || e.Status != 503 {
		t.Errorf("error %#v", e)
	}
	if st := tc.Stats(); st.Calls != 3 || st.Retries != 2 || st.ByReason["concurrency_limit"] != 1 || st.ByReason["http_503"] != 1 {
		t.Errorf("stats %+v", st)
	}
	// Backoff: each delay lies between half the ceiling BaseDelay·2^(n−1)
	// and the ceiling.
	for i, d := range tc.sleeps.all() {
		if ceil := time.Millisecond << i; d < ceil/2 || d > ceil {
			t.Errorf("sleep %d = %v, want within [%v, %v]", i, d, ceil/2, ceil)
		}
	}
	tc.noSecrets(t, err)
}

func TestContextCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tc := newTestClient(t, srv.URL, func(c *ClientConfig) {
		c.Sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	})
	_, _, err := collectHosts(tc.Client, ctx, nil)
	if !errors.Is(err, context.Canceled) || tc.Stats().Calls != 1 {
		t.Errorf("err = %v after %d calls, want context.Canceled after 1", err, tc.Stats().Calls)
	}
}

// TestGovernorConcurrency runs 10 Detections calls at once against a
// server that allows 3: without a configured number, at most 2 run.
func TestGovernorConcurrency(t *testing.T) {
	tests := []struct {
		name       string
		configured int
		limit      string // X-Concurrency-Limit-Limit
		header     string
		want       int
	}{
		{"from header", 0, "3", "X-Concurrency-Limit-Limit", 2},
		{"older header spelling", 0, "3", "X-ConcurrencyLimit-Limit", 2},
		{"header limit 1", 0, "1", "X-Concurrency-Limit-Limit", 1},
		{"configured", 3, "5", "X-Concurrency-Limit-Limit", 3},
		{"configured above the limit", 8, "4", "X-Concurrency-Limit-Limit", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, peak, first atomic.Int32
			body := hldPage(t, "2026-11-01T00:00:00Z", nil, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := running.Add(1)
				defer running.Add(-1)
				first.CompareAndSwap(0, now)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				w.Header().Set(tt.header, tt.limit)
				w.Header().Set("X-Concurrency-Limit-Running", strconv.Itoa(int(now)))
				time.Sleep(15 * time.Millisecond)
				w.Write(body)
			}))
			defer srv.Close()
			tc := newTestClient(t, srv.URL, func(c *ClientConfig) { c.Concurrency = tt.configured })
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					if _, _, err := collectHosts(tc.Client, context.Background(), nil); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if p := peak.Load(); p > int32(tt.want) {
				t.Errorf("%d calls at once, want at most %d", p, tt.want)
			}
			if tt.configured == 0 && first.Load() != 1 {
				t.Errorf("first call ran with %d others: want it alone until the limit is known", first.Load()-1)
			}
			if s := tc.gov.slots(EndpointDetections); s != tt.want {
				t.Errorf("slots = %d, want %d", s, tt.want)
			}
			if st := tc.Stats(); st.Calls != 10 || st.ConcurrencyLimit == 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestGovernorPerEndpoint: slots are counted per endpoint.
func TestGovernorPerEndpoint(t *testing.T) {
	g := newGovernor(0, time.Hour, func(context.Context, time.Duration) error { return nil })
	ctx := context.Background()
	t1, err := g.acquire(ctx, EndpointKB)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := g.acquire(ctx, EndpointDetections) // another endpoint: not blocked
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := g.acquire(short, EndpointKB); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second KB call got a slot (%v): before any response there is one", err)
	}
	t1.release()
	t1.release() // idempotent
	t3, err := g.acquire(ctx, EndpointKB)
	if err != nil {
		t.Fatal(err)
	}
	t2.release()
	t3.release()
}

// TestGovernorShrink: a 1960 refusal shrinks the pool below what runs, and
// later responses grow it back to the target.
func TestGovernorShrink(t *testing.T) {
	g := newGovernor(0, time.Hour, func(context.Context, time.Duration) error { return nil })
	ctx := context.Background()
	resp := func(concurrency int) {
		t.Helper()
		tk, err := g.acquire(ctx, EndpointKB)
		if err != nil {
			t.Fatal(err)
		}
		g.observe(tk, limits{Concurrency: concurrency, RateRemaining: -1, ToWait: -1})
		tk.release()
	}
	resp(5)
	if s := g.slots(EndpointKB); s != 4 {
		t.Fatalf("slots %d, want 4", s)
	}
	var running []*ticket
	for range 3 {
		tk, err := g.acquire(ctx, EndpointKB)
		if err != nil {
			t.Fatal(err)
		}
		running = append(running, tk)
	}
	g.refused(running[2]) // the third call was refused: two still run
	if s := g.slots(EndpointKB); s != 2 {
		t.Errorf("after 1960: slots %d, want 2", s)
	}
	running[2].release()
	for _, want := range []int{3, 4, 4} {
		g.observe(running[0], limits{Concurrency: 5, RateRemaining: -1, ToWait: -1})
		if s := g.slots(EndpointKB); s != want {
			t.Errorf("recovering: slots %d, want %d", s, want)
		}
	}
	g.observe(running[1], limits{Concurrency: 2, RateRemaining: -1, ToWait: -1})
	if s := g.slots(EndpointKB); s != 1 {
		t.Errorf("lower limit: slots %d, want 1", s)
	}
	running[0].release()
	running[1].release()
}

// TestGovernorRateHold: Remaining 0 with ToWait > 0 holds the next call.
func TestGovernorRateHold(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Limit", "300")
		w.Header().Set("X-RateLimit-Window-Sec", "3600")
		if n.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-ToWait-Sec", "120")
		} else {
			w.Header().Set("X-RateLimit-Remaining", "299")
			w.Header().Set("X-RateLimit-ToWait-Sec", "0")
		}
		w.Write(kbPage(t, "2026-11-01T00:00:00Z", nil, 1))
	}))
	defer srv.Close()
	tc := newTestClient(t, srv.URL, nil)
	for i := range 3 {
		if _, err := tc.KB(context.Background(), nil, func(*Vuln) error { return nil }); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	sl := tc.sleeps.all()
	if len(sl) != 1 || sl[0] < 120*time.Second || sl[0] > 121*time.Second {
		t.Errorf("sleeps %v, want one hold of about 121s before the second call", sl)
	}
	if logs := tc.logs.String(); strings.Count(logs, `level=INFO msg="qualys: waiting for the rate limit"`) != 1 ||
		!strings.Contains(logs, "X-RateLimit-ToWait-Sec 120") {
		t.Errorf("the hold is not logged once at Info with its reason:\n%s", logs)
	}
	if st := tc.Stats(); st.RateLimit != 300 || st.RateRemaining != 299 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestParseLimits(t *testing.T) {
	h := http.Header{}
	for _, line := range strings.Split(string(readFixture(t, "response_headers_example.txt")), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
			h.Add(k, v)
		}
	}
	want := limits{RateLimit: 300, RateWindow: 3600, RateRemaining: 297, ToWait: 0, Concurrency: 2, Running: 0}
	if got := parseLimits(h); got != want {
		t.Errorf("parseLimits = %+v, want %+v", got, want)
	}
	if got := parseLimits(http.Header{"X-Concurrencylimit-Limit": {"4, 4"}}); got.Concurrency != 4 || got.RateLimit != -1 {
		t.Errorf("older spelling, repeated value: %+v", got)
	}
}
