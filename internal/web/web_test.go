package web

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/finding"
	"qvt/internal/store/storetest"
)

// Every page and API route answers, with the security headers, and shows
// what it is about.
func TestRoutes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		p, err := s.Findings(context.Background(), Query{Limit: 1})
		if err != nil || len(p.Rows) != 1 {
			t.Fatalf("first finding: %v %v", p, err)
		}
		f := p.Rows[0]
		xssKey := finding.Key(xssIP, xssQID, 443)
		for _, c := range []struct {
			path, ctype string
			wants       []string
		}{
			{"/", "text/html", []string{"Open findings", "Overdue", "Due in 7 days", "New", "Fixed", "Reopened",
				"Open findings by rating, day by day", "Fixed within the deadline", "Top QIDs by open risk", "Top hosts by open risk", "<svg"}},
			{"/findings", "text/html", []string{`<table class="findings">`, f.Title, "Download this list"}},
			{"/findings?rating=Critical&sort=deadline&dir=desc", "text/html", []string{"Critical"}},
			{"/finding/" + url.PathEscape(f.Key), "text/html", []string{f.Address, "History", "Diagnosis", "Solution"}},
			{"/finding/" + url.PathEscape(xssKey), "text/html", []string{"SEC-42", "https://jira.example.com/browse/SEC-42",
				"Attack Vector", "Network", "Environmental", "CVE-2024-3094", "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
				"Plain text<br>\nover two lines &amp; an ampersand", "VENDOR-2"}},
			{"/host/" + strconv.FormatInt(f.HostID, 10), "text/html", []string{f.Address, "Findings on this host", f.Title}},
			{"/qid/" + strconv.Itoa(f.QID), "text/html", []string{"QID " + strconv.Itoa(f.QID), "Hosts with this QID", f.Address}},
			{"/api/summary", "application/json", []string{`"by_rating"`, `"trend"`, `"top_qids"`}},
			{"/api/findings?limit=2", "application/json", []string{`"findings"`, `"next"`, `"next_url"`}},
			{"/api/findings/" + url.PathEscape(xssKey), "application/json", []string{`"key": "10.99.0.1:990001:443"`, `"jira": "SEC-42"`, `"cvss_metrics"`}},
			{"/api/hosts/" + strconv.FormatInt(f.HostID, 10), "application/json", []string{`"address"`}},
			{"/api/qids/" + strconv.Itoa(f.QID), "application/json", []string{`"qid"`}},
			{"/healthz", "application/json", []string{`"ok"`}},
			{"/static/app.css", "text/css", []string{"--critical"}},
			{"/static/app.js", "text/javascript", []string{"use strict"}},
		} {
			status, h, body := get(t, hs, c.path)
			if status != http.StatusOK {
				t.Errorf("%s: status %d\n%.500s", c.path, status, body)
				continue
			}
			if !strings.HasPrefix(h.Get("Content-Type"), c.ctype) {
				t.Errorf("%s: Content-Type %q, want %s", c.path, h.Get("Content-Type"), c.ctype)
			}
			if h.Get("Content-Security-Policy") != csp || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: security headers missing: %v", c.path, h)
			}
			mustContain(t, c.path, body, c.wants...)
		}
		for _, path := range []string{"/finding/1.2.3.4:1:0", "/finding/nonsense", "/host/999999999", "/qid/1", "/nowhere", "/api/findings/1.2.3.4:1:0", "/static/x.js"} {
			if status, _, _ := get(t, hs, path); status != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, status)
			}
		}
		status, _, body := get(t, hs, "/nowhere")
		mustContain(t, "404 page", body, "404 Not Found", "Back to the overview")
		status, _, body = get(t, hs, "/findings?status=bogus&rating=Severe")
		if status != http.StatusBadRequest {
			t.Errorf("bad filter: status %d", status)
		}
		mustContain(t, "bad filter page", body, `status=&#34;bogus&#34;`, "Severe")
		status, _, body = get(t, hs, "/api/findings?qid=x")
		if status != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("bad API filter: %d %s", status, body)
		}
	})
}

