package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"qvt/internal/gen"
	"qvt/internal/qualys"
)

// What every Qualys v2 endpoint shares: authentication, the
// X-Requested-With header, the limits, parameter checking, SIMPLE_RETURN
// errors and the 503 maintenance page (qualys-api.md section 4).

// qualysAPI is one Qualys endpoint.
type qualysAPI struct {
	name string
	// params are the documented parameters the endpoint accepts; others
	// are refused with code 1901. The double models some and accepts the
	// rest without effect.
	params map[string]bool
	// prepare checks the endpoint's parameters and returns the body to
	// stream, or the error to answer.
	prepare func(s *Server, q *qreq) (bodyFunc, shape, *qerror)
}

// qreq is a Qualys call being served.
type qreq struct {
	r        *http.Request
	p        url.Values
	epoch    int
	datetime string // the response's DATETIME
	d        *gen.Dataset
}

// qerror is an error answer: an HTTP status and a SIMPLE_RETURN.
type qerror struct {
	status int
	code   int
	text   string
	items  map[string]string
}

func badValue(name, value, why string) *qerror {
	text := "parameter " + name + " has invalid value: " + value
	if why != "" {
		text += " (" + why + ")"
	}
	return &qerror{status: http.StatusBadRequest, code: 1905, text: text}
}

func paramSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// qualysTime formats a time as Qualys does: "2020-10-07T13:02:59Z".
func qualysTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func (s *Server) serveQualys(w http.ResponseWriter, r *http.Request, api *qualysAPI) {
	a := s.apis[api.name]
	formErr := r.ParseForm() // GET query and POST form body, merged
	idx := s.logStart(api.name, r, cloneValues(r.Form))
	res := &callResult{}
	defer s.logEnd(idx, res)

	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=UTF-8")
	fail := func(li limitInfo, e *qerror) {
		li.set(h)
		res.status, res.concurrent = e.status, li.running
		s.simpleReturn(w, r, e)
	}

	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST")
		fail(s.qualysLimits(a), &qerror{status: http.StatusMethodNotAllowed, code: 1905,
			text: "method " + r.Method + " is not supported: use GET or POST"})
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || !s.knownUser(user) || subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.Password)) != 1 {
		fail(s.qualysLimits(a), &qerror{status: http.StatusUnauthorized, code: 2000, text: "Bad Login/Password"})
		return
	}
	if r.Header.Get("X-Requested-With") == "" {
		// Qualys requires the header on every v2 call but documents no
		// error code for its absence: 1903 (missing required input) is
		// this double's choice.
		fail(s.qualysLimits(a), &qerror{status: http.StatusBadRequest, code: 1903,
			text: "Missing required header: X-Requested-With"})
		return
	}

	li, code, items := s.qualysAdmit(a)
	res.concurrent = li.running
	switch code {
	case 1960:
		fail(li, &qerror{status: http.StatusConflict, code: 1960, items: items,
			text: fmt.Sprintf("This API cannot be run again until %s currently running instance(s) have finished.", items["CALLS_TO_FINISH"])})
		return
	case 1965:
		fail(li, &qerror{status: http.StatusConflict, code: 1965, items: items,
			text: "This API cannot be run again for another " + spell(li.toWait) + "."})
		return
	}
	defer s.release(a)

	epoch, now := s.snapshot()
	q := &qreq{r: r, p: r.Form, epoch: epoch, datetime: qualysTime(now), d: s.data}
	var e *qerror
	switch {
	case formErr != nil:
		e = &qerror{status: http.StatusBadRequest, code: 1905, text: "invalid request parameters: " + formErr.Error()}
	case s.cfg.RejectQDS && api.name == APIDetections:
		e = checkParams(&detectionAPINoQDS, r.Form)
	default:
		e = checkParams(api, r.Form)
	}
	var body bodyFunc
	var sh shape
	if e == nil {
		body, sh, e = api.prepare(s, q)
	}
	if e != nil {
		fail(li, e)
		return
	}

	fault, where := s.drawFault(a, true)
	res.fault = fault
	li.set(h)
	switch fault {
	case Fault503:
		res.status = http.StatusServiceUnavailable
		h.Set("Content-Type", "text/html; charset=UTF-8")
		s.respond(w, r, res.status, func(w io.Writer) error {
			_, err := io.WriteString(w, maintenancePage)
			return err
		}, "", 0, shape{})
		return
	case Fault409:
		// A spurious concurrency refusal, as when other users of the
		// subscription hold the slots.
		li.running = s.cfg.Concurrency
		fail(li, &qerror{status: http.StatusConflict, code: 1960, items: map[string]string{"CALLS_TO_FINISH": "1"},
			text: "This API cannot be run again until 1 currently running instance(s) have finished."})
		return
	}
	res.status = http.StatusOK
	if s.cfg.CacheBodies && fault == "" {
		s.respondCached(w, r, api.name+"|"+strconv.Itoa(epoch)+"|"+r.Form.Encode(), body)
		return
	}
	s.respond(w, r, http.StatusOK, body, fault, where, sh)
}

