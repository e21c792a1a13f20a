package sim

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"qvt/internal/gen"
)

// The NVD CVE API 2.0, GET /rest/json/cves/2.0 (nvd-cvss.md section 2).
//
// Records come in index order, which is CVE id order within a year with
// the years ascending and CVEs published since epoch 0 last. NVD documents
// no order; the real service returns roughly publication order. Index
// order has the property paging needs: records published during a sync
// are appended at the end and never shift the pages already read.
//
// Parameter errors are answered as NVD answers them: HTTP 404 with an
// empty body and the reason in a "message" response header (seen in
// client logs, e.g. "Invalid ISO 8601 date/time format, see
// documentation."). Throttled calls get 403 with an empty body.

// nvdParams are the documented parameters. The double models startIndex,
// resultsPerPage, the lastMod and pub date ranges, cveId and noRejected;
// the other filters are accepted without effect.
var nvdParams = paramSet(
	"startIndex", "resultsPerPage", "lastModStartDate", "lastModEndDate", "pubStartDate", "pubEndDate",
	"cveId", "noRejected",
	"cpeName", "isVulnerable", "virtualMatchString", "versionStart", "versionStartType", "versionEnd", "versionEndType",
	"cvssV2Metrics", "cvssV3Metrics", "cvssV4Metrics", "cvssV2Severity", "cvssV3Severity", "cvssV4Severity",
	"cweId", "hasCertAlerts", "hasCertNotes", "hasKev", "hasOval", "keywordSearch", "keywordExactMatch",
	"sourceIdentifier", "cveTag", "kevStartDate", "kevEndDate",
)

const (
	nvdMaxPage  = 2000 // default and maximum resultsPerPage of /cves/
	nvdMaxRange = 120 * 24 * time.Hour
)

func (s *Server) serveNVD(w http.ResponseWriter, r *http.Request) {
	a := s.apis[APINVD]
	params := r.URL.Query()
	idx := s.logStart(APINVD, r, cloneValues(params))
	res := &callResult{}
	defer s.logEnd(idx, res)

	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		res.status = http.StatusMethodNotAllowed
		s.nvdEmpty(w, r, res.status)
		return
	}
	ok, running := s.nvdAdmit(a, r.Header.Get("apiKey") != "")
	res.concurrent = running
	if !ok {
		res.status = http.StatusForbidden
		s.nvdEmpty(w, r, res.status)
		return
	}
	defer s.release(a)

	epoch, now := s.snapshot()
	q, msg := parseNVD(params)
	if msg != "" {
		w.Header().Set("message", msg)
		res.status = http.StatusNotFound
		s.nvdEmpty(w, r, res.status)
		return
	}
	fault, where := s.drawFault(a, false)
	res.fault = fault
	switch fault {
	case Fault503:
		res.status = http.StatusServiceUnavailable
		s.nvdEmpty(w, r, res.status)
		return
	case Fault403:
		res.status = http.StatusForbidden
		s.nvdEmpty(w, r, res.status)
		return
	}
	sel := s.nvdSelect(q, epoch)
	total := len(sel)
	if sel == nil {
		total = s.data.CVECount(epoch)
	}
	from := min(q.start, total)
	to := min(from+q.perPage, total)
	page := make([]int, 0, to-from)
	for k := from; k < to; k++ {
		if sel == nil {
			page = append(page, k)
		} else {
			page = append(page, sel[k])
		}
	}
	w.Header().Set("Content-Type", "application/json")
	res.status = http.StatusOK
	s.respond(w, r, http.StatusOK, func(w io.Writer) error {
		return gen.WriteNVDIndexesAt(w, s.data, page, epoch, q.start, total, now)
	}, fault, where, shape{recordEnds: []string{`,{"cve":`, `}}]}`}, tail: len("]}\n")})
}

// nvdEmpty answers with a status and no body, after the latency.
func (s *Server) nvdEmpty(w http.ResponseWriter, r *http.Request, status int) {
	sleep(r.Context(), s.cfg.Latency)
	w.WriteHeader(status)
}

// nvdQuery is a parsed NVD request.
type nvdQuery struct {
	start, perPage     int
	modFrom, modTo     time.Time // both zero, or both set
	pubFrom, pubTo     time.Time
	cveID              string
	noRejected         bool
	hasMod, hasPub, id bool
}

var cveIDPattern = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

