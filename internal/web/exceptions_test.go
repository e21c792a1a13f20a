package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/clock"
	"qvt/internal/exceptions"
	"qvt/internal/finding"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// The fixture with owners and exceptions: hosts shared by two owners and
// the unowned, a QID-wide exception on the QID with the most overdue
// findings (its last day three days on), and one finding excepted as a
// false positive without expiry.
type excFixture struct {
	s    *Server
	hs   *httptest.Server
	now  time.Time
	qid  int    // the QID-wide exception's
	key  string // the one finding's
	free string // an open finding no exception covers
}

const (
	ownerA = "Payments platform"
	ownerB = "Database team"
)

// setNow moves the dashboard's and the store's today.
func setNow(t *testing.T, s *Server, now time.Time) {
	t.Helper()
	t.Setenv(clock.Env, now.UTC().Format(time.RFC3339))
	s.now = func() time.Time { return now }
}

func newExcFixture(t *testing.T, loc string, cfg Config) *excFixture {
	t.Helper()
	s, hs := newServerAt(t, loc, cfg)
	f := &excFixture{s: s, hs: hs, now: s.now()}
	s.log = slog.New(slog.NewTextHandler(testWriter{t}, nil)) // the server's errors in the test's log
	setNow(t, s, f.now)
	ctx := context.Background()
	db := s.st.DB()
	if _, err := db.ExecContext(ctx, `UPDATE detections SET owner = CASE WHEN host_id % 3 = 0 THEN '`+ownerA+`'
  WHEN host_id % 3 = 1 THEN '`+ownerB+`' ELSE '' END`); err != nil {
		t.Fatal(err)
	}
	day := f.now.UTC().Format(time.DateOnly)
	soon := f.now.UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	if err := db.QueryRowContext(ctx, `SELECT qid FROM detections WHERE type <> 'Info' AND closed = '' AND breach_date <> '' AND breach_date < ?
GROUP BY qid ORDER BY count(*) DESC, qid LIMIT 1`, day).Scan(&f.qid); err != nil {
		t.Fatal(err)
	}
	keys := func(where string, args ...any) []string {
		rows, err := db.QueryContext(ctx, `SELECT h.ip, d.qid, d.port FROM detections d JOIN hosts h ON h.id = d.host_id
WHERE d.type <> 'Info' AND d.closed = '' AND h.ip <> '' AND `+where+` ORDER BY d.host_id, d.qid, d.port`, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var ip string
			var qid, port int
			if err := rows.Scan(&ip, &qid, &port); err != nil {
				t.Fatal(err)
			}
			out = append(out, finding.Key(ip, qid, port))
		}
		return out
	}
	week := keys("d.qid <> ? AND d.breach_date >= ? AND d.breach_date <= ?", f.qid, day, soon)
	if len(week) < 2 {
		t.Fatalf("the fixture has %d findings due within the week beside QID %d", len(week), f.qid)
	}
	f.key, f.free = week[0], week[len(week)-1]
	until := f.now.UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		for _, e := range []*exceptions.Exception{
			{Type: "risk_accepted", Scope: exceptions.Scope{QID: f.qid}, Reason: "Needed by the payment terminal until it is replaced",
				Approver: "ciso@corp.example", RecordedBy: "test", Until: until},
			{Type: "false_positive", Scope: exceptions.Scope{Key: f.key}, Reason: "Backported fix", Approver: "lead@corp.example", RecordedBy: "test"},
		} {
			if err := e.Validate(exceptions.DefaultPolicy(), day); err != nil {
				return err
			}
			if _, err := tx.AddException(e, f.now); err != nil {
				return err
			}
		}
		_, err := tx.ApplyExceptions(f.now, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The owner and exception filters, alone and with the others, select
// exactly what a plain filter does, through every plan and order; an
// excepted finding is neither overdue nor due soon.
func TestOwnerAndExceptionFilters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		f := newExcFixture(t, loc, Config{})
		s := f.s
		if _, err := s.Overview(context.Background()); err != nil {
			t.Fatal(err)
		}
		all := loadOracle(t, s.st.DB())
		excepted := 0
		for _, r := range all {
			if r.excID != 0 {
				excepted++
			}
		}
		if excepted < 2 {
			t.Fatalf("%d excepted findings in the fixture", excepted)
		}
		for _, filter := range []string{
			"owner=" + url.QueryEscape(ownerA), "owner=none", "owner=" + url.QueryEscape(ownerB) + "&owner=none",
			"owner=nobody-at-all", "owner=payments+PLATFORM", "owner=" + url.QueryEscape(ownerA) + "&rating=High&status=all",
			"excepted=1", "excepted=0", "excepted=1&status=all", "excepted=1&owner=" + url.QueryEscape(ownerB),
			"due=overdue", "due=week", "due=overdue&owner=" + url.QueryEscape(ownerA), "due=overdue&qid=" + strconv.Itoa(f.qid),
			"due=overdue&excepted=1", "priority=P2&excepted=0", "kev=1&due=overdue",
		} {
			for _, sort := range sortChoices {
				v, _ := url.ParseQuery(filter)
				v.Set("sort", sort)
				v.Set("limit", "150")
				if strings.Contains(filter, "excepted=1") || strings.Contains(filter, "due=week") {
					v.Set("limit", "3")
				}
				q, err := ParseQuery(v)
				if err != nil {
					t.Fatal(err)
				}
				var want []Cursor
				for _, r := range all {
					if oracleMatch(q, r, s.now()) {
						want = append(want, r.in(q.Sort))
					}
				}
				slices.SortFunc(want, func(a, b Cursor) int { return compareKeys(q.Sort, a, b) })
				for _, mode := range []struct {
					name            string
					force, backward bool
				}{{"planned", false, false}, {"walk", true, false}, {"backwards", false, true}} {
					if got := pageKeys(t, s, q, mode.force, mode.backward); !slices.Equal(got, want) {
						t.Errorf("%s %s: %d findings, want %d; first difference at %s", v.Encode(), mode.name, len(got), len(want), firstDiff(got, want))
					}
				}
				// The count above the list.
				q.Limit = 0
				p, err := s.Findings(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total >= 0 && p.Total != len(want) {
					t.Errorf("%s: total %d, want %d", v.Encode(), p.Total, len(want))
				}
			}
		}
	})
}