// maintenancePage is what Qualys' front end answers with HTTP 503 during
// maintenance: HTML, not a SIMPLE_RETURN.
const maintenancePage = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>503 Service Unavailable</title>
</head><body>
<h1>Service Unavailable</h1>
<p>The Qualys API is temporarily unavailable due to scheduled maintenance. Please try again later.</p>
</body></html>
`

// simpleReturn answers with a SIMPLE_RETURN error document.
func (s *Server) simpleReturn(w http.ResponseWriter, r *http.Request, e *qerror) {
	_, now := s.snapshot()
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	s.respond(w, r, e.status, func(w io.Writer) error {
		return qualys.WriteSimpleReturn(w, qualysTime(now), e.code, e.text, e.items)
	}, "", 0, shape{})
}

// spell writes a wait as Qualys' 1965 text does: "0 hours, 59 minutes and
// 12 seconds".
func spell(sec int) string {
	return fmt.Sprintf("%d hours, %d minutes and %d seconds", sec/3600, sec/60%60, sec%60)
}

// checkParams refuses parameters the endpoint does not know (code 1901,
// which clients treat as fatal) and an action other than list.
func checkParams(api *qualysAPI, p url.Values) *qerror {
	var unknown []string
	for k := range p {
		if !api.params[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return &qerror{status: http.StatusBadRequest, code: 1901, text: "Unrecognized parameter(s): " + strings.Join(unknown, ",")}
	}
	switch act := p.Get("action"); act {
	case "list":
		return nil
	case "":
		return &qerror{status: http.StatusBadRequest, code: 1905, text: "parameter action is required: action=list"}
	default:
		return badValue("action", act, "valid value is list")
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// flag reads a 0/1 parameter.
func flag(p url.Values, name string, def bool) (bool, *qerror) {
	switch v := p.Get(name); v {
	case "":
		return def, nil
	case "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, badValue(name, v, "valid values are 0 and 1")
	}
}

// intParam reads an integer parameter in [lo, hi]; ok is false when it is
// absent.
func intParam(p url.Values, name string, lo, hi int64) (n int64, ok bool, e *qerror) {
	v := p.Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, false, badValue(name, v, fmt.Sprintf("an integer from %d to %d is expected", lo, hi))
	}
	return n, true, nil
}

// idRange is one element of an ids parameter: an id or a range "a-b".
type idRange struct{ lo, hi int64 }

// idList reads an ids-style parameter: ids and ranges, comma-separated.
// The error text is Qualys' (testdata/simple_return_1905.xml).
func idList(p url.Values, name string) ([]idRange, *qerror) {
	v := p.Get(name)
	if v == "" {
		return nil, nil
	}
	var out []idRange
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.ParseInt(lo, 10, 64)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.ParseInt(hi, 10, 64)
		}
		if err1 != nil || err2 != nil || a <= 0 || b < a {
			return nil, badValue(name, v, "neither a positive integer nor a range: "+part)
		}
		out = append(out, idRange{a, b})
	}
	return out, nil
}

func inRanges(rs []idRange, id int64) bool {
	for _, r := range rs {
		if id >= r.lo && id <= r.hi {
			return true
		}
	}
	return false
}

// dateParam reads a Qualys date parameter: YYYY-MM-DD or
// YYYY-MM-DDTHH:MM:SSZ, UTC.
func dateParam(p url.Values, name string) (t time.Time, ok bool, e *qerror) {
	v := p.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, badValue(name, v, "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
}

// oneOf checks that a parameter, when given, is one of the values.
func oneOf(p url.Values, name string, values ...string) *qerror {
	v := p.Get(name)
	if v == "" || slices.Contains(values, v) {
		return nil
	}
	return badValue(name, v, "valid values are "+strings.Join(values, ", "))
}

// nextURL is the URL of a 1980 warning: the same endpoint with the call's
// parameters and id_min set to the next id, absolute on the server the
// call came to. action leads and id_min ends, as in Qualys' samples.
func nextURL(q *qreq, path string, nextID int64) string {
	var b strings.Builder
	b.WriteString(baseOf(q.r))
	b.WriteString(path)
	b.WriteString("?action=list")
	keys := make([]string, 0, len(q.p))
	for k := range q.p {
		if k != "action" && k != "id_min" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte('&')
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		v := url.QueryEscape(q.p.Get(k))
		// Qualys leaves list commas and date colons readable.
		v = strings.NewReplacer("%2C", ",", "%3A", ":").Replace(v)
		b.WriteString(v)
	}
	b.WriteString("&id_min=")
	b.WriteString(strconv.FormatInt(nextID, 10))
	return b.String()
}

// truncationWarning is Qualys' 1980 warning for a page of limit records.
func truncationWarning(q *qreq, path string, limit int, nextID int64) *qualys.Warning {
	return &qualys.Warning{
		Code: "1980",
		Text: strconv.Itoa(limit) + " record limit exceeded. Use URL to get next batch of results.",
		URL:  nextURL(q, path, nextID),
	}
}

// writeIDSet writes an ID_SET response (KB details=None, host list
// details=None) with an optional warning, in the encoder's layout
// (qualys.WriteHostIDList, which has no warning): runs of consecutive ids
// become ID_RANGE "first-last". ids must be ascending and distinct.
func writeIDSet(w io.Writer, root, dtdPath, datetime string, ids []int64, warn *qualys.Warning) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 256)
	b = append(b, `<?xml version="1.0" encoding="UTF-8" ?>`+"\n<!DOCTYPE "...)
	b = append(b, root...)
	b = append(b, ` SYSTEM "`+qualys.APIHost...)
	b = append(b, dtdPath...)
	b = append(b, "\">\n<"...)
	b = append(b, root...)
	b = append(b, ">\n  <RESPONSE>\n    <DATETIME>"...)
	b = append(b, datetime...)
	b = append(b, "</DATETIME>\n"...)
	if len(ids) > 0 {
		b = append(b, "    <ID_SET>\n"...)
		for i := 0; i < len(ids); {
			j := i + 1
			for j < len(ids) && ids[j] == ids[j-1]+1 {
				j++
			}
			if j-i == 1 {
				b = append(b, "      <ID>"...)
				b = strconv.AppendInt(b, ids[i], 10)
				b = append(b, "</ID>\n"...)
			} else {
				b = append(b, "      <ID_RANGE>"...)
				b = strconv.AppendInt(b, ids[i], 10)
				b = append(b, '-')
				b = strconv.AppendInt(b, ids[j-1], 10)
				b = append(b, "</ID_RANGE>\n"...)
			}
			i = j
			if _, err := bw.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
		b = append(b, "    </ID_SET>\n"...)
	}
	if warn != nil {
		b = append(b, "    <WARNING>\n      <CODE>"...)
		b = append(b, warn.Code...)
		b = append(b, "</CODE>\n      <TEXT>"...)
		b = append(b, warn.Text...) // plain ASCII: nothing to escape
		b = append(b, "</TEXT>\n      <URL><![CDATA["...)
		b = append(b, warn.URL...)
		b = append(b, "]]></URL>\n    </WARNING>\n"...)
	}
	b = append(b, "  </RESPONSE>\n</"...)
	b = append(b, root...)
	b = append(b, ">\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// respondCached answers like respond, from memory when the same request
// was answered before: the body as sent, compressed when the client takes
// gzip, so that a benchmark measures the client, not the double's gzip.
func (s *Server) respondCached(w http.ResponseWriter, r *http.Request, key string, body bodyFunc) {
	gz := acceptsGzip(r)
	if gz {
		key += "|gzip"
	}
	s.bodyMu.Lock()
	b, ok := s.bodies[key]
	s.bodyMu.Unlock()
	if !ok {
		var buf bytes.Buffer
		var out io.Writer = &buf
		var zw *gzip.Writer
		if gz {
			zw = gzip.NewWriter(&buf)
			out = zw
		}
		if err := body(out); err != nil {
			panic(http.ErrAbortHandler)
		}
		if zw != nil {
			zw.Close()
		}
		b = buf.Bytes()
		s.bodyMu.Lock()
		if s.bodies == nil {
			s.bodies = map[string][]byte{}
		}
		s.bodies[key] = b
		s.bodyMu.Unlock()
	}
	h := w.Header()
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Add("Vary", "Accept-Encoding")
	h.Del("Content-Length")
	sleep(r.Context(), s.cfg.Latency)
	w.WriteHeader(http.StatusOK)
	w.Write(b) //nolint:errcheck // a client that left is not an error here
}

// knownUser tells whether user is one of the subscription's API users.
func (s *Server) knownUser(user string) bool {
	known := subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.Username)) == 1
	for _, u := range s.cfg.OtherUsers {
		known = known || subtle.ConstantTimeCompare([]byte(user), []byte(u)) == 1
	}
	return known
}
