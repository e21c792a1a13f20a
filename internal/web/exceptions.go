package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/exceptions"
	"qvt/internal/finding"
	"qvt/internal/store"
)

// The exceptions pages: the list (active ones by default), an
// exception's page with its audit trail and the findings it covers, and
// the forms and API that add, extend and revoke them.

// ExceptionRow is an exception as the pages and the API show it.
type ExceptionRow struct {
	ID         int64            `json:"id"`
	Name       string           `json:"name"` // EXC-12
	Type       string           `json:"type"` // risk_accepted, false_positive, compensating_control
	Scope      exceptions.Scope `json:"scope"`
	ScopeText  string           `json:"scope_text"` // "QID 38794 on every host tagged …"
	Reason     string           `json:"reason"`
	Approver   string           `json:"approver"`
	RecordedBy string           `json:"recorded_by"`
	RecordedAt time.Time        `json:"recorded_at"`
	Start      string           `json:"start"`
	Until      string           `json:"until"` // the last day it covers; "" for none
	// State as of today: an active exception past its last day is
	// expired, whether or not a write has recorded it yet.
	State    string    `json:"state"`
	EndedAt  time.Time `json:"ended_at,omitzero"`
	EndedBy  string    `json:"ended_by,omitempty"`
	Covered  int       `json:"covered"`             // findings it covers today
	Hosts    []int64   `json:"hosts,omitempty"`     // the hosts a fixed QID-wide scope covers
	DaysLeft *int      `json:"days_left,omitempty"` // to its last day, while active with one
	Expiring bool      `json:"expiring"`            // active, its last day within exceptions.warn_days
}

// ExceptionEventRow is one change to an exception.
type ExceptionEventRow struct {
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"` // add, edit, revoke, expire
	Detail map[string]any `json:"detail"`
	Lines  []string       `json:"-"`
}

// ExceptionView is an exception's page.
type ExceptionView struct {
	ExceptionRow
	Events   []ExceptionEventRow `json:"events"`
	Findings []Row               `json:"findings"` // the findings it covers today, by key (at most maxCovered)
	More     bool                `json:"more"`     // it covers more than are listed
}

// maxCovered bounds the findings an exception's page lists.
const maxCovered = 1000

// exceptionRow makes the view of an exception as of day today.
func (s *Server) exceptionRow(e exceptions.Exception, today string) ExceptionRow {
	r := ExceptionRow{ID: e.ID, Name: e.Name(), Type: e.Type, Scope: e.Scope, ScopeText: e.Scope.String(), Reason: e.Reason,
		Approver: e.Approver, RecordedBy: e.RecordedBy, RecordedAt: e.RecordedAt, Start: e.Start, Until: e.Until,
		State: e.State, EndedAt: e.EndedAt, EndedBy: e.EndedBy, Covered: e.Covered, Hosts: e.Hosts}
	if r.State == exceptions.Active && r.Until != "" && r.Until < today {
		r.State = exceptions.Expired
		r.Covered = 0
	}
	if r.State == exceptions.Active && r.Until != "" {
		n := daysBetween(today, r.Until)
		r.DaysLeft = &n
		r.Expiring = n <= s.cfg.Exceptions.WarnDays
	}
	return r
}

// today is the day the dashboard compares dates with.
func (s *Server) today() string { return s.now().UTC().Format(time.DateOnly) }

// exceptionQuery is a request of the exceptions list.
type exceptionQuery struct {
	States   []string // as of today; none: all
	Expiring int      // active ones whose last day is within this many days; 0: any
}

func (q exceptionQuery) Values() url.Values {
	v := url.Values{}
	if len(q.States) == 0 {
		v.Set("state", "all")
	} else if !slices.Equal(q.States, []string{exceptions.Active}) {
		v.Set("state", strings.Join(q.States, ","))
	}
	if q.Expiring > 0 {
		v.Set("expiring", strconv.Itoa(q.Expiring))
	}
	return v
}