// The overview leaves excepted findings out of the overdue and due-soon
// counts and shows them as excepted; an exception past its last day
// hides nothing, though no write has recorded its expiry.
func TestOverviewLeavesExceptedOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		f := newExcFixture(t, loc, Config{})
		s := f.s
		check := func(when string) {
			t.Helper()
			all := loadOracle(t, s.st.DB())
			day := s.now().UTC().Format(time.DateOnly)
			soon := s.now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
			var overdue, rated, due, excepted, hidden int
			for _, r := range all {
				if r.closed != "" {
					continue
				}
				exc := r.excID != 0 && r.excUntil >= day
				late := r.Deadline != "" && r.Deadline < day
				switch {
				case exc:
					excepted++
					if late {
						hidden++
					}
				case late:
					overdue++
					if r.Rating != "" {
						rated++
					}
				case r.Deadline != "" && r.Deadline <= soon:
					due++
				}
			}
			o := freshOverview(t, s)
			if o.Overdue != overdue || o.DueSoon != due || o.Excepted != excepted {
				t.Errorf("%s: overview %d overdue, %d due soon, %d excepted; want %d, %d, %d", when, o.Overdue, o.DueSoon, o.Excepted, overdue, due, excepted)
			}
			slaOverdue := 0
			for _, row := range o.SLA {
				slaOverdue += row.OpenOverdue
			}
			if slaOverdue != rated {
				t.Errorf("%s: the SLA table counts %d overdue, want %d", when, slaOverdue, rated)
			}
			// The overdue list says the same, its count from the overview.
			p, err := s.Findings(context.Background(), Query{Due: "overdue"})
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != overdue {
				t.Errorf("%s: the overdue list counts %d, want %d", when, p.Total, overdue)
			}
			for _, r := range p.Rows {
				if r.Excepted {
					t.Errorf("%s: excepted finding %s in the overdue list", when, r.Key)
				}
			}
			// Every page of it, and of the excepted list.
			for _, q := range []Query{{Due: "overdue", Sort: "deadline", Limit: 500}, {Excepted: "1", Status: "all"}} {
				var want []Cursor
				for _, r := range all {
					if oracleMatch(q, r, s.now()) {
						want = append(want, r.in(q.Sort))
					}
				}
				slices.SortFunc(want, func(a, b Cursor) int { return compareKeys(q.Sort, a, b) })
				if got := pageKeys(t, s, q, false, false); !slices.Equal(got, want) {
					t.Errorf("%s: %s lists %d findings, want %d; first difference at %s", when, q.Encode(), len(got), len(want), firstDiff(got, want))
				}
			}
			_, _, body := get(t, f.hs, "/")
			mustContain(t, when+": overview page", body, `id="card-excepted"`, "/findings?excepted=1", ">"+num(excepted)+"<")
			if when == "today" && hidden == 0 {
				t.Errorf("no overdue finding is excepted: the test proves nothing")
			}
		}
		check("today")
		_, _, body := get(t, f.hs, "/")
		mustContain(t, "overview", body, `id="expiring"`, "EXC-1", "Exceptions expiring soon")
		// Five days on the QID-wide exception has ended; nothing wrote since.
		setNow(t, s, f.now.Add(5*24*time.Hour))
		check("five days on")
		p, err := s.Findings(context.Background(), Query{Excepted: "1", Status: "all"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Rows) != 1 || p.Rows[0].Key != f.key {
			t.Errorf("five days on, the excepted list holds %d findings, want only %s", len(p.Rows), f.key)
		}
		// Its findings come back on their page, and the exception reads expired.
		st, _, body := get(t, f.hs, "/api/exceptions/1")
		if st != 200 || !strings.Contains(body, `"state": "expired"`) {
			t.Errorf("five days on, EXC-1: %d %.300s", st, body)
		}
	})
}

