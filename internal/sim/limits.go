package sim

import (
	"bytes"
	"compress/gzip"
	"context"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiState holds one API's counters. Qualys counts calls per endpoint, so
// each API has its own; all fields are guarded by Server.mu.
type apiState struct {
	name    string
	salt    uint64
	running int         // calls admitted and not finished
	max     int         // highest running
	window  []time.Time // admitted calls still in the rate window, oldest first (NVD: without an apiKey)
	keyed   []time.Time // NVD: admitted calls with an apiKey
	seq     uint64      // calls that reached the fault draw
}

// limitInfo is what the Qualys rate and concurrency headers report.
type limitInfo struct {
	limit, windowSec, remaining, toWait int
	concLimit, running                  int
}

func (li limitInfo) set(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(li.limit))
	h.Set("X-RateLimit-Window-Sec", strconv.Itoa(li.windowSec))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(li.remaining))
	h.Set("X-RateLimit-ToWait-Sec", strconv.Itoa(li.toWait))
	h.Set("X-Concurrency-Limit-Limit", strconv.Itoa(li.concLimit))
	h.Set("X-Concurrency-Limit-Running", strconv.Itoa(li.running))
}

// prune drops the calls that have left a sliding window.
func prune(calls []time.Time, now time.Time, window time.Duration) []time.Time {
	i := 0
	for i < len(calls) && !calls[i].After(now.Add(-window)) {
		i++
	}
	return calls[i:]
}

// limitsLocked reports the limits as they stand, without admitting a call.
// ToWait is the time until the oldest call leaves the window when none
// remain, rounded up to whole seconds.
func (s *Server) limitsLocked(a *apiState, now time.Time) limitInfo {
	a.window = prune(a.window, now, s.cfg.RateWindow)
	li := limitInfo{
		limit:     s.cfg.RateLimit,
		windowSec: int(s.cfg.RateWindow / time.Second),
		remaining: max(0, s.cfg.RateLimit-len(a.window)),
		concLimit: s.cfg.Concurrency,
		running:   a.running,
	}
	if li.remaining == 0 && len(a.window) > 0 {
		wait := a.window[0].Add(s.cfg.RateWindow).Sub(now)
		li.toWait = max(1, int(math.Ceil(wait.Seconds())))
	}
	return li
}

// qualysLimits is limitsLocked for calls refused before the limits are
// checked (bad credentials, missing header): they carry the headers too.
func (s *Server) qualysLimits(a *apiState) limitInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitsLocked(a, time.Now())
}

// qualysAdmit applies the Qualys limits to a call, in Qualys' order:
// concurrency first (code 1960 when Concurrency calls are running), then
// the sliding rate window (code 1965 when RateLimit calls fell within the
// last RateWindow). An admitted call is counted as running, itself
// included in the Running header, until release; refused calls count
// against neither limit.
func (s *Server) qualysAdmit(a *apiState) (li limitInfo, code int, items map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	li = s.limitsLocked(a, now)
	if a.running >= s.cfg.Concurrency {
		return li, 1960, map[string]string{"CALLS_TO_FINISH": strconv.Itoa(a.running - s.cfg.Concurrency + 1)}
	}
	if li.remaining == 0 {
		return li, 1965, map[string]string{"SECONDS_TO_WAIT": strconv.Itoa(li.toWait)}
	}
	a.window = append(a.window, now)
	a.running++
	a.max = max(a.max, a.running)
	li.remaining--
	li.running = a.running
	return li, 0, nil
}

// release ends an admitted call.
func (s *Server) release(a *apiState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a.running--
}

// nvdWindow is NVD's rolling rate window.
const nvdWindow = 30 * time.Second