// parseExceptionQuery reads state (active by default; all; a list) and
// expiring (days, "30" or "30d").
func parseExceptionQuery(v url.Values) (exceptionQuery, error) {
	q := exceptionQuery{States: []string{exceptions.Active}}
	var errs []error
	if s := strings.ToLower(strings.TrimSpace(v.Get("state"))); s != "" {
		q.States = nil
		if s != "all" {
			for part := range strings.SplitSeq(s, ",") {
				part = strings.TrimSpace(part)
				if !slices.Contains(exceptions.States, part) {
					errs = append(errs, fmt.Errorf("state=%q: want all or %s", part, strings.Join(exceptions.States, ", ")))
					continue
				}
				if !slices.Contains(q.States, part) {
					q.States = append(q.States, part)
				}
			}
		}
	}
	if s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v.Get("expiring"))), "d"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 3650 {
			errs = append(errs, fmt.Errorf("expiring=%q: want a number of days, e.g. 30", v.Get("expiring")))
		} else {
			q.Expiring = n
		}
	}
	return q, errors.Join(errs...)
}

// exceptionList reads the exceptions a query selects, newest first.
func (s *Server) exceptionList(ctx context.Context, q exceptionQuery) ([]ExceptionRow, error) {
	all, err := s.st.Exceptions(ctx, store.ExceptionFilter{})
	if err != nil {
		return nil, err
	}
	today := s.today()
	by := ""
	if q.Expiring > 0 {
		t, _ := time.Parse(time.DateOnly, today)
		by = t.AddDate(0, 0, q.Expiring).Format(time.DateOnly)
	}
	out := []ExceptionRow{}
	for _, e := range all {
		r := s.exceptionRow(e, today)
		if len(q.States) > 0 && !slices.Contains(q.States, r.State) {
			continue
		}
		if by != "" && (r.State != exceptions.Active || r.Until == "" || r.Until > by) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// expiring lists the active exceptions whose last day is within
// exceptions.warn_days, soonest first: the overview's panel.
func (s *Server) expiring(ctx context.Context) ([]ExceptionRow, error) {
	rows, err := s.exceptionList(ctx, exceptionQuery{States: []string{exceptions.Active}, Expiring: s.cfg.Exceptions.WarnDays})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b ExceptionRow) int { return strings.Compare(a.Until, b.Until) })
	return rows, nil
}

func (s *Server) exceptionsPage(w http.ResponseWriter, r *http.Request) error {
	q, err := parseExceptionQuery(r.URL.Query())
	data := map[string]any{"Title": "Exceptions", "Q": q, "WarnDays": s.cfg.Exceptions.WarnDays, "Writable": s.writable()}
	if err != nil {
		data["Error"] = err.Error()
		data["Rows"] = []ExceptionRow{}
		w.WriteHeader(http.StatusBadRequest)
		return s.render(w, "exceptions", data)
	}
	rows, err := s.exceptionList(r.Context(), q)
	if err != nil {
		return err
	}
	data["Rows"] = rows
	data["StateText"] = cmpOr(strings.Join(q.States, ", "), "all")
	return s.render(w, "exceptions", data)
}

func (s *Server) apiExceptions(w http.ResponseWriter, r *http.Request) error {
	q, err := parseExceptionQuery(r.URL.Query())
	if err != nil {
		return badRequest(err)
	}
	rows, err := s.exceptionList(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"exceptions": rows})
	return nil
}

// exceptionID reads the {id} of a path: 12 or EXC-12.
func exceptionID(r *http.Request) (int64, error) {
	id, err := exceptions.ParseName(r.PathValue("exc"))
	if err != nil {
		return 0, errNotFound
	}
	return id, nil
}