// The exceptions list and page, the badges of excepted findings, the
// owners page, and their API answers.
func TestExceptionPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		f := newExcFixture(t, loc, Config{})
		hs := f.hs
		badge := "Excepted EXC-2"
		for _, c := range []struct {
			path  string
			wants []string
		}{
			{"/exceptions", []string{"EXC-1", "EXC-2", "risk_accepted", "QID " + strconv.Itoa(f.qid), "ciso@corp.example", "Backported fix", "no expiry"}},
			{"/exceptions?expiring=5", []string{"EXC-1"}},
			{"/exceptions/1", []string{"Needed by the payment terminal", "Audit trail", "add", `id="covered"`, "/finding/", `name="csrf"`, "Revoke EXC-1"}},
			{"/exceptions/2", []string{f.key, "false_positive"}},
			{"/findings?excepted=1&status=all", []string{badge, `title="false positive: Backported fix (approved by lead@corp.example)"`}},
			{"/finding/" + url.PathEscape(f.key), []string{badge, `id="owner"`, "Backported fix"}},
			{"/finding/" + url.PathEscape(f.free), []string{"record an exception", "/exceptions/new?key="}},
			{"/owners", []string{ownerA, ownerB, "(no owner)", "/findings?owner=Payments", "/findings?owner=none"}},
			{"/findings?owner=" + url.QueryEscape(ownerA), []string{ownerA, "owner " + ownerA}},
			{"/api/owners", []string{`"owner": "` + ownerA + `"`, `"by_priority"`, `"fixed_in_time_share"`, `"list": "/findings?owner=Payments+platform"`}},
			{"/api/exceptions", []string{`"name": "EXC-1"`, `"covered"`, `"scope_text"`}},
			{"/api/exceptions/2", []string{`"events"`, `"findings"`, `"key": "` + f.key + `"`}},
			{"/api/findings?excepted=1&status=all", []string{`"exception": "EXC-2"`, `"excepted": true`, `"owner"`}},
			{"/api/summary", []string{`"excepted"`, `"expiring"`}},
		} {
			status, _, body := get(t, hs, c.path)
			if status != http.StatusOK {
				t.Errorf("%s: status %d\n%.400s", c.path, status, body)
				continue
			}
			mustContain(t, c.path, body, c.wants...)
		}
		// The QID's and its hosts' pages count no excepted finding as overdue.
		all := loadOracle(t, f.s.st.DB())
		day := f.now.UTC().Format(time.DateOnly)
		overdue := func(keep func(r oracleRow) bool) int {
			n := 0
			for _, r := range all {
				if keep(r) && r.closed == "" && r.Deadline != "" && r.Deadline < day && (r.excID == 0 || r.excUntil < day) {
					n++
				}
			}
			return n
		}
		var host int64
		for _, r := range all {
			if r.QID == f.qid && r.excID != 0 && r.closed == "" && r.Deadline != "" && r.Deadline < day {
				host = r.HostID
				break
			}
		}
		for path, want := range map[string]int{
			"/api/qids/" + strconv.Itoa(f.qid):          overdue(func(r oracleRow) bool { return r.QID == f.qid }),
			"/api/hosts/" + strconv.FormatInt(host, 10): overdue(func(r oracleRow) bool { return r.HostID == host }),
		} {
			var v struct{ Overdue int }
			_, _, body := get(t, hs, path)
			if err := json.Unmarshal([]byte(body), &v); err != nil || v.Overdue != want {
				t.Errorf("%s: %d overdue (%v), want %d", path, v.Overdue, err, want)
			}
		}
		if _, _, body := get(t, hs, "/exceptions?expiring=1"); strings.Contains(body, "EXC-1") {
			t.Error("EXC-1, three days from its end, listed as expiring within a day")
		}
		for path, want := range map[string]int{"/exceptions/99": 404, "/api/exceptions/x": 404, "/exceptions?state=bogus": 400,
			"/api/exceptions?expiring=soon": 400, "/findings?excepted=maybe": 400} {
			if status, _, _ := get(t, hs, path); status != want {
				t.Errorf("%s: status %d, want %d", path, status, want)
			}
		}
		// The downloads filter by owner and exception as the list does.
		_, _, js := get(t, hs, "/findings.json?excepted=1&status=all")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(js), &rows); err != nil || len(rows) == 0 {
			t.Fatalf("excepted JSON: %v\n%.300s", err, js)
		}
		p, err := f.s.Findings(context.Background(), Query{Excepted: "1", Status: "all", Limit: maxLimit})
		if err != nil {
			t.Fatal(err)
		}
		// (The export contract's record may not carry the exception: the
		// keys are compared.)
		var got, want []string
		for _, r := range rows {
			got = append(got, r["key"].(string))
		}
		for _, r := range p.Rows {
			want = append(want, r.Key)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || !slices.Contains(got, f.key) {
			t.Errorf("download of excepted findings: %v, the list %v", got, want)
		}
		_, _, js = get(t, hs, "/findings.json?owner=none&due=overdue")
		rows = nil
		if err := json.Unmarshal([]byte(js), &rows); err != nil || len(rows) == 0 {
			t.Fatalf("unowned overdue JSON: %v\n%.300s", err, js)
		}
		q, _ := ParseQuery(url.Values{"owner": {"none"}, "due": {"overdue"}})
		n := 0
		for _, r := range loadOracle(t, f.s.st.DB()) {
			if oracleMatch(q, r, f.s.now()) {
				n++
			}
		}
		for _, r := range rows {
			if id := int64(r["host_id"].(float64)); id%3 != 2 {
				t.Errorf("download of unowned overdue findings holds %v of host %d, which has an owner", r["key"], id)
			}
		}
		if len(rows) != n {
			t.Errorf("download of unowned overdue findings: %d rows, want %d", len(rows), n)
		}
	})
}