// nvdAdmit applies NVD's rolling 30-second limit, NVDRateLimit calls
// without an apiKey and ten times that with one (5 and 50 on the real
// service). NVD has no concurrency limit, but running calls are counted
// for MaxConcurrent. It returns false for a call to refuse with 403.
func (s *Server) nvdAdmit(a *apiState, keyed bool) (ok bool, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.NVDRateLimit > 0 {
		now := time.Now()
		calls, limit := &a.window, s.cfg.NVDRateLimit
		if keyed {
			calls, limit = &a.keyed, 10*s.cfg.NVDRateLimit
		}
		*calls = prune(*calls, now, nvdWindow)
		if len(*calls) >= limit {
			return false, a.running
		}
		*calls = append(*calls, now)
	}
	a.running++
	a.max = max(a.max, a.running)
	return true, a.running
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func salt(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// drawFault picks the fault, if any, of the API's next call, and a number
// in [0, 1) that places it (where a body is cut or slowed). Draws depend on
// the seed, the API and the call's sequence number only. At most one fault
// applies; an error answer (503, 409, 403) wins over a damaged body (cut),
// which wins over a slow one.
func (s *Server) drawFault(a *apiState, qualys bool) (fault string, where float64) {
	s.mu.Lock()
	f := s.faults
	seq := a.seq
	a.seq++
	s.mu.Unlock()
	h := mix(mix(f.Seed^a.salt) ^ seq)
	u := func(k uint64) float64 { return float64(mix(h^k*0xd1342543de82ef95)>>11) / (1 << 53) }
	where = u(6)
	switch {
	case u(1) < f.P503:
		return Fault503, where
	case qualys && u(2) < f.P409:
		return Fault409, where
	case !qualys && u(3) < f.NVD403:
		return Fault403, where
	case u(4) < f.PCut:
		return FaultCut, where
	case u(5) < f.PSlow:
		return FaultSlow, where
	}
	return "", where
}

// sleep waits d, or less if the client goes away.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// bodyFunc writes a response body.
type bodyFunc func(w io.Writer) error

// shape tells a cut where a body's records are: a cut falls after the end
// of the first record (the first of recordEnds found), and leaves at least
// the last tail bytes unsent so that the document never ends.
type shape struct {
	recordEnds []string
	tail       int
}

// respond writes a response: after Config.Latency it sends the status and
// headers at once (chunked: the body is streamed as it is generated, never
// held whole), then the body, gzip-compressed when the client accepts it.
//
// A slow fault sleeps SlowBy in the middle of the body, after flushing what
// came before. A cut fault generates the whole body, sends 40–90% of it
// (at least past its first record, never its end) and aborts the
// connection, so that the client reads an unexpected EOF.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, status int, body bodyFunc, fault string, where float64, sh shape) {
	var full []byte
	if fault == FaultCut {
		var buf bytes.Buffer
		if err := body(&buf); err != nil {
			panic(http.ErrAbortHandler)
		}
		full = buf.Bytes()
	}
	h := w.Header()
	gz := acceptsGzip(r)
	if gz {
		h.Set("Content-Encoding", "gzip")
	}
	h.Add("Vary", "Accept-Encoding")
	h.Del("Content-Length")
	sleep(r.Context(), s.cfg.Latency)
	w.WriteHeader(status)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	var out io.Writer = w
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		out = zw
	}
	flush := func() {
		if zw != nil {
			zw.Flush()
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	if fault == FaultCut {
		out.Write(full[:cutPoint(full, where, sh)]) //nolint:errcheck // the connection is dropped next
		flush()
		panic(http.ErrAbortHandler)
	}
	if fault == FaultSlow {
		s.mu.Lock()
		d := s.faults.SlowBy
		s.mu.Unlock()
		out = &slowWriter{w: out, ctx: r.Context(), d: d, flush: flush}
	}
	if err := body(out); err != nil {
		// The status is sent: all that can be done for a client still
		// listening is to break the stream so that it cannot mistake the
		// partial body for a whole one.
		panic(http.ErrAbortHandler)
	}
	if zw != nil {
		zw.Close()
	}
}

// cutPoint chooses where to cut a body of n bytes: at 40–90% of it (where
// places it in that span), no earlier than the end of its first record and
// no later than n-tail.
func cutPoint(b []byte, where float64, sh shape) int {
	n := len(b)
	cut := int(float64(n) * (0.4 + 0.5*where))
	first := -1
	for _, m := range sh.recordEnds {
		if i := bytes.Index(b, []byte(m)); i >= 0 && (first < 0 || i+len(m) < first) {
			first = i + len(m)
		}
	}
	cut = max(cut, first)
	return max(1, min(cut, n-sh.tail))
}

// slowWriter stalls once, halfway through the first write it is given (the
// body writers hand over 64 KiB at a time, so that is inside the body
// whatever its size).
type slowWriter struct {
	w     io.Writer
	ctx   context.Context
	d     time.Duration
	flush func()
	done  bool
}

func (s *slowWriter) Write(p []byte) (int, error) {
	if s.done || len(p) == 0 {
		return s.w.Write(p)
	}
	s.done = true
	half := len(p) / 2
	n, err := s.w.Write(p[:half])
	if err != nil {
		return n, err
	}
	s.flush()
	sleep(s.ctx, s.d)
	m, err := s.w.Write(p[half:])
	return n + m, err
}
