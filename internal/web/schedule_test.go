package web

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"qvt/internal/runs"
	"qvt/internal/store"
	"qvt/internal/store/storetest"
)

// fakeScheduler is qvt serve's scheduler as the dashboard sees it.
type fakeScheduler struct {
	mu      sync.Mutex
	running bool
	started []string
	last    *runs.Report
}

func (f *fakeScheduler) Status(context.Context) runs.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return runs.Status{Spec: "0 2 * * *", Timezone: "Europe/Paris", Next: time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC), Running: f.running, Last: f.last}
}

func (f *fakeScheduler) RunNow(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return "", runs.ErrRunning
	}
	f.running = true
	id := "run" + string(rune('a'+len(f.started)))
	f.started = append(f.started, id)
	return id, nil
}

func (f *fakeScheduler) setRunning(b bool) {
	f.mu.Lock()
	f.running = b
	f.mu.Unlock()
}

func (f *fakeScheduler) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// runSession opens the overview as a browser would: its session cookie
// and the "Run now" form's token, "" when the page has no button.
func runSession(t *testing.T, c *http.Client, base string, hdr ...string) (*http.Cookie, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	b := string(body)
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	tok := ""
	if m := regexp.MustCompile(`action="/runs"[^>]*><input type="hidden" name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(b); m != nil {
		tok = m[1]
	}
	return cookie, tok, b
}

// "Run now" is a write like any other from the dashboard: the form needs
// its session's token and the dashboard's origin; a run under way gets
// 409, never a second run.
func TestRunNowForm(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		sc := &fakeScheduler{last: &runs.Report{Trigger: runs.TriggerSchedule, Status: runs.StatusFailed, Err: "sync: qualys: HTTP 503",
			Started: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 5, 1, 4, 0, 0, time.UTC)}}
		_, hs := newServerAt(t, loc, Config{Scheduler: sc})
		c := noRedirect(hs)
		cookie, tok, page := runSession(t, c, hs.URL)
		if tok == "" || cookie == nil {
			t.Fatalf("no Run now form on the overview:\n%.3000s", page)
		}
		for _, want := range []string{`id="run-status">failed</b> (schedule)`, "sync: qualys: HTTP 503", "took 4.0 min", "<code>0 2 * * *</code>", "next run 2026-12-06 02:00 CET"} {
			if !strings.Contains(page, want) {
				t.Errorf("the overview lacks %q", want)
			}
		}
		form := url.Values{"csrf": {tok}}.Encode()
		for _, bad := range []struct {
			name   string
			body   string
			cookie *http.Cookie
			hdr    []string
		}{
			{"no token", "", cookie, []string{"Origin", hs.URL}},
			{"a token without its session", form, nil, []string{"Origin", hs.URL}},
			{"a foreign origin", form, cookie, []string{"Origin", "https://evil.example"}},
			{"no origin nor referer", form, cookie, nil},
		} {
			if st, _, b := post(t, c, hs.URL+"/runs", formType, bad.body, bad.cookie, bad.hdr...); st != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403\n%.300s", bad.name, st, b)
			}
		}
		if n := sc.runs(); n != 0 {
			t.Fatalf("refused forms started %d runs", n)
		}
		st, h, _ := post(t, c, hs.URL+"/runs", formType, form, cookie, "Origin", hs.URL)
		if st != http.StatusSeeOther || h.Get("Location") != "/#runs" || sc.runs() != 1 {
			t.Fatalf("Run now: %d %s, %d runs", st, h.Get("Location"), sc.runs())
		}
		_, _, page = runSession(t, c, hs.URL)
		if !strings.Contains(page, `id="run-running"`) {
			t.Error("the overview does not show the run under way")
		}
		if st, _, b := post(t, c, hs.URL+"/runs", formType, form, cookie, "Origin", hs.URL); st != http.StatusConflict || sc.runs() != 1 {
			t.Errorf("Run now while running: %d, %d runs\n%.300s", st, sc.runs(), b)
		}
	})
}

// POST /api/runs answers 202 with the run's id, 409 while one is under
// way; with a login it needs the bearer token.
func TestRunNowAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		sc := &fakeScheduler{}
		_, hs := newServerAt(t, loc, Config{Scheduler: sc})
		c := noRedirect(hs)
		cookie, _, _ := runSession(t, c, hs.URL)
		if st, _, _ := post(t, c, hs.URL+"/api/runs", "application/json", "{}", cookie); st != http.StatusForbidden {
			t.Errorf("API with the session cookie: %d, want 403", st)
		}
		st, _, b := post(t, c, hs.URL+"/api/runs", "application/json", "{}", nil)
		if st != http.StatusAccepted || !strings.Contains(b, `"run_id": "runa"`) {
			t.Fatalf("API run now: %d %s", st, b)
		}
		if st, _, _ := post(t, c, hs.URL+"/api/runs", "application/json", "{}", nil); st != http.StatusConflict || sc.runs() != 1 {
			t.Errorf("API run now while running: %d, %d runs", st, sc.runs())
		}
	})
	t.Run("login", func(t *testing.T) {
		const token = "a-long-enough-api-token"
		sc := &fakeScheduler{}
		_, hs := newServerAt(t, t.TempDir()+"/qvt.db", Config{Addr: "0.0.0.0:8080", Scheduler: sc,
			Auth: Auth{User: "alice", Password: "correct-horse-battery", Token: token}})
		c := noRedirect(hs)
		if st, _, _ := post(t, c, hs.URL+"/api/runs", "application/json", "{}", nil, "Authorization", "Basic "+basic("alice", "correct-horse-battery")); st != http.StatusForbidden {
			t.Errorf("API with a basic login: %d, want 403", st)
		}
		if st, _, _ := post(t, c, hs.URL+"/api/runs", "application/json", "{}", nil); st != http.StatusUnauthorized {
			t.Errorf("API without a login: %d, want 401", st)
		}
		if st, _, b := post(t, c, hs.URL+"/api/runs", "application/json", "{}", nil, "Authorization", "Bearer "+token); st != http.StatusAccepted || sc.runs() != 1 {
			t.Errorf("API with the token: %d %s", st, b)
		}
		sc.setRunning(false)
	})
}

// Without a schedule the overview still shows the last run recorded (a
// qvt run from cron), and no button; a POST finds no scheduler.
func TestRunPanelWithoutScheduler(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		s, hs := newServerAt(t, loc, Config{})
		c := noRedirect(hs)
		_, _, page := runSession(t, c, hs.URL)
		if strings.Contains(page, `id="runs"`) {
			t.Error("a run panel before any run")
		}
		err := s.st.Write(context.Background(), func(tx *store.Tx) error {
			return tx.FinishJobRun(runs.Report{RunID: "c0ffee", Trigger: runs.TriggerCommand, Status: runs.StatusOK,
				Started: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 5, 2, 0, 30, 0, time.UTC)})
		})
		if err != nil {
			t.Fatal(err)
		}
		_, tok, page := runSession(t, c, hs.URL)
		if !strings.Contains(page, `id="run-status">ok</b> (command), started 2026-12-05 02:00 UTC, took 30 s`) {
			t.Errorf("the overview does not show the last run:\n%.3000s", page)
		}
		if tok != "" || strings.Contains(page, "Run now") {
			t.Error("a Run now button without a scheduler")
		}
		ec, etok := formSession(t, hs)
		if st, _, _ := post(t, c, hs.URL+"/runs", formType, url.Values{"csrf": {etok}}.Encode(), ec, "Origin", hs.URL); st != http.StatusNotFound {
			t.Errorf("Run now without a scheduler: %d, want 404", st)
		}
	})
}