// client posts without following redirects.
func noRedirect(hs *httptest.Server) *http.Client {
	c := *hs.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

var tokenRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// formSession opens the new-exception form as a browser would: its
// session cookie and the form's token.
func formSession(t *testing.T, hs *httptest.Server, hdr ...string) (*http.Cookie, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", hs.URL+"/exceptions/new", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := tokenRe.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no token in the form:\n%.1000s", b)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	return cookie, string(m[1])
}

func post(t *testing.T, c *http.Client, u, ctype, body string, cookie *http.Cookie, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

const formType = "application/x-www-form-urlencoded"

// The forms are protected against cross-site request forgery: a POST
// needs the token of its own session and the dashboard's origin.
func TestExceptionFormCSRF(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		f := newExcFixture(t, loc, Config{})
		hs, c := f.hs, noRedirect(f.hs)
		cookie, token := formSession(t, hs)
		other, otherToken := formSession(t, hs)
		if cookie == nil || other == nil || token == otherToken {
			t.Fatalf("sessions: %v %v, tokens %s %s", cookie, other, token, otherToken)
		}
		form := func(tok string) string {
			v := url.Values{"type": {"compensating_control"}, "key": {f.free}, "reason": {"WAF rule 981176 blocks it"},
				"approver": {"ciso@corp.example"}, "until": {"30d"}}
			if tok != "" {
				v.Set("csrf", tok)
			}
			return v.Encode()
		}
		origin := hs.URL
		for _, bad := range []struct {
			name   string
			body   string
			cookie *http.Cookie
			hdr    []string
		}{
			{"no token", form(""), cookie, []string{"Origin", origin}},
			{"another session's token", form(otherToken), cookie, []string{"Origin", origin}},
			{"a token without its session", form(token), nil, []string{"Origin", origin}},
			{"a foreign origin", form(token), cookie, []string{"Origin", "https://evil.example"}},
			{"a foreign referer", form(token), cookie, []string{"Referer", "https://evil.example/page"}},
			{"no origin nor referer", form(token), cookie, nil},
			{"a null origin", form(token), cookie, []string{"Origin", "null"}},
		} {
			status, _, body := post(t, c, hs.URL+"/exceptions", formType, bad.body, bad.cookie, bad.hdr...)
			if status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403\n%.300s", bad.name, status, body)
			}
		}
		if ex, err := f.s.st.Exceptions(context.Background(), store.ExceptionFilter{}); err != nil || len(ex) != 2 {
			t.Fatalf("after refused forms: %d exceptions (%v), want 2", len(ex), err)
		}
		status, h, body := post(t, c, hs.URL+"/exceptions", formType, form(token), cookie, "Origin", origin)
		if status != http.StatusSeeOther || h.Get("Location") != "/exceptions/3" {
			t.Fatalf("the form: status %d, Location %q\n%.500s", status, h.Get("Location"), body)
		}
		e, events, err := f.s.st.Exception(context.Background(), 3)
		if err != nil || e.RecordedBy != "dashboard" || e.Covered != 1 || len(events) != 1 {
			t.Fatalf("EXC-3: %+v, %d events, %v", e, len(events), err)
		}
		// A Referer of its own page will do where a browser sends no Origin.
		st, h, _ := post(t, c, hs.URL+"/exceptions/3/extend", formType, url.Values{"csrf": {token}, "until": {"60d"}}.Encode(), cookie,
			"Referer", hs.URL+"/exceptions/3")
		if st != http.StatusSeeOther || h.Get("Location") != "/exceptions/3" {
			t.Errorf("extend: status %d, Location %q", st, h.Get("Location"))
		}
		// A bad value comes back to the page as its error.
		st, h, _ = post(t, c, hs.URL+"/exceptions/3/extend", formType, url.Values{"csrf": {token}, "until": {"2001-01-01"}}.Encode(), cookie,
			"Origin", origin)
		if st != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "error=") {
			t.Errorf("extend into the past: status %d, Location %q", st, h.Get("Location"))
		}
		st, _, _ = post(t, c, hs.URL+"/exceptions/3/revoke", formType, url.Values{"csrf": {otherToken}, "why": {"replaced"}}.Encode(), cookie,
			"Origin", origin)
		if st != http.StatusForbidden {
			t.Errorf("revoke with another session's token: status %d", st)
		}
		st, _, _ = post(t, c, hs.URL+"/exceptions/3/revoke", formType, url.Values{"csrf": {token}, "why": {"replaced"}}.Encode(), cookie,
			"Origin", origin)
		if st != http.StatusSeeOther {
			t.Errorf("revoke: status %d", st)
		}
		e, events, err = f.s.st.Exception(context.Background(), 3)
		if err != nil || e.State != exceptions.Revoked || len(events) != 3 || events[1].Action != "edit" || events[2].Actor != "dashboard" {
			t.Errorf("EXC-3 after extend and revoke: %+v %+v %v", e, events, err)
		}
		// A form that fails validation shows its error, filled as sent.
		bad := url.Values{"csrf": {token}, "type": {"risk_accepted"}, "qid": {strconv.Itoa(f.qid)}, "approver": {"x@y"}, "until": {"30d"}}
		st, _, body = post(t, c, hs.URL+"/exceptions", formType, bad.Encode(), cookie, "Origin", origin)
		if st != http.StatusBadRequest || !strings.Contains(body, "an exception needs a reason") || !strings.Contains(body, `value="`+strconv.Itoa(f.qid)+`"`) {
			t.Errorf("form without a reason: status %d\n%.600s", st, body)
		}
	})
}