// parseNVD checks a request's parameters; msg is NVD's "message" header
// for an invalid one.
func parseNVD(p url.Values) (q nvdQuery, msg string) {
	var unknown []string
	for k := range p {
		if !nvdParams[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return q, "Invalid parameter: " + strings.Join(unknown, ", ")
	}
	q.perPage = nvdMaxPage
	if v := p.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, "Invalid startIndex parameter"
		}
		q.start = n
	}
	if v := p.Get("resultsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, "Invalid resultsPerPage parameter"
		}
		// NVD refuses, rather than clamps, a page larger than its
		// maximum (client reports of "resultsPerPage parameter cannot
		// exceed ..." 404s).
		if n > nvdMaxPage {
			return q, "resultsPerPage parameter cannot exceed " + strconv.Itoa(nvdMaxPage)
		}
		q.perPage = n
	}
	var ok bool
	if q.modFrom, q.modTo, ok, msg = dateRange(p, "lastModStartDate", "lastModEndDate"); msg != "" {
		return q, msg
	}
	q.hasMod = ok
	if q.pubFrom, q.pubTo, ok, msg = dateRange(p, "pubStartDate", "pubEndDate"); msg != "" {
		return q, msg
	}
	q.hasPub = ok
	if _, _, _, msg = dateRange(p, "kevStartDate", "kevEndDate"); msg != "" {
		return q, msg
	}
	if v, ok := p["cveId"]; ok {
		if !cveIDPattern.MatchString(v[0]) {
			return q, "Invalid cveId parameter"
		}
		q.cveID, q.id = v[0], true
	}
	_, q.noRejected = p["noRejected"]
	return q, ""
}

// dateRange reads a start/end pair: both or neither, extended ISO-8601
// with an optional offset ("2021-08-04T13:00:00.000", "...+01:00" sent as
// %2B01:00, "...Z"), at most 120 days apart.
func dateRange(p url.Values, startName, endName string) (from, to time.Time, ok bool, msg string) {
	sv, ev := p.Get(startName), p.Get(endName)
	if sv == "" && ev == "" {
		return from, to, false, ""
	}
	if sv == "" || ev == "" {
		return from, to, false, "Both " + startName + " and " + endName + " are required when either is present"
	}
	var err1, err2 error
	from, err1 = nvdTime(sv)
	to, err2 = nvdTime(ev)
	if err1 != nil || err2 != nil {
		return from, to, false, "Invalid ISO 8601 date/time format, see documentation."
	}
	if to.Before(from) {
		return from, to, false, "The " + endName + " must not be before the " + startName
	}
	if to.Sub(from) > nvdMaxRange {
		return from, to, false, "Date range cannot exceed 120 days"
	}
	return from, to, true, ""
}

func nvdTime(v string) (time.Time, error) {
	// Go's parser takes an optional fractional second after the seconds
	// even when the layout has none.
	t, err := time.Parse("2006-01-02T15:04:05Z07:00", v)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04:05", v)
	}
	return t, err
}

// nvdSelect returns the indexes of the CVEs the query selects, ascending,
// or nil when it selects them all (no filter). lastMod ranges are gen's
// CVEsModifiedBetween, so the double agrees with gen exactly; the other
// filters look at each candidate's state. Lists are cached per epoch and
// filter, since a client pages through the same list many times.
func (s *Server) nvdSelect(q nvdQuery, epoch int) []int {
	if !q.hasMod && !q.hasPub && !q.id && !q.noRejected {
		return nil
	}
	key := strings.Join([]string{strconv.Itoa(epoch), q.modFrom.String(), q.modTo.String(),
		q.pubFrom.String(), q.pubTo.String(), q.cveID, strconv.FormatBool(q.noRejected)}, "|")
	if idx, ok := s.nvdCache.get(key); ok {
		return idx
	}
	d := s.data
	var cands []int
	switch {
	case q.id:
		if i := d.CVEIndex(q.cveID); i >= 0 {
			cands = []int{i}
		}
	case q.hasMod:
		cands = d.CVEsModifiedBetween(q.modFrom, q.modTo, epoch)
	default:
		n := d.CVECount(epoch)
		cands = make([]int, n)
		for i := range n {
			cands[i] = i
		}
	}
	out := make([]int, 0, len(cands))
	for _, i := range cands {
		status, pub, mod, ok := d.CVEState(i, epoch)
		if !ok ||
			q.noRejected && status == "Rejected" ||
			q.hasPub && (pub.Before(q.pubFrom) || pub.After(q.pubTo)) ||
			q.hasMod && q.id && (mod.Before(q.modFrom) || mod.After(q.modTo)) {
			continue
		}
		out = append(out, i)
	}
	s.nvdCache.put(key, out)
	return out
}

// nvdCache keeps the last few selections.
type nvdCache struct {
	mu      sync.Mutex
	entries []nvdCacheEntry // most recent last
}

type nvdCacheEntry struct {
	key string
	idx []int
}

const nvdCacheSize = 4

func (c *nvdCache) get(key string) ([]int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.key == key {
			return e.idx, true
		}
	}
	return nil, false
}

func (c *nvdCache) put(key string, idx []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == nvdCacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, nvdCacheEntry{key, idx})
}