// The pages hold no inline script or style (the Content-Security-Policy
// would block them) and no asset from elsewhere, and stay light.
func TestPagesSelfContained(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		p, _ := s.Findings(context.Background(), Query{Limit: 1})
		total := 0
		for _, path := range []string{"/", "/findings", "/finding/" + url.PathEscape(p.Rows[0].Key)} {
			_, _, body := get(t, hs, path)
			for _, bad := range []*regexp.Regexp{
				regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`),        // inline script
				regexp.MustCompile(`<script(?:[^>](?:[^s]|s[^r]))*>`), // script without src
				regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`<style`), regexp.MustCompile(`\son[a-z]+=`),
				regexp.MustCompile(`src="(?:https?:)?//`), regexp.MustCompile(`<link[^>]+href="(?:https?:)?//`),
			} {
				if m := bad.FindString(body); m != "" && !strings.Contains(m, `src="/static/`) {
					t.Errorf("%s holds %q", path, m)
				}
			}
			total += len(body)
		}
		for _, a := range []string{"app.css", "app.js", "favicon.svg"} {
			b, _ := assets.ReadFile("static/" + a)
			total += len(b)
		}
		if total > 300<<10 {
			t.Errorf("the three pages and their assets weigh %d bytes; want under 300 KB", total)
		}
	})
}

// KB text is HTML from elsewhere: only formatting and http(s) links stay.
func TestKBSanitized(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		_, hs := newServerAt(t, loc, Config{})
		_, _, body := get(t, hs, "/finding/"+url.PathEscape(finding.Key(xssIP, xssQID, 443)))
		lower := strings.ToLower(body)
		for _, bad := range []string{"javascript:", "onerror", "onload", "onclick", "<iframe", "<img", "<svg onload", "<style", "style="} {
			if strings.Contains(lower, bad) {
				i := strings.Index(lower, bad)
				t.Errorf("finding page holds %q: …%s…", bad, body[max(0, i-80):min(len(body), i+80)])
			}
		}
		if n := strings.Count(lower, "<script"); n != 1 {
			t.Errorf("%d script elements, want only the dashboard's own", n)
		}
		mustContain(t, "finding page", body, "Look <b>here</b>.", `href="https://example.com/advisory"`, `rel="nofollow noreferrer noopener"`,
			"Hostile &lt;script&gt;", "&lt;script&gt;window.", `>VENDOR-1<`)
	})
}

// routePaths is a path for each route the dashboard serves, from the
// router's own list of patterns, its wildcards filled with the fixture's
// first finding, host and QID.
func routePaths(t *testing.T, s *Server) map[string]string {
	t.Helper()
	p, err := s.Findings(context.Background(), Query{Limit: 1})
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("first finding: %v %v", p, err)
	}
	f := p.Rows[0]
	fill := strings.NewReplacer("{$}", "", "{key}", url.PathEscape(f.Key), "{id}", strconv.FormatInt(f.HostID, 10),
		"{qid}", strconv.Itoa(f.QID), "{name}", "app.css", "{exc}", "1")
	paths := map[string]string{}
	for _, pattern := range s.patterns {
		if method, _, ok := strings.Cut(pattern, " "); ok && method != "GET" {
			continue // a write (exceptions_test.go)
		}
		path := pattern[strings.IndexByte(pattern, ' ')+1:]
		if path == "/" {
			path = "/nowhere" // the catch-all
		}
		path = fill.Replace(path)
		if strings.ContainsAny(path, "{}") {
			t.Fatalf("route %q: no sample value for its wildcard", pattern)
		}
		paths[pattern] = path
	}
	if len(paths) < 15 {
		t.Fatalf("the router lists %d routes: %v", len(paths), s.patterns)
	}
	return paths
}

