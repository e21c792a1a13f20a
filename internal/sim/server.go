// Package sim is a local double of the services qvt syncs from: the
// Qualys VM API v2 (KnowledgeBase, host list, host list detection), the
// NVD CVE API 2.0, and the public files of CISA's KEV catalog and FIRST's
// EPSS scores. Tests, benchmarks and `qvt demo` run qvt's real clients
// against it on loopback, so it speaks the documented wire formats
// (docs/reference/qualys-api.md sections 1, 3, 4; nvd-cvss.md section 2)
// and reproduces the services' limits and failures: Basic auth and the
// X-Requested-With header, per-API concurrency and sliding-window rate
// limits with their headers and 409 SIMPLE_RETURN answers, 1980 truncation
// warnings, NVD's 404-with-message parameter errors and 403 throttling, and
// injected faults (503 maintenance, spurious 409, bodies cut mid-stream,
// slow bodies).
//
// The data come from internal/gen: the double never stores records, it
// computes each page from the data set as of its current epoch, so a data
// set of any size costs only the pages asked for. Advance moves the data set
// one day on.
package sim

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"qvt/internal/gen"
)

// Config sets up a Server. Zero fields take the defaults given.
type Config struct {
	Data            gen.Config    // the data set (seed and sizes)
	Username        string        // Basic auth; default "demo"
	Password        string        // default "demo"
	OtherUsers      []string      // further API users of the same subscription, with the same password
	Concurrency     int           // X-Concurrency-Limit-Limit per API, default 2 (as on a standard subscription)
	RateLimit       int           // calls per RateWindow per API, default 300
	RateWindow      time.Duration // default 1h
	Latency         time.Duration // added before each Qualys/NVD response starts (benchmarks use 200ms)
	TruncationLimit int           // host list (detection) page size in hosts when the request does not say; default 1000 (Qualys' default)
	NVDRateLimit    int           // NVD requests per rolling 30 s without an apiKey header; 0 = unlimited (real NVD: 5; with a key 50)
	Faults          Faults
	// RejectQDS makes the detection API refuse show_qds and
	// show_qds_factors as a subscription without them does: as unknown
	// parameters, HTTP 400 with SIMPLE_RETURN code 1901 "Unrecognized
	// parameter(s): show_qds" (the answer Qualys gives any parameter its
	// edition lacks).
	RejectQDS bool
	// CacheBodies keeps each Qualys response body and answers the same
	// request (same epoch and parameters) again from memory. Benchmarks
	// use it so that the cost measured is the client's: generating the
	// data is far slower than a real server sending it.
	CacheBodies bool
}

// Faults are the failures the double injects into calls that passed
// authentication, the limits and parameter checks. Each is drawn per call
// from Seed and the call's sequence number on its API, so a given order of
// requests meets the same faults every run.
type Faults struct {
	Seed   uint64  // faults are drawn deterministically from the seed and the request sequence number per endpoint
	P503   float64 // probability a call answers 503 (Qualys maintenance page / NVD 503)
	P409   float64 // probability a Qualys call answers 409 with SIMPLE_RETURN 1960 (concurrency) even under the limit
	PCut   float64 // probability the body is cut off mid-stream (connection closed after part of the body; the XML or JSON does not end)
	PSlow  float64 // probability a response is slow (SlowBy extra delay, in the middle of the body)
	SlowBy time.Duration
	NVD403 float64 // probability an NVD call answers 403 (NVD's throttling answer)
}

// Fault names, as Call.Fault reports them.
const (
	Fault503  = "503"
	Fault409  = "409"
	FaultCut  = "cut"
	FaultSlow = "slow"
	Fault403  = "403"
)

// API names, as Call.API and MaxConcurrent know them. Each has its own
// limit counters, as each Qualys endpoint has.
const (
	APIKB         = "kb"
	APIHostList   = "hostlist"
	APIDetections = "detections"
	APINVD        = "nvd"
	APIKEV        = "kev"
	APIEPSS       = "epss"
)

// Paths the double serves, exactly as the real services spell them.
const (
	PathKB         = "/api/2.0/fo/knowledge_base/vuln/"
	PathHostList   = "/api/2.0/fo/asset/host/"
	PathDetections = "/api/2.0/fo/asset/host/vm/detection/"
	PathNVD        = "/rest/json/cves/2.0"
	PathKEV        = "/kev/known_exploited_vulnerabilities.json"
	PathEPSS       = "/epss/epss_scores-current.csv.gz"
)

// Call is one request as the double saw it.
type Call struct {
	Time       time.Time
	API        string     // "kb", "hostlist", "detections", "nvd", "kev", "epss"
	Method     string     // GET or POST
	Params     url.Values // form and query parameters merged
	Status     int        // HTTP status answered (200 also for a cut or slow body)
	Fault      string     // "" or the injected fault: "503", "409", "cut", "slow", "403"
	Concurrent int        // calls of the API running when it started, itself included if admitted
}