// exception reads an exception's page.
func (s *Server) exception(ctx context.Context, id int64) (*ExceptionView, error) {
	e, events, err := s.st.Exception(ctx, id)
	if errors.Is(err, store.ErrNoException) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	today := s.today()
	v := &ExceptionView{ExceptionRow: s.exceptionRow(e, today), Events: []ExceptionEventRow{}, Findings: []Row{}}
	for _, ev := range events {
		row := ExceptionEventRow{At: ev.At, Actor: ev.Actor, Action: ev.Action, Detail: map[string]any{}}
		json.Unmarshal([]byte(ev.Detail), &row.Detail) //nolint:errcheck // qvt writes it: a bad one shows as no detail
		keys := make([]string, 0, len(row.Detail))
		for k := range row.Detail {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			val := row.Detail[k]
			if b, err := json.Marshal(val); err == nil && !isString(val) {
				row.Lines = append(row.Lines, k+": "+string(b))
			} else {
				row.Lines = append(row.Lines, fmt.Sprintf("%s: %v", k, val))
			}
		}
		v.Events = append(v.Events, row)
	}
	if v.State != exceptions.Active {
		return v, nil
	}
	tx, err := s.st.BeginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT vuln_score, breach_date, host_id, qid, port FROM detections"+s.sql.indexed("detections_exception")+
		" WHERE exception_id <> 0 AND exception_id = ? AND excepted_until >= ? AND type <> 'Info' ORDER BY host_id, qid, port LIMIT ?", id, today, maxCovered+1)
	if err != nil {
		return nil, fmt.Errorf("exception %d: %w", id, err)
	}
	var keys []Cursor
	for rows.Next() {
		var c Cursor
		if err := rows.Scan(&c.Rating, &c.Deadline, &c.HostID, &c.QID, &c.Port); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(keys) > maxCovered {
		keys, v.More = keys[:maxCovered], true
	}
	if v.Findings, err = s.rows(ctx, tx, keys, s.now()); err != nil {
		return nil, err
	}
	return v, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

func (s *Server) exceptionPage(w http.ResponseWriter, r *http.Request) error {
	id, err := exceptionID(r)
	if err != nil {
		return err
	}
	v, err := s.exception(r.Context(), id)
	if err != nil {
		return err
	}
	return s.renderForm(w, r, "exception", map[string]any{"Title": v.Name, "E": v, "Error": r.URL.Query().Get("error")})
}

func (s *Server) apiException(w http.ResponseWriter, r *http.Request) error {
	id, err := exceptionID(r)
	if err != nil {
		return err
	}
	v, err := s.exception(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// renderForm renders a page that may hold forms: it gives a browser on
// loopback a session and the page the session's token.
func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, name string, data map[string]any) error {
	data["Writable"] = s.writable()
	if s.writable() {
		data["CSRF"] = s.csrfToken(s.ensureSession(w, r))
	}
	data["Today"] = s.today()
	data["Types"] = exceptions.Types
	data["MaxDays"] = s.cfg.Exceptions.MaxDays
	return s.render(w, name, data)
}

// ExceptionInput is an exception to add, as the form and the API give it.
type ExceptionInput struct {
	Type        string `json:"type"`
	Key         string `json:"key"`  // one finding, ip:qid:port; or:
	QID         int    `json:"qid"`  // a QID, on
	Port        *int   `json:"port"` // one port (null: every port)
	Host        string `json:"host"` // a host (address, name or id),
	Tag         string `json:"tag"`  // a tag,
	CIDR        string `json:"cidr"` // an address range
	FutureHosts bool   `json:"future_hosts"`
	Reason      string `json:"reason"`
	Approver    string `json:"approver"`
	Start       string `json:"start"` // YYYY-MM-DD; "" for today
	Until       string `json:"until"` // YYYY-MM-DD or days ("90d"); "" for none (not for risk_accepted)
}

// exception checks the input and makes the exception to record.
func (in ExceptionInput) exception(p exceptions.Policy, today, actor string) (*exceptions.Exception, error) {
	e := &exceptions.Exception{Type: in.Type, Reason: strings.TrimSpace(in.Reason), Approver: strings.TrimSpace(in.Approver),
		RecordedBy: actor, Start: strings.TrimSpace(in.Start)}
	e.Scope = exceptions.Scope{Key: strings.TrimSpace(in.Key), QID: in.QID, Port: in.Port, Host: strings.TrimSpace(in.Host),
		Tag: strings.TrimSpace(in.Tag), CIDR: strings.TrimSpace(in.CIDR), FutureHosts: in.FutureHosts}
	if u := strings.TrimSpace(in.Until); u != "" {
		until, err := exceptions.ParseUntil(u, today)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		e.Until = until
	}
	if err := e.Validate(p, today); err != nil {
		return nil, err
	}
	return e, nil
}

// formInput reads the add form.
func formInput(r *http.Request) (ExceptionInput, error) {
	f := r.PostForm
	in := ExceptionInput{Type: f.Get("type"), Key: f.Get("key"), Host: f.Get("host"), Tag: f.Get("tag"), CIDR: f.Get("cidr"),
		FutureHosts: f.Get("future_hosts") != "", Reason: f.Get("reason"), Approver: f.Get("approver"), Until: f.Get("until")}
	if s := strings.TrimSpace(f.Get("qid")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return in, fmt.Errorf("qid: %q is not a QID", s)
		}
		in.QID = n
	}
	if s := strings.TrimSpace(f.Get("port")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 {
			return in, fmt.Errorf("port: %q is not a port", s)
		}
		in.Port = &n
	}
	return in, nil
}

// writeErr sorts an error of a write: a missing exception is 404, a bad
// request 400, a failure of the store 500.
func writeErr(err error) error {
	var he *httpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return err
	case errors.Is(err, store.ErrNoException):
		return &httpError{http.StatusNotFound, err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case strings.HasPrefix(err.Error(), "store:"):
		return err
	}
	return badRequest(err)
}

// write runs a change to exceptions in one transaction under the writer
// lock, then brings the findings in line with the exceptions as every
// writer does (excepts and brings back findings, records expiries).
func (s *Server) write(ctx context.Context, fn func(tx *store.Tx, now time.Time) error) error {
	if s.cfg.Lock != nil {
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		l, err := s.cfg.Lock(lctx)
		if err != nil {
			return &httpError{http.StatusServiceUnavailable, "the store is busy: " + err.Error() + "; try again in a moment"}
		}
		defer l.Release()
	}
	now := s.now()
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		if err := fn(tx, now); err != nil {
			return err
		}
		return s.applyExceptions(tx, now)
	})
	if err == nil {
		s.log.Info("dashboard: exceptions changed")
	}
	return err
}