// A login is required when configured, on every route but /healthz
// exactly: HTTP basic, a bearer token, or either when both are set.
func TestAuth(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		basic := func(user, pass string) []string {
			return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
		}
		const user, pass, token = "lead", "s3cret-passphrase", "tok-1234567890"
		for _, cfg := range []struct {
			name string
			auth Auth
		}{
			{"token only", Auth{Token: token}},
			{"basic only", Auth{User: user, Password: pass}},
			{"both", Auth{User: user, Password: pass, Token: token}},
		} {
			t.Run(cfg.name, func(t *testing.T) {
				if !cfg.auth.Enabled() {
					t.Fatalf("%+v: Enabled() is false", cfg.auth)
				}
				s, hs := newServerAt(t, loc, Config{Auth: cfg.auth})
				hasBasic, hasToken := cfg.auth.User != "", cfg.auth.Token != ""
				cases := []struct {
					name string
					hdr  []string
					ok   bool
				}{
					{"no login", nil, false},
					{"empty basic", []string{"Authorization", "Basic Og=="}, false},
					{"empty basic user", basic("", pass), false},
					{"basic", basic(user, pass), hasBasic},
					{"basic, wrong password", basic(user, pass+"x"), false},
					{"basic, wrong user", basic(user+"x", pass), false},
					{"basic, token as password", basic(user, token), false},
					{"bearer", []string{"Authorization", "Bearer " + token}, hasToken},
					{"bearer, any case", []string{"Authorization", "bEARER " + token}, hasToken},
					{"bearer, short token", []string{"Authorization", "Bearer " + token[:len(token)-1]}, false},
					{"bearer, empty", []string{"Authorization", "Bearer "}, false},
					{"bearer, password", []string{"Authorization", "Bearer " + pass}, false},
				}
				paths := routePaths(t, s)
				for pattern, path := range paths {
					for _, c := range cases {
						status, h, _ := get(t, hs, path, c.hdr...)
						switch {
						case pattern == "GET /healthz" || pattern == "GET /readyz":
							if status != http.StatusOK {
								t.Errorf("%s %s: status %d; %s needs no login", c.name, path, status, path)
							}
						case c.ok && (status == http.StatusUnauthorized || status >= 500):
							t.Errorf("%s %s: status %d, want it served", c.name, path, status)
						case !c.ok && status != http.StatusUnauthorized:
							t.Errorf("%s %s: status %d, want 401", c.name, path, status)
						case !c.ok && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic"):
							t.Errorf("%s %s: no WWW-Authenticate", c.name, path)
						}
					}
				}
				// Only /healthz itself is open.
				for _, path := range []string{"/healthz/", "/healthzz", "/healthz.json", "/h", "/hosts/1", "/host/1"} {
					if status, _, _ := get(t, hs, path); status != http.StatusUnauthorized {
						t.Errorf("%s without a login: status %d, want 401", path, status)
					}
				}
			})
		}
		// Without a login configured, every route is served.
		s, hs := newServerAt(t, loc, Config{})
		recordException(t, s)
		for pattern, path := range routePaths(t, s) {
			status, _, _ := get(t, hs, path)
			if want := http.StatusOK; pattern == "/" {
				want = http.StatusNotFound
				if status != want {
					t.Errorf("%s without login configured: status %d, want %d", path, status, want)
				}
			} else if status != want {
				t.Errorf("%s without login configured: status %d, want %d", path, status, want)
			}
		}
		for _, a := range []Auth{{}, {User: user}, {Password: pass}} {
			if a.Enabled() {
				t.Errorf("%+v counts as a login", a)
			}
		}
		cfg := Config{Auth: Auth{User: user, Password: pass, Token: token}}
		if s := cfg.String(); strings.Contains(s, pass) || strings.Contains(s, token) {
			t.Errorf("Config.String leaks a secret: %s", s)
		}
	})
}