// Server is the double. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	data *gen.Dataset

	mu         sync.Mutex
	epoch      int
	advancedAt time.Time // for Now: the clock runs from the last Advance
	faults     Faults
	calls      []Call
	apis       map[string]*apiState

	nvdCache nvdCache

	bodyMu sync.Mutex
	bodies map[string][]byte // CacheBodies

	srv  *http.Server
	base string
}

// New builds a server over the data set cfg.Data describes, at epoch 0.
func New(cfg Config) *Server {
	if cfg.Username == "" {
		cfg.Username = "demo"
	}
	if cfg.Password == "" {
		cfg.Password = "demo"
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 2
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 300
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = time.Hour
	}
	if cfg.TruncationLimit <= 0 {
		cfg.TruncationLimit = 1000
	}
	s := &Server{
		cfg:        cfg,
		data:       gen.New(cfg.Data),
		advancedAt: time.Now(),
		faults:     cfg.Faults,
		apis:       map[string]*apiState{},
	}
	for _, name := range []string{APIKB, APIHostList, APIDetections, APINVD, APIKEV, APIEPSS} {
		s.apis[name] = &apiState{name: name, salt: salt(name)}
	}
	return s
}

// Dataset returns the data set the server serves, for tests that compare
// responses with what gen says.
func (s *Server) Dataset() *gen.Dataset { return s.data }

// ServeHTTP serves both APIs. Paths are matched with or without their
// trailing slash; anything else is a plain 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimSuffix(r.URL.Path, "/") + "/" {
	case PathKB:
		s.serveQualys(w, r, &kbAPI)
	case PathHostList:
		s.serveQualys(w, r, &hostListAPI)
	case PathDetections:
		s.serveQualys(w, r, &detectionAPI)
	case PathNVD + "/":
		s.serveNVD(w, r)
	case PathKEV + "/":
		s.serveFeed(w, r, APIKEV)
	case PathEPSS + "/":
		s.serveFeed(w, r, APIEPSS)
	default:
		http.NotFound(w, r)
	}
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
// It returns the base URL, e.g. "http://127.0.0.1:34567".
func (s *Server) Start(addr string) (baseURL string, err error) {
	if s.srv != nil {
		return "", errors.New("sim: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	s.base = "http://" + ln.Addr().String()
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close
	return s.base, nil
}

// Close stops a server started with Start, closing open connections.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// BaseURL returns what Start returned ("" before Start).
func (s *Server) BaseURL() string { return s.base }

// NVDURL returns the NVD endpoint's URL on the started server.
func (s *Server) NVDURL() string { return s.base + PathNVD }

// Advance moves the data set one epoch (one day) on: detections get fixed
// and reopened, hosts appear, KB entries and CVEs change, new CVEs are
// published. gen models all of it; calls in flight finish on the epoch
// they started with.
func (s *Server) Advance() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.advancedAt = time.Now()
}

// Epoch returns the current epoch.
func (s *Server) Epoch() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// Now returns the double's clock: the data set's time at the current epoch
// plus the time elapsed since the last Advance (or New), capped just short
// of a day so that it never passes the next epoch's time and never runs
// backwards. Responses are stamped with it (Qualys DATETIME, NVD
// timestamp), so successive syncs see increasing times.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	e, t0 := s.epoch, s.advancedAt
	s.mu.Unlock()
	return s.nowAt(e, t0)
}

func (s *Server) nowAt(epoch int, since time.Time) time.Time {
	el := min(time.Since(since), 24*time.Hour-time.Second)
	return s.data.Now(epoch).Add(el)
}

// snapshot returns the epoch a call works on and the double's time then.
func (s *Server) snapshot() (int, time.Time) {
	s.mu.Lock()
	e, t0 := s.epoch, s.advancedAt
	s.mu.Unlock()
	return e, s.nowAt(e, t0)
}

// Log returns every call so far, in arrival order.
func (s *Server) Log() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// MaxConcurrent returns the highest number of calls of an API ("kb",
// "hostlist", "detections", "nvd") that ran at once over the server's
// life. Calls refused for a limit are not counted.
func (s *Server) MaxConcurrent(api string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apis[api]; a != nil {
		return a.max
	}
	return 0
}

// SetFaults replaces the fault settings. Sequence numbers run on, so a
// fault pattern depends on the calls made since New, not since SetFaults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// logStart records a call and returns its index for logEnd.
func (s *Server) logStart(api string, r *http.Request, params url.Values) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Time: time.Now(), API: api, Method: r.Method, Params: params})
	return len(s.calls) - 1
}

// callResult is what a handler learns about its call as it goes; logEnd
// stores it, from a deferred call so that a cut (a panic) is logged too.
type callResult struct {
	status     int
	fault      string
	concurrent int
}

func (s *Server) logEnd(i int, res *callResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.calls[i]
	c.Status, c.Fault, c.Concurrent = res.status, res.fault, res.concurrent
}

// baseOf returns the scheme and host the request was sent to, for absolute
// URLs in responses (the 1980 warning's next-page URL).
func baseOf(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