// applyExceptions is the application of exceptions after a write from
// the dashboard, in one place: the loader's (restart_sla) may take it
// over.
func (s *Server) applyExceptions(tx *store.Tx, now time.Time) error {
	if s.cfg.Apply != nil {
		return s.cfg.Apply(tx)
	}
	_, err := tx.ApplyExceptions(now, nil)
	return err
}

func (s *Server) addException(ctx context.Context, in ExceptionInput, actor string) (int64, error) {
	e, err := in.exception(s.cfg.Exceptions, s.today(), actor)
	if err != nil {
		return 0, badRequest(err)
	}
	var id int64
	err = s.write(ctx, func(tx *store.Tx, now time.Time) error {
		id, err = tx.AddException(e, now)
		return err
	})
	if err != nil {
		return 0, writeErr(err)
	}
	return id, nil
}

func (s *Server) extendException(ctx context.Context, id int64, until, reason, actor string) error {
	today := s.today()
	if strings.TrimSpace(until) == "" && strings.TrimSpace(reason) == "" {
		return badRequest(errors.New("give a new last day (until) or a new reason"))
	}
	return writeErr(s.write(ctx, func(tx *store.Tx, now time.Time) error {
		e, err := tx.GetException(id)
		if err != nil {
			return err
		}
		u := ""
		if strings.TrimSpace(until) != "" {
			if u, err = exceptions.ParseUntil(until, today); err != nil {
				return badRequest(fmt.Errorf("until: %w", err))
			}
			if err := exceptions.CheckUntil(u, e.Start, today, s.cfg.Exceptions); err != nil {
				return badRequest(err)
			}
		}
		return tx.EditException(id, u, strings.TrimSpace(reason), actor, now)
	}))
}

func (s *Server) revokeException(ctx context.Context, id int64, why, actor string) error {
	if strings.TrimSpace(why) == "" {
		return badRequest(errors.New("say why the exception is revoked"))
	}
	return writeErr(s.write(ctx, func(tx *store.Tx, now time.Time) error {
		return tx.RevokeException(id, actor, strings.TrimSpace(why), now)
	}))
}