// The dashboard binds loopback by default and will not listen beyond it
// without a login. Each case has a deadline: a server that serves when it
// should refuse fails the test rather than running on.
func TestListenPolicy(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		for addr, want := range map[string]bool{"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true, "LocalHost:1": true,
			"127.0.0.2:80": true, ":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.5:8080": false,
			"dash.example.com:443": false, "localhost.example:80": false, "localhost.:80": false, "127.0.0.1.example.com:80": false,
			"mylocalhost:80": false, "[::ffff:10.0.0.1]:80": false} {
			if got, err := loopback(addr); err != nil || got != want {
				t.Errorf("loopback(%q) = %v, %v; want %v", addr, got, err, want)
			}
		}
		if _, err := loopback("127.0.0.1"); err == nil {
			t.Error("an address without a port is accepted")
		}
		st, _ := fixtureStoreAt(t, loc)
		for _, c := range []struct {
			cfg  Config
			want string
		}{
			{Config{Addr: "0.0.0.0:0"}, "without a login"},
			{Config{Addr: ":0"}, "without a login"},
		} {
			s, err := New(st, c.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = s.ListenAndServe(ctx)
			cancel()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want an error saying %q", c.cfg, err, c.want)
			}
		}

		// Beyond loopback a password or token needs 12 characters; the
		// error names the setting, never the value.
		for _, a := range []Auth{{User: "lead", Password: "x"}, {User: "lead", Password: "elevenchars"},
			{Token: "tok-short"}, {User: "lead", Password: "long-enough-pw", Token: "tiny1"}} {
			s, err := New(st, Config{Addr: "0.0.0.0:0", Auth: a}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = s.ListenAndServe(ctx)
			cancel()
			short, name := a.Password, "web.auth.password"
			if len(a.Token) > 0 && len(a.Token) < minSecret {
				short, name = a.Token, "web.auth.token"
			}
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "12 characters") || strings.Contains(err.Error(), short) {
				t.Errorf("%s of %d characters beyond loopback: %v", name, len(short), err)
			}
		}
		// Twelve characters will do.
		s, err := New(st, Config{Addr: "0.0.0.0:0", Auth: Auth{User: "lead", Password: "twelve-chars", Token: "a-token-of-13"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		serveOnce(t, s, "http", "/healthz", nil)

		// On loopback without a login it serves, and stops when told.
		s, err = New(st, Config{Addr: "127.0.0.1:0"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		body := serveOnce(t, s, "http", "/healthz", nil)
		if !strings.Contains(body, `"ok"`) {
			t.Errorf("loopback /healthz answered %q", body)
		}
		if _, err := New(st, Config{Auth: Auth{User: "x"}}, nil); err == nil {
			t.Error("a user without a password is accepted")
		}
	})
}

// startServing runs s.ListenAndServe until ctx ends and returns the
// address it listens on and where its result arrives.
func startServing(t *testing.T, ctx context.Context, s *Server) (net.Addr, <-chan error) {
	t.Helper()
	addrs := make(chan net.Addr, 1)
	s.listening = func(a net.Addr) { addrs <- a }
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()
	select {
	case addr := <-addrs:
		return addr, done
	case err := <-done:
		t.Fatalf("ListenAndServe ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not listen within 10 s")
	}
	return nil, nil
}

// serveOnce runs s.ListenAndServe, fetches one path once it listens,
// then stops it; every step has a deadline.
func serveOnce(t *testing.T, s *Server, scheme, path string, client *http.Client) string {
	t.Helper()
	if client == nil {
		client = &http.Client{}
	}
	client.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, done := startServing(t, ctx, s)
	// A server bound to every address is asked on loopback.
	port := addr.(*net.TCPAddr).Port
	res, err := client.Get(scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", path, res.StatusCode, err, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe after the context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not stop within 10 s of its context ending")
	}
	return string(b)
}

// The downloads hold exactly the list's findings, in the export contract.
func TestDownloads(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		all := loadOracle(t, s.st.DB())
		for _, f := range []string{"rating=Critical", "status=closed&rating=High", "status=Active&due=overdue", "tag=DMZ", "q=Windows&status=all", "",
			"status=closed&due=overdue", "status=all&due=week", "status=gone", "status=disabled&rating=High"} {
			v, _ := url.ParseQuery(f)
			q, _ := ParseQuery(v)
			var want []string
			for _, r := range all {
				if oracleMatch(q, r, s.now()) {
					want = append(want, finding.Key(r.ip, r.QID, r.Port))
				}
			}
			slices.Sort(want)
			status, h, body := get(t, hs, "/findings.csv?"+f)
			if status != 200 || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
				t.Fatalf("%s: csv %d %v", f, status, h)
			}
			recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs[1:] {
				got = append(got, r[0])
			}
			if !slices.Equal(got, want) {
				t.Errorf("csv %q: %d findings, want %d; %v", f, len(got), len(want), firstDiffS(got, want))
			}
			_, _, body = get(t, hs, "/findings.json?"+f)
			var items []finding.Finding
			if err := json.Unmarshal([]byte(body), &items); err != nil {
				t.Fatalf("json %q: %v", f, err)
			}
			got = got[:0]
			for _, it := range items {
				got = append(got, it.Key)
			}
			if !slices.Equal(got, want) {
				t.Errorf("json %q: %d findings, want %d", f, len(got), len(want))
			}
		}
	})
}

