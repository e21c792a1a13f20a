package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultReadyMaxAge is how old the last successful run may be before
// /readyz says qvt is not ready: a daily job, plus two hours of slack for
// a slow or retried run.
const DefaultReadyMaxAge = 26 * time.Hour

// readyTimeout bounds the store's answer: a monitor probing every few
// seconds must not pile up requests behind a store that hangs.
const readyTimeout = 3 * time.Second

// readyMaxAge is ReadyMaxAge with its default; negative means the age is
// not checked, only the store.
func (c Config) readyMaxAge() time.Duration {
	if c.ReadyMaxAge == 0 {
		return DefaultReadyMaxAge
	}
	return c.ReadyMaxAge
}

// readyz says whether qvt is ready, in one line of plain text: 200 when
// the store answers and the last successful run is younger than
// web.ready_max_age, else 503 and why. /healthz stays the liveness check
// (the process and its store are up); /readyz is what to alert on when
// the data goes stale. Like /healthz it needs no login and answers any
// host name, for monitors that probe by address: it tells only whether
// and when the last run succeeded.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	code, msg := http.StatusServiceUnavailable, ""
	last, err := s.lastGoodRun(ctx)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("readyz: the store did not answer in time", "timeout", readyTimeout)
		msg = fmt.Sprintf("store: no answer within %s", readyTimeout)
	case err != nil:
		// The error may name the store's server; the log is the place
		// for it, not an answer to anyone who asks.
		s.log.Warn("readyz: the store did not answer", "err", err)
		msg = "store: unreachable (the server log says why)"
	default:
		code, msg = readiness(s.now(), last, s.cfg.readyMaxAge())
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, err = fmt.Fprintln(w, msg)
	return err
}

// readiness judges the last successful run's end (zero: none yet) at now.
// A negative maxAge judges the store alone, for a dashboard over a store
// that something else fills (qvt import from an air-gapped site).
func readiness(now, last time.Time, maxAge time.Duration) (int, string) {
	if maxAge < 0 && last.IsZero() {
		return http.StatusOK, "ready: the store answers (no successful run yet; its age is not checked)"
	}
	if last.IsZero() {
		return http.StatusServiceUnavailable, "no successful run yet"
	}
	age := now.Sub(last)
	when := last.UTC().Format(time.RFC3339)
	if age < 0 {
		// The clock of the machine that ran it is ahead of this one's:
		// the run is as fresh as can be.
		age = 0
	}
	if maxAge < 0 {
		return http.StatusOK, fmt.Sprintf("ready: last successful run %s, %s ago (its age is not checked)", when, shortDuration(age))
	}
	if age > maxAge {
		return http.StatusServiceUnavailable, fmt.Sprintf("last successful run %s, %s ago, older than %s", when, shortDuration(age), shortDuration(maxAge))
	}
	return http.StatusOK, fmt.Sprintf("ready: last successful run %s, %s ago", when, shortDuration(age))
}

// shortDuration writes d as people read an age: "31h", "26h30m", "45m",
// "12s", to the second below a minute and to the minute above.
func shortDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	d = d.Truncate(time.Minute)
	var b strings.Builder
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m := (d % time.Hour) / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}
