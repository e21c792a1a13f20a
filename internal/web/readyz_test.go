package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"qvt/internal/runs"
	"qvt/internal/store/storetest"
)

// /readyz: 200 while the last successful run is younger than
// web.ready_max_age, else 503 and why, in one line; a failed run after
// the good one does not make it younger. It needs no login and answers
// any host name, as /healthz does.
func TestReadyz(t *testing.T) {
	storetest.Run(t, func(t *testing.T, loc string) {
		st, err := storeOpenAt(t, loc)
		if err != nil {
			t.Fatal(err)
		}
		good := time.Date(2026, 12, 4, 2, 0, 5, 0, time.UTC)
		now := good.Add(3 * time.Hour)
		serve := func(cfg Config) func(host string) (int, string) {
			cfg.Auth = Auth{Token: "a-token-long-enough"}
			s, err := New(st, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			s.now = func() time.Time { return now }
			hs := newHTTPTest(s)
			t.Cleanup(hs.Close)
			return func(host string) (int, string) {
				status, h, body := get(t, hs, "/readyz", "Host", host)
				if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("/readyz answers %s", ct)
				}
				if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
					t.Errorf("/readyz answers %q, want one line", body)
				}
				return status, strings.TrimSuffix(body, "\n")
			}
		}
		readyz := serve(Config{})
		check := func(what string, wantStatus int, wantBody string, got func() (int, string)) {
			t.Helper()
			status, body := got()
			if status != wantStatus || body != wantBody {
				t.Errorf("%s: %d %q, want %d %q", what, status, body, wantStatus, wantBody)
			}
		}
		at := func(host string) func() (int, string) { return func() (int, string) { return readyz(host) } }

		check("a fresh store", http.StatusServiceUnavailable, "no successful run yet", at("127.0.0.1"))
		recordRuns(t, st, runs.Report{RunID: "g", Trigger: runs.TriggerSchedule, Status: runs.StatusOK, Started: good.Add(-5 * time.Minute), Finished: good})
		// Monitors probe by address: any host name, no login.
		check("3h after a good run", http.StatusOK, "ready: last successful run 2026-12-04T02:00:05Z, 3h ago", at("10.9.8.7:8080"))

		now = good.Add(26 * time.Hour)
		check("26h after", http.StatusOK, "ready: last successful run 2026-12-04T02:00:05Z, 26h ago", at("localhost"))
		now = good.Add(26*time.Hour + time.Second)
		check("a second later", http.StatusServiceUnavailable, "last successful run 2026-12-04T02:00:05Z, 26h ago, older than 26h", at("localhost"))

		// A failed run since does not count as a good one.
		now = good.Add(31*time.Hour + 20*time.Minute)
		recordRuns(t, st, runs.Report{RunID: "f", Trigger: runs.TriggerSchedule, Status: runs.StatusFailed, Started: good.Add(30 * time.Hour), Finished: good.Add(31 * time.Hour)})
		check("31h after, a failure since", http.StatusServiceUnavailable,
			"last successful run 2026-12-04T02:00:05Z, 31h20m ago, older than 26h", at("localhost"))

		// A longer ready_max_age, and none at all.
		long := serve(Config{ReadyMaxAge: 48 * time.Hour})
		check("ready_max_age 48h", http.StatusOK, "ready: last successful run 2026-12-04T02:00:05Z, 31h20m ago",
			func() (int, string) { return long("localhost") })
		off := serve(Config{ReadyMaxAge: -1})
		now = good.Add(400 * time.Hour)
		check("ready_max_age negative", http.StatusOK, "ready: last successful run 2026-12-04T02:00:05Z, 400h ago (its age is not checked)",
			func() (int, string) { return off("localhost") })

		// A store that does not answer.
		st.Close()
		status, body := readyz("localhost")
		if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "store: ") {
			t.Errorf("a closed store: %d %q, want 503 store: …", status, body)
		}
	})
}

func TestReadiness(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		last   time.Time
		maxAge time.Duration
		status int
		body   string
	}{
		{time.Time{}, 26 * time.Hour, 503, "no successful run yet"},
		{time.Time{}, -1, 200, "ready: the store answers (no successful run yet; its age is not checked)"},
		{now.Add(-30 * time.Second), time.Hour, 200, "ready: last successful run 2026-12-05T08:59:30Z, 30s ago"},
		{now.Add(-90 * time.Minute), time.Hour, 503, "last successful run 2026-12-05T07:30:00Z, 1h30m ago, older than 1h"},
		{now.Add(-90 * time.Minute), 90 * time.Minute, 200, "ready: last successful run 2026-12-05T07:30:00Z, 1h30m ago"},
		{now.Add(-45 * time.Minute), 30 * time.Minute, 503, "last successful run 2026-12-05T08:15:00Z, 45m ago, older than 30m"},
		// Another machine's clock ahead of this one's.
		{now.Add(time.Hour), time.Minute, 200, "ready: last successful run 2026-12-05T10:00:00Z, 0s ago"},
	} {
		status, body := readiness(now, tc.last, tc.maxAge)
		if status != tc.status || body != tc.body {
			t.Errorf("readiness(%v, %v): %d %q, want %d %q", tc.last, tc.maxAge, status, body, tc.status, tc.body)
		}
	}
}