// The overview's counts agree with the store's own summary, and its chart
// with a day-by-day replay of every finding's history.
func TestOverview(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, _ := newServerAt(t, loc, Config{})
		ctx := context.Background()
		o, err := s.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := s.st.Summarize(ctx, s.now())
		if err != nil {
			t.Fatal(err)
		}
		if o.Open != sum.Open || o.Total != sum.Total || o.Overdue != sum.Overdue || o.DueSoon != sum.DueSoon {
			t.Errorf("overview open/total/overdue/due %d/%d/%d/%d, store %d/%d/%d/%d", o.Open, o.Total, o.Overdue, o.DueSoon, sum.Open, sum.Total, sum.Overdue, sum.DueSoon)
		}
		for _, c := range o.ByRating {
			if c.Count != sum.ByRating[c.Name] {
				t.Errorf("open %s: %d, store %d", c.Name, c.Count, sum.ByRating[c.Name])
			}
		}
		changes, err := s.st.Changes(ctx, o.Sync.DataTime.Unix())
		if err != nil {
			t.Fatal(err)
		}
		if o.Changes.New != changes.New || o.Changes.Fixed != changes.Fixed || o.Changes.Reopened != changes.Reopened || o.Changes.Gone != changes.Gone {
			t.Errorf("last sync changes %+v, store %+v", o.Changes, changes)
		}
		if o.Sync.RunKind != "incremental" || o.Sync.Duration != 95 {
			t.Errorf("last sync %+v", o.Sync)
		}
		if len(o.TopQIDs) == 0 || len(o.TopHosts) == 0 || o.TopQIDs[0].Risk < o.TopQIDs[len(o.TopQIDs)-1].Risk {
			t.Errorf("top lists: %+v %+v", o.TopQIDs, o.TopHosts)
		}

		// Replay: a finding is open at the end of day D when it was first seen
		// by then and its last closing event up to D reopened it (or, with no
		// event by then, it was open before its first event, or is open now).
		type life struct {
			rating    string
			firstSeen int64
			open      bool
			events    []struct {
				at       int64
				old, new string
			}
		}
		lives := map[[3]int64]*life{}
		rows, err := s.st.DB().Query("SELECT host_id, qid, port, vuln_score, first_seen, closed = '' FROM detections WHERE type <> 'Info'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k [3]int64
			l := &life{}
			rows.Scan(&k[0], &k[1], &k[2], &l.rating, &l.firstSeen, &l.open)
			lives[k] = l
		}
		rows.Close()
		rows, err = s.st.DB().Query("SELECT host_id, qid, port, at, old, new FROM history WHERE event = 'closed' ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k [3]int64
			var e struct {
				at       int64
				old, new string
			}
			rows.Scan(&k[0], &k[1], &k[2], &e.at, &e.old, &e.new)
			if l := lives[k]; l != nil {
				l.events = append(l.events, e)
			}
		}
		rows.Close()
		if len(o.Trend.Days) < fixtureDays+1 {
			t.Fatalf("trend has %d days", len(o.Trend.Days))
		}
		for di, day := range o.Trend.Days {
			d, _ := time.Parse(time.DateOnly, day)
			end := d.Add(24 * time.Hour).Unix()
			want := map[string]int{}
			for _, l := range lives {
				if l.firstSeen >= end {
					continue
				}
				open := l.open
				if len(l.events) > 0 {
					open = l.events[0].old == ""
				}
				for _, e := range l.events {
					if e.at < end {
						open = e.new == ""
					}
				}
				if open {
					want[l.rating]++
				}
			}
			for ri, r := range o.Trend.Ratings {
				if got := o.Trend.Open[ri][di]; got != want[r] {
					t.Errorf("trend %s %s: %d, replay %d", day, r, got, want[r])
				}
			}
		}
		// The last day is today: the open counts.
		last := len(o.Trend.Days) - 1
		for ri, c := range o.ByRating {
			if o.Trend.Open[ri][last] != c.Count {
				t.Errorf("trend today %s: %d, open %d", c.Name, o.Trend.Open[ri][last], c.Count)
			}
		}
	})
}