// maxForm bounds a form's or an API request's body.
const maxForm = 64 << 10

func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return badRequest(fmt.Errorf("the form: %w", err))
	}
	return nil
}

func (s *Server) newExceptionPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	in := ExceptionInput{Key: q.Get("key"), Type: q.Get("type"), Host: q.Get("host"), Tag: q.Get("tag")}
	if n, err := strconv.Atoi(q.Get("qid")); err == nil && n > 0 {
		in.QID = n
	}
	return s.renderForm(w, r, "exception_new", map[string]any{"Title": "New exception", "In": in, "Port": ""})
}

func (s *Server) addExceptionForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	if err := s.checkForm(r); err != nil {
		return err
	}
	in, err := formInput(r)
	var id int64
	if err == nil {
		id, err = s.addException(r.Context(), in, s.actor(r))
	} else {
		err = badRequest(err)
	}
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusBadRequest {
		// The form again, as filled, with what is wrong.
		w.WriteHeader(http.StatusBadRequest)
		return s.renderForm(w, r, "exception_new", map[string]any{"Title": "New exception", "In": in, "Port": r.PostForm.Get("port"),
			"Error": he.msg})
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/exceptions/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

// changeForm runs the extend or revoke form of an exception's page; a
// bad value comes back to the page as its error.
func (s *Server) changeForm(w http.ResponseWriter, r *http.Request, change func(id int64) error) error {
	id, err := exceptionID(r)
	if err != nil {
		return err
	}
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	if err := s.checkForm(r); err != nil {
		return err
	}
	page := "/exceptions/" + strconv.FormatInt(id, 10)
	err = change(id)
	var he *httpError
	if errors.As(err, &he) && he.status == http.StatusBadRequest {
		http.Redirect(w, r, page+"?"+url.Values{"error": {he.msg}}.Encode(), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, page, http.StatusSeeOther)
	return nil
}

func (s *Server) extendExceptionForm(w http.ResponseWriter, r *http.Request) error {
	return s.changeForm(w, r, func(id int64) error {
		return s.extendException(r.Context(), id, r.PostForm.Get("until"), r.PostForm.Get("reason"), s.actor(r))
	})
}

func (s *Server) revokeExceptionForm(w http.ResponseWriter, r *http.Request) error {
	return s.changeForm(w, r, func(id int64) error {
		return s.revokeException(r.Context(), id, r.PostForm.Get("why"), s.actor(r))
	})
}

// readJSON reads an API request's body into v, strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return badRequest(fmt.Errorf("the JSON body: %w", err))
	}
	return nil
}

func (s *Server) apiAddException(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkAPIWrite(r); err != nil {
		return err
	}
	var in ExceptionInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	id, err := s.addException(r.Context(), in, s.actor(r))
	if err != nil {
		return err
	}
	v, err := s.exception(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/exceptions/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) apiChange(w http.ResponseWriter, r *http.Request, body any, change func(id int64) error) error {
	if err := s.checkAPIWrite(r); err != nil {
		return err
	}
	id, err := exceptionID(r)
	if err != nil {
		return err
	}
	if err := readJSON(w, r, body); err != nil {
		return err
	}
	if err := change(id); err != nil {
		return err
	}
	v, err := s.exception(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiExtendException(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Until  string `json:"until"`
		Reason string `json:"reason"`
	}
	return s.apiChange(w, r, &body, func(id int64) error {
		return s.extendException(r.Context(), id, body.Until, body.Reason, s.actor(r))
	})
}

func (s *Server) apiRevokeException(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Reason string `json:"reason"`
	}
	return s.apiChange(w, r, &body, func(id int64) error {
		return s.revokeException(r.Context(), id, body.Reason, s.actor(r))
	})
}

// exceptFindingURL is the form that excepts one finding.
func exceptFindingURL(key string) string {
	if _, _, _, ok := finding.ParseKey(key); !ok {
		return "/exceptions/new"
	}
	return "/exceptions/new?" + url.Values{"key": {key}}.Encode()
}
