package web

import (
	"errors"
	"net/http"
	"time"

	"qvt/internal/runs"
)

// RunPanel is the overview's panel of the daily job: the last run (from
// job_runs, whoever ran it: the scheduler, "run now", or qvt run from
// cron), the next firing and the "Run now" button of qvt serve
// --schedule.
type RunPanel struct {
	Last      *runs.Report
	LastWhen  string // when the last run started
	LastTook  string
	Scheduled bool   // qvt serve runs the job on a schedule
	Spec      string // the schedule, as written
	Next      string // the next firing, in the schedule's zone
	Running   bool   // a run is under way in this process
	CanRun    bool   // the button shows: a schedule, and a dashboard that writes
	CSRF      string
}

// runPanel reads the panel for one request. A store that cannot say its
// last run leaves the panel empty rather than the overview failing.
func (s *Server) runPanel(w http.ResponseWriter, r *http.Request) RunPanel {
	var p RunPanel
	if sc := s.cfg.Scheduler; sc != nil {
		st := sc.Status(r.Context())
		p.Scheduled, p.Spec, p.Running, p.Last = true, st.Spec, st.Running, st.Last
		if !st.Next.IsZero() {
			zone, err := time.LoadLocation(st.Timezone)
			if err != nil {
				zone = time.UTC
			}
			p.Next = st.Next.In(zone).Format("2006-01-02 15:04 MST")
		}
		if s.writable() {
			p.CanRun = true
			p.CSRF = s.csrfToken(s.ensureSession(w, r))
		}
	} else {
		last, err := s.st.LastJobRun(r.Context(), "")
		if err != nil {
			s.log.Error("reading the last run", "err", err)
		}
		p.Last = last
	}
	if p.Last != nil {
		p.LastWhen = whenText(p.Last.Started)
		if !p.Last.Finished.IsZero() {
			p.LastTook = durationText(p.Last.Finished.Sub(p.Last.Started).Seconds())
		}
	}
	return p
}

// errNoSchedule answers "run now" on a dashboard without a schedule: a
// run belongs to qvt run, or to qvt serve --schedule.
var errNoSchedule = &httpError{http.StatusNotFound,
	"this dashboard runs no schedule: start it with qvt serve --schedule, or run qvt run"}

// runNow starts a run through the scheduler.
func (s *Server) runNow(r *http.Request) (string, error) {
	if s.cfg.Scheduler == nil {
		return "", errNoSchedule
	}
	id, err := s.cfg.Scheduler.RunNow(r.Context())
	if errors.Is(err, runs.ErrRunning) {
		return "", &httpError{http.StatusConflict, "a run is under way: wait for it to finish"}
	}
	if err != nil {
		return "", &httpError{http.StatusServiceUnavailable, err.Error()}
	}
	s.log.Info("run started from the dashboard", "run_id", id, "by", s.actor(r))
	return id, nil
}

// runNowForm is the overview's "Run now" button: protected as every
// form that writes (a dashboard that writes, its own origin, the
// session's token); back to the overview.
func (s *Server) runNowForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	if err := s.checkForm(r); err != nil {
		return err
	}
	if _, err := s.runNow(r); err != nil {
		return err
	}
	http.Redirect(w, r, "/#runs", http.StatusSeeOther)
	return nil
}

// apiRunNow is POST /api/runs: 202 with the run's id, 409 while a run is
// under way.
func (s *Server) apiRunNow(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAPIWrite(r); err != nil {
		return err
	}
	id, err := s.runNow(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"run_id": id, "status": runs.StatusRunning})
	return nil
}