// A change to the store makes the overview stale; the next one follows.
func TestOverviewRefresh(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, _ := newServerAt(t, loc, Config{})
		ctx := context.Background()
		o1, err := s.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.st.DB().Exec("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE name = 'rev'"); err != nil {
			t.Fatal(err)
		}
		o2, err := s.Overview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !o2.Stale || o2.Built != o1.Built {
			t.Errorf("after a change: stale %v", o2.Stale)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			o3, err := s.Overview(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !o3.Stale {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the overview was never rebuilt")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// /metrics exports findings, the last sync and the API calls fed to it.
func TestMetrics(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		s.Metrics().AddAPICalls("qualys", "/api/2.0/fo/asset/host/vm/detection/", 12, 2)
		get(t, hs, "/")
		_, _, body := get(t, hs, "/metrics")
		mustContain(t, "/metrics", body,
			`qvt_findings{rating="High",status="Active"}`, `qvt_findings_open{rating="Critical"}`, `qvt_findings_overdue{rating="High"}`,
			"qvt_last_sync_timestamp_seconds", "qvt_last_sync_duration_seconds 95", "qvt_last_data_timestamp_seconds",
			`qvt_api_calls_total{api="qualys",endpoint="/api/2.0/fo/asset/host/vm/detection/"} 12`,
			`qvt_api_retries_total{api="qualys",endpoint="/api/2.0/fo/asset/host/vm/detection/"} 2`,
			`qvt_http_requests_total{code="200",route="/{$}"}`, "go_goroutines", "qvt_dashboard_overview_build_seconds")
	})
}

// Every template renders with empty data: a store with nothing in it.
func TestEmptyStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(st, Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		hs := newHTTPTest(s)
		defer hs.Close()
		for _, path := range []string{"/", "/findings", "/api/summary", "/api/findings", "/findings.csv", "/findings.json"} {
			status, _, body := get(t, hs, path)
			if status != 200 {
				t.Errorf("%s: %d %.300s", path, status, body)
			}
		}
		_, _, body := get(t, hs, "/findings")
		mustContain(t, "empty list", body, "No findings match")
		// The overview says what to do, and the deadlines that will apply.
		_, _, body = get(t, hs, "/")
		mustContain(t, "empty overview", body, "qvt sync", "qvt import", "15 days", "30 days", "90 days", "180 days")
		if n := strings.Count(body, "<td>none</td>"); n != 1 {
			t.Errorf("the empty overview shows %d ratings without a deadline, want 1 (None)", n)
		}
		// Configured deadlines are those shown.
		s2, err := New(st, Config{SLADays: map[string]int{"Critical": 7, "High": 14}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		o, err := s2.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if o.SLA[0].SLADays != 7 || o.SLA[1].SLADays != 14 || o.SLA[2].SLADays != 0 {
			t.Errorf("SLA of an empty store with Critical 7, High 14: %+v", o.SLA)
		}
	})
}

// The overview names the newest sync (of two that ended in the same
// second, the later one) and says how long it took in seconds below a
// minute.
func TestOverviewLastSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		var at int64
		if err := s.st.DB().QueryRow("SELECT max(finished_at) FROM sync_runs").Scan(&at); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			fmt.Sprintf("INSERT INTO sync_runs (kind, started_at, finished_at, status) VALUES ('full', %d, %d, 'done')", at+10, at+3610),
			fmt.Sprintf("INSERT INTO sync_runs (kind, started_at, finished_at, status) VALUES ('incremental', %d, %d, 'done')", at+3608, at+3610),
			fmt.Sprintf("INSERT INTO sync_runs (kind, started_at, finished_at, status) VALUES ('full', %d, %d, 'failed')", at+3700, at+3800),
		} {
			if _, err := s.st.DB().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		o, err := s.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for o.Stale {
			time.Sleep(20 * time.Millisecond)
			if o, err = s.Overview(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if o.Sync.RunKind != "incremental" || o.Sync.Duration != 2 {
			t.Errorf("last sync %+v, want the incremental one of 2 s", o.Sync)
		}
		_, _, body := get(t, hs, "/")
		mustContain(t, "overview", body, "last sync incremental", "took 2 s")
		for sec, want := range map[float64]string{0: "under a second", 0.4: "under a second", 1: "1 s", 59.9: "59 s", 60: "1.0 min", 95: "1.6 min", 7200: "2.0 h"} {
			if got := durationText(sec); got != want {
				t.Errorf("durationText(%v) = %q, want %q", sec, got, want)
			}
		}
	})
}

func firstDiffS(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d: %v vs %v", i, a[i], b[i])
		}
	}
	return strconv.Itoa(min(len(a), len(b)))
}