// A dashboard beyond loopback without a login is read-only; with a login
// the API writes with the bearer token, never with a basic login or a
// cookie alone.
func TestExceptionWriteAccess(t *testing.T) {
	const token = "0123456789abcdef-token"
	body := func(f *excFixture) string {
		b, _ := json.Marshal(map[string]any{"type": "false_positive", "key": f.free, "reason": "Backported", "approver": "lead@corp.example"})
		return string(b)
	}
	t.Run("read-only", func(t *testing.T) {
		f := newExcFixture(t, t.TempDir()+"/qvt.db", Config{Addr: "0.0.0.0:8080"})
		c := noRedirect(f.hs)
		if st, _, b := post(t, c, f.hs.URL+"/api/exceptions", "application/json", body(f), nil); st != http.StatusForbidden || !strings.Contains(b, "read-only") {
			t.Errorf("API POST to a read-only dashboard: %d %s", st, b)
		}
		if st, _, _ := post(t, c, f.hs.URL+"/exceptions", formType, "reason=x", nil, "Origin", f.hs.URL); st != http.StatusForbidden {
			t.Errorf("form POST to a read-only dashboard: %d", st)
		}
		if st, _, _ := post(t, c, f.hs.URL+"/api/exceptions/1/revoke", "application/json", `{"reason":"x"}`, nil); st != http.StatusForbidden {
			t.Errorf("revoke on a read-only dashboard: %d", st)
		}
		_, _, page := get(t, f.hs, "/exceptions/1")
		if strings.Contains(page, `name="csrf"`) || strings.Contains(page, "Revoke EXC-1") {
			t.Error("a read-only dashboard shows the forms")
		}
	})
	t.Run("token", func(t *testing.T) {
		f := newExcFixture(t, t.TempDir()+"/qvt.db", Config{Addr: "0.0.0.0:8080", Auth: Auth{User: "alice", Password: "correct-horse-battery", Token: token}})
		c := noRedirect(f.hs)
		u := f.hs.URL + "/api/exceptions"
		if st, _, _ := post(t, c, u, "application/json", body(f), nil); st != http.StatusUnauthorized {
			t.Errorf("no login: %d", st)
		}
		req, _ := http.NewRequest("POST", u, strings.NewReader(body(f)))
		req.SetBasicAuth("alice", "correct-horse-battery")
		req.Header.Set("Content-Type", "application/json")
		if res, err := c.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("API POST with a basic login: %v %v", res.StatusCode, err)
		}
		st, h, b := post(t, c, u, "application/json", body(f), nil, "Authorization", "Bearer "+token)
		if st != http.StatusCreated || h.Get("Location") != "/api/exceptions/3" || !strings.Contains(b, `"recorded_by": "api token"`) {
			t.Fatalf("API POST with the token: %d %s\n%.500s", st, h.Get("Location"), b)
		}
		st, _, b = post(t, c, u+"/3/extend", "application/json", `{"until":"2001-01-01"}`, nil, "Authorization", "Bearer "+token)
		if st != http.StatusBadRequest || !strings.Contains(b, `"error"`) {
			t.Errorf("extend into the past: %d %s", st, b)
		}
		st, _, b = post(t, c, u+"/3/revoke", "application/json", `{"reason":"scanner fixed"}`, nil, "Authorization", "Bearer "+token)
		if st != http.StatusOK || !strings.Contains(b, `"state": "revoked"`) {
			t.Errorf("revoke: %d %.300s", st, b)
		}
		st, _, b = post(t, c, u, "application/json", `{"type":"risk_accepted","qid":1,"reason":"x","approver":"y"}`, nil, "Authorization", "Bearer "+token)
		if st != http.StatusBadRequest || !strings.Contains(b, "expiry") {
			t.Errorf("risk_accepted without expiry: %d %s", st, b)
		}
		st, _, _ = post(t, c, u+"/99/revoke", "application/json", `{"reason":"x"}`, nil, "Authorization", "Bearer "+token)
		if st != http.StatusNotFound {
			t.Errorf("revoke EXC-99: %d", st)
		}
		// The form, with a basic login: the actor is the user.
		cookie, tok := formSession(t, f.hs, "Authorization", "Basic "+basic("alice", "correct-horse-battery"))
		if cookie != nil {
			t.Error("a session cookie beside a login")
		}
		form := url.Values{"csrf": {tok}, "why": {"done"}}
		st, _, _ = post(t, c, f.hs.URL+"/exceptions/2/revoke", formType, form.Encode(), nil, "Origin", f.hs.URL,
			"Authorization", "Basic "+basic("alice", "correct-horse-battery"))
		if st != http.StatusSeeOther {
			t.Errorf("revoke form with a basic login: %d", st)
		}
		if e, _, _ := f.s.st.Exception(context.Background(), 2); e.EndedBy != "alice" {
			t.Errorf("EXC-2 ended by %q, want alice", e.EndedBy)
		}
	})
	t.Run("loopback", func(t *testing.T) {
		f := newExcFixture(t, t.TempDir()+"/qvt.db", Config{})
		c := noRedirect(f.hs)
		cookie, _ := formSession(t, f.hs)
		if st, _, _ := post(t, c, f.hs.URL+"/api/exceptions", "application/json", body(f), cookie); st != http.StatusForbidden {
			t.Errorf("API POST with the session cookie: %d", st)
		}
		if st, _, _ := post(t, c, f.hs.URL+"/api/exceptions", "text/plain", body(f), nil); st != http.StatusUnsupportedMediaType {
			t.Errorf("API POST as text/plain: %d", st)
		}
		if st, _, _ := post(t, c, f.hs.URL+"/api/exceptions", "application/json", body(f), nil, "Origin", "https://evil.example"); st != http.StatusForbidden {
			t.Errorf("API POST from another site: %d", st)
		}
		if st, _, b := post(t, c, f.hs.URL+"/api/exceptions", "application/json", body(f), nil); st != http.StatusCreated || !strings.Contains(b, `"recorded_by": "dashboard"`) {
			t.Errorf("API POST on loopback: %d %.300s", st, b)
		}
	})
}