// The QID page's counts come from the overview when it is current; they
// are those the store counts.
func TestQIDCounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, _ := newServerAt(t, loc, Config{})
		ctx := context.Background()
		if _, err := s.Overview(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := s.st.DB().Query("SELECT DISTINCT qid FROM detections WHERE type <> 'Info' ORDER BY qid LIMIT 40")
		if err != nil {
			t.Fatal(err)
		}
		var qids []int
		for rows.Next() {
			var q int
			rows.Scan(&q)
			qids = append(qids, q)
		}
		rows.Close()
		for _, q := range qids {
			v, err := s.qid(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			by, open, overdue, err := s.openCounts(ctx, s.st.DB(), "qid = ?", q)
			if err != nil {
				t.Fatal(err)
			}
			if v.Open != open || v.Overdue != overdue || !slices.Equal(v.OpenBy, by) {
				t.Errorf("QID %d: page %d open %d overdue %v, store %d %d %v", q, v.Open, v.Overdue, v.OpenBy, open, overdue, by)
			}
		}
	})
}

// TestStopsWithAnUnusedConnection: a browser opens connections it has not
// sent a request on yet; stopping the dashboard must not wait on them
// forever nor fail.
func TestStopsWithAnUnusedConnection(t *testing.T) {
	s, _ := newServerAt(t, filepath.Join(t.TempDir(), "qvt.db"), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServing(t, ctx, s)
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // the server has accepted it
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stopping with an unused connection open: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the dashboard did not stop within 20 s")
	}
}