// testWriter writes to a test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// The list and exception query parameters round-trip through the URL.
func TestOwnerQueryRoundTrip(t *testing.T) {
	for _, raw := range []string{"owner=none", "owner=Database+team&owner=none", "excepted=1", "excepted=0&owner=A"} {
		v, _ := url.ParseQuery(raw)
		q, err := ParseQuery(v)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		q2, err := ParseQuery(q.Values())
		if err != nil || !slices.Equal(q.Owners, q2.Owners) || q.Excepted != q2.Excepted {
			t.Errorf("%s: %+v then %+v (%v)", raw, q, q2, err)
		}
	}
	if _, err := ParseQuery(url.Values{"excepted": {"maybe"}}); err == nil || !strings.Contains(err.Error(), "excepted") {
		t.Errorf("excepted=maybe: %v", err)
	}
	for raw, want := range map[string]exceptionQuery{
		"":                                   {States: []string{"active"}},
		"state=all":                          {},
		"state=expired,revoked&expiring=30d": {States: []string{"expired", "revoked"}, Expiring: 30},
	} {
		v, _ := url.ParseQuery(raw)
		q, err := parseExceptionQuery(v)
		if err != nil || !slices.Equal(q.States, want.States) || q.Expiring != want.Expiring {
			t.Errorf("%q: %+v %v", raw, q, err)
		}
	}
}

// freshOverview waits for the overview of the store as it is today.
func freshOverview(t *testing.T, s *Server) *Overview {
	t.Helper()
	for range 400 {
		o, err := s.Overview(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !o.Stale && o.Today == s.now().UTC().Format(time.DateOnly) {
			return o
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("the overview stays stale")
	return nil
}

// recordException records EXC-1, on the first open finding of the list.
func recordException(t *testing.T, s *Server) {
	t.Helper()
	p, err := s.Findings(context.Background(), Query{Limit: 1})
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("first finding: %v %v", p, err)
	}
	e := &exceptions.Exception{Type: "false_positive", Scope: exceptions.Scope{Key: p.Rows[0].Key}, Reason: "test", Approver: "test"}
	if err := e.Validate(exceptions.DefaultPolicy(), s.today()); err != nil {
		t.Fatal(err)
	}
	err = s.st.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.AddException(e, s.now()); err != nil {
			return err
		}
		_, err := tx.ApplyExceptions(s.now(), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
