package qualys

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"qvt/internal/idle"
	"qvt/internal/retry"
	"qvt/internal/version"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API endpoints the client calls.
const (
	EndpointHostList   = "/api/2.0/fo/asset/host/"
	EndpointKB         = "/api/2.0/fo/knowledge_base/vuln/"
	EndpointDetections = "/api/2.0/fo/asset/host/vm/detection/"
)

// ClientConfig configures a Client. Zero fields take the defaults given.
type ClientConfig struct {
	// NoGzip asks for uncompressed bodies: on loopback (the API double)
	// compressing only costs CPU on both ends.
	NoGzip bool

	// BaseURL is the API server, e.g. https://qualysapi.qualys.eu
	// (QUALYS_API_URL, or PlatformURL(QUALYS_PLATFORM)). It must be
	// http(s), name a host and carry no credentials.
	BaseURL            string
	Username, Password string
	// HTTP is the client to send requests with. The default honours
	// HTTPS_PROXY/NO_PROXY, times out connecting and TLS handshakes after
	// ConnectTimeout and waiting for response headers after ReadTimeout,
	// and does not follow redirects.
	HTTP           *http.Client
	ConnectTimeout time.Duration // default 30s
	// ReadTimeout is the longest silence allowed while waiting for a
	// response or reading its body; the attempt is then abandoned and
	// retried. Default 5m.
	ReadTimeout time.Duration
	// Concurrency is the number of calls per endpoint at once. 0 takes it
	// from X-Concurrency-Limit-Limit: the limit − 1, at least 1 (and 1
	// until the first response). A configured number above the Qualys
	// limit is lowered to the limit.
	Concurrency int
	MaxAttempts int           // attempts per request (page), default 8
	BaseDelay   time.Duration // backoff: first ceiling, default 2s
	MaxDelay    time.Duration // backoff: largest ceiling, default 5m; each wait is drawn in [ceiling/2, ceiling] (retry.Backoff)
	UserAgent   string        // default "qvt/<version>"
	// ConnectBudget is how long a request keeps retrying a server it
	// cannot reach (connection refused, unknown host): the attempts and
	// the waits between them; then it fails naming the URL. Default
	// retry.DefaultConnectBudget (10s).
	ConnectBudget time.Duration
	// MaxWait is the longest wait Qualys may ask for (409 code 1965,
	// X-RateLimit-ToWait-Sec, Retry-After): a call asked to wait longer
	// fails with the reason rather than sleep. Default
	// retry.DefaultMaxWait (10m).
	MaxWait time.Duration
	// BodyTimeout bounds the time spent waiting for one response body's
	// bytes, in all (the time decoding and the callback take is left
	// out): a server that trickles bytes fails the call then (it is not
	// retried). Default retry.DefaultBodyTimeout (30m).
	BodyTimeout time.Duration
	// MaxIDs bounds the ids one HostIDs or KBIDs call may collect, all
	// pages together (8 bytes each): a longer list fails naming the URL.
	// Default DefaultMaxIDs.
	MaxIDs int
	// Limits bound what one KnowledgeBase or detection response may make
	// the decoder read and hold; zero fields take DefaultLimits.
	Limits Limits
	// Log receives a line per retry (Info, with the reason, the endpoint
	// and the attempt) and per page (Debug). It never sees the password.
	Log *slog.Logger
	// Sleep waits d or until ctx is done; injectable for tests. Default a
	// context-aware timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the Qualys VM API v2: host list, KnowledgeBase and host list
// detection. It is safe for concurrent use; calls share its governor, which
// keeps them within the subscription's concurrency and rate limits.
//
// Every request is a POST with the parameters in a form body (never in the
// URL), HTTP Basic auth, X-Requested-With and Accept-Encoding: gzip. Bodies
// are decoded as they stream in.
//
// Retries: a request is retried, up to MaxAttempts times, on 409 with code
// 1960 (concurrency) or 1965 (rate, after the wait Qualys asks for), on 202,
// 429 and 5xx, on connection errors, on ReadTimeout of silence and on a body
// that ends early. A retried page delivers its records again, including
// those the callback already saw before the cut: callbacks must be
// idempotent (the store upserts). 401, 403, 400 and other errors fail at
// once, as does an error returned by the callback, which is returned as it
// is. Limits end a call with the reason rather than let it hang: a server
// that cannot be reached is retried for ConnectBudget only, a wait asked
// for beyond MaxWait is not slept, and a response that takes longer than
// BodyTimeout is abandoned.
type Client struct {
	cfg  ClientConfig
	base string // BaseURL without a trailing slash
	http *http.Client
	log  *slog.Logger
	gov  *governor

	mu    sync.Mutex
	stats Stats
}

// Stats counts a client's requests.
type Stats struct {
	Calls    int            // HTTP requests sent
	Retries  int            // requests repeated after a retryable failure
	ByReason map[string]int // retries by reason, e.g. "http_503", "concurrency_limit", "incomplete_body"
	// The last values the Qualys headers reported (0 before any).
	ConcurrencyLimit, RateLimit, RateRemaining int
}

// Error is a failed Qualys call.
type Error struct {
	Endpoint string // the API path, e.g. "/api/2.0/fo/knowledge_base/vuln/"
	Status   int    // HTTP status of the last response; 0 if none came
	Code     int    // Qualys error code (SIMPLE_RETURN), 0 if none
	Attempts int    // attempts made when retries ran out, else 0
	Msg      string
	Err      error // the cause: an *APIError, a network or decoding error; may be nil
}

func (e *Error) Error() string { return "qualys " + e.Endpoint + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

var (
	errReadTimeout = errors.New("read timeout")
	errBodyTimeout = errors.New("response deadline")
)

// DefaultMaxIDs is the default ClientConfig.MaxIDs: ten times the hosts
// of a large subscription, 80 MB of ids.
const DefaultMaxIDs = 10_000_000

// NewClient checks cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Username == "" && cfg.Password == "":
		return nil, errors.New("qualys: no credentials (set QUALYS_USERNAME and QUALYS_PASSWORD)")
	case cfg.Username == "":
		return nil, errors.New("qualys: no username (set QUALYS_USERNAME)")
	case cfg.Password == "":
		return nil, errors.New("qualys: no password (set QUALYS_PASSWORD)")
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("qualys: concurrency %d is negative", cfg.Concurrency)
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("qualys: max wait %v is negative", cfg.MaxWait)
	}
	if cfg.ConnectBudget <= 0 {
		cfg.ConnectBudget = retry.DefaultConnectBudget
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = retry.DefaultMaxWait
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = retry.DefaultBodyTimeout
	}
	if cfg.MaxIDs <= 0 {
		cfg.MaxIDs = DefaultMaxIDs
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 5 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 2 * time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Minute
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = version.UserAgent()
	}
	if cfg.Sleep == nil {
		cfg.Sleep = retry.Sleep
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = defaultHTTPClient(cfg.ConnectTimeout, cfg.ReadTimeout)
	}
	c := &Client{
		cfg:  cfg,
		base: base,
		// A client that follows redirects (one passed in) never takes
		// the password to another origin.
		http: retry.KeepCredentials(hc, "Authorization"),
		log:  log,
		gov:  newGovernor(cfg.Concurrency, cfg.MaxWait, cfg.Sleep),
	}
	c.gov.log = log
	u, _ := url.Parse(base)
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		log.Warn("qualys: the API URL is plain http: credentials travel unencrypted", "url", base)
	}
	return c, nil
}

func checkBaseURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("qualys: no API URL (set QUALYS_API_URL or QUALYS_PLATFORM)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("qualys: bad API URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("qualys: API URL %q must start with https:// (or http://)", u.Redacted())
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("qualys: API URL %q names no host", u.Redacted())
	case u.User != nil:
		return "", fmt.Errorf("qualys: API URL %q must not carry credentials (set QUALYS_USERNAME/QUALYS_PASSWORD)", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("qualys: API URL %q must not have a query or fragment", u.Redacted())
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultHTTPClient(connect, read time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = connect
	t.ResponseHeaderTimeout = read
	t.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: t,
		// A redirect from the API means a wrong URL; following it would
		// turn the POST into a GET and lose the form.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Stats returns a copy of the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.ByReason = make(map[string]int, len(c.stats.ByReason))
	for k, v := range c.stats.ByReason {
		s.ByReason[k] = v
	}
	return s
}

// HostIDs lists the ids of the hosts matching params (e.g.
// vm_processed_after): action=list details=None truncation_limit=0 on the
// host list API, following WARNING URLs if the server pages anyway. The ids
// come back sorted, without duplicates.
func (c *Client) HostIDs(ctx context.Context, params url.Values) ([]int64, error) {
	form := url.Values{"truncation_limit": {"0"}}
	for k, v := range params {
		form[k] = slices.Clone(v)
	}
	return listIDs[int64](ctx, c, EndpointHostList, RootHostList, form)
}

// KBIDs lists the QIDs of the KnowledgeBase entries matching params
// (action=list details=None: an ID_SET of ID and ID_RANGE), following
// WARNING URLs if any. The QIDs come back sorted, without duplicates.
func (c *Client) KBIDs(ctx context.Context, params url.Values) ([]int, error) {
	return listIDs[int](ctx, c, EndpointKB, RootKB, cloneForm(params))
}

// listIDs runs a list call with details=None and returns the ids of its
// ID_SETs, sorted, without duplicates. It holds at most MaxIDs ids: a few
// ID_RANGEs can name billions.
func listIDs[T int | int64](ctx context.Context, c *Client, endpoint, root string, form url.Values) ([]T, error) {
	form.Set("action", "list")
	form.Set("details", "None")
	var all []T
	done := 0 // ids of the pages that succeeded; a retried page starts over from there
	_, err := c.paged(ctx, endpoint, form, func(r io.Reader, _ *fnGuard) (Response, error) {
		all = all[:done]
		return decodeIDSet(r, root, func(lo, hi int64) error {
			if n := int64(len(all)) + hi - lo + 1; n > int64(c.cfg.MaxIDs) {
				return &fnError{&Error{Endpoint: endpoint, Msg: fmt.Sprintf(
					"%s lists more than %d ids (%d so far), the most a list may hold", c.base+endpoint, c.cfg.MaxIDs, n)}}
			}
			for id := lo; id <= hi; id++ {
				all = append(all, T(id))
			}
			return nil
		})
	}, func() { done = len(all) })
	if err != nil {
		return nil, err
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// KB streams the KnowledgeBase (action=list plus params, e.g. details=All,
// last_modified_after, id_min/id_max) to fn, following WARNING URLs if
// any. It returns the first page's Response: its Datetime is the server
// time when the call started. fn must be idempotent: a page retried after a
// cut delivers its vulns again.
func (c *Client) KB(ctx context.Context, params url.Values, fn func(*Vuln) error) (Response, error) {
	form := cloneForm(params)
	form.Set("action", "list")
	return c.paged(ctx, EndpointKB, form, func(r io.Reader, g *fnGuard) (Response, error) {
		return c.cfg.Limits.DecodeKB(r, func(v *Vuln) error { g.enter(); return g.leave(fn(v)) })
	}, nil)
}

// Detections streams host list detection (action=list plus params, e.g.
// ids, status, show_reopened_info, vm_processed_after, truncation_limit)
// to fn, one host with its detections at a time, following each page's
// WARNING URL until none remains. It returns the first page's Response:
// its Datetime is the server time when the call started, the watermark for
// the next incremental sync. fn must be idempotent: a page retried after a
// cut delivers its hosts again.
func (c *Client) Detections(ctx context.Context, params url.Values, fn func(*Host) error) (Response, error) {
	form := cloneForm(params)
	form.Set("action", "list")
	return c.paged(ctx, EndpointDetections, form, func(r io.Reader, g *fnGuard) (Response, error) {
		return c.cfg.Limits.DecodeDetectionsTimed(r, func(_ string, h *Host) error { g.enter(); return g.leave(fn(h)) })
	}, nil)
}

func cloneForm(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// fnError marks an error returned by the caller's callback, so that it is
// told apart from decoding errors and returned unwrapped.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

// decodeFunc decodes a response body, calling the caller's callback
// between g.enter and g.leave.
type decodeFunc func(r io.Reader, g *fnGuard) (Response, error)

// fnGuard stops the read timeout while the callback runs (a slow store
// is not a silent server) and marks the callback's errors.
type fnGuard struct {
	timer *time.Timer
	d     time.Duration
}

func (g *fnGuard) enter() { g.timer.Stop() }

func (g *fnGuard) leave(err error) error {
	g.timer.Reset(g.d)
	if err == nil {
		return nil
	}
	return &fnError{err}
}

// paged runs a call and then one per WARNING URL until a page has none.
// done, if not nil, runs after each page that succeeded. The result is the
// first page's Response, with the Warning of the last page (nil unless it
// carried no URL to follow).
func (c *Client) paged(ctx context.Context, endpoint string, form url.Values, decode decodeFunc, done func()) (Response, error) {
	var first Response
	for page := 1; ; page++ {
		resp, err := c.call(ctx, endpoint, form, decode)
		if err != nil {
			return Response{}, err
		}
		if done != nil {
			done()
		}
		if page == 1 {
			first = resp
		}
		w := resp.Warning
		if w == nil || strings.TrimSpace(w.URL) == "" {
			if w != nil {
				c.log.Warn("qualys: response warning", "endpoint", endpoint, "code", w.Code, "text", w.Text)
			}
			first.Warning = w
			return first, nil
		}
		next, err := nextForm(endpoint, form, w.URL)
		if err != nil {
			return Response{}, &Error{Endpoint: endpoint, Msg: err.Error()}
		}
		c.log.Debug("qualys: next page", "endpoint", endpoint, "page", page+1, "id_min", next.Get("id_min"))
		form = next
	}
}

// nextForm builds the form of the page a WARNING URL points to: the
// current form with the URL's query parameters laid over it (the URL
// normally repeats them all and adds id_min). The URL's host is ignored:
// the next page is asked of the configured server, never of another one.
func nextForm(endpoint string, cur url.Values, raw string) (url.Values, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("unreadable WARNING URL: %v", err)
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" && !strings.HasSuffix(p, strings.TrimRight(endpoint, "/")) {
		return nil, fmt.Errorf("WARNING URL points to another API (%s)", u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("unreadable WARNING URL query: %v", err)
	}
	if len(q) == 0 {
		return nil, errors.New("WARNING URL has no parameters")
	}
	next := cloneForm(cur)
	for k, v := range q {
		next[k] = v
	}
	if next.Encode() == cur.Encode() {
		return nil, errors.New("WARNING URL repeats the request just made (the server is not paging forward)")
	}
	return next, nil
}

// failure is one attempt that did not succeed.
type failure struct {
	err    *Error
	retry  bool
	reason string        // stats key of a retryable failure
	wait   time.Duration // a wait the server asked for; 0: back off
	hold   bool          // apply wait as a governor hold on the endpoint
}

// call sends one request (one page), retrying as the Client doc says.
func (c *Client) call(ctx context.Context, endpoint string, form url.Values, decode decodeFunc) (Response, error) {
	var unreachable time.Duration // spent on attempts that could not connect, and the waits after them
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, f, err := c.attempt(ctx, endpoint, form, decode)
		if err != nil {
			return Response{}, err
		}
		if f == nil {
			return resp, nil
		}
		if !f.retry {
			return Response{}, f.err
		}
		if attempt >= c.cfg.MaxAttempts {
			e := *f.err
			e.Attempts = attempt
			e.Msg = fmt.Sprintf("giving up after %d attempts; last: %s", attempt, f.err.Msg)
			return Response{}, &e
		}
		wait := f.wait
		if wait <= 0 {
			wait = retry.Backoff(c.cfg.BaseDelay, c.cfg.MaxDelay, attempt)
		}
		if f.hold && wait-holdMargin > c.cfg.MaxWait {
			e := *f.err
			e.Msg = fmt.Sprintf("Qualys asks to wait %v before the next call, more than the %v allowed (--max-wait): %s",
				wait-holdMargin, c.cfg.MaxWait, f.err.Msg)
			return Response{}, &e
		}
		if f.reason == "connection" && retry.IsConnect(f.err.Err) {
			// A server that cannot be reached is given a short budget,
			// not the retries meant for a busy one.
			unreachable += time.Since(start)
			left := c.cfg.ConnectBudget - unreachable
			if left <= 0 {
				e := *f.err
				e.Attempts = attempt
				e.Msg = fmt.Sprintf("cannot reach %s (%d attempts in %v): %v", c.base+endpoint, attempt,
					unreachable.Round(time.Millisecond), unwrapURLError(f.err.Err))
				return Response{}, &e
			}
			wait = min(wait, left)
			unreachable += wait
		}
		c.mu.Lock()
		c.stats.Retries++
		if c.stats.ByReason == nil {
			c.stats.ByReason = map[string]int{}
		}
		c.stats.ByReason[f.reason]++
		c.mu.Unlock()
		c.log.Info("qualys: retrying", "endpoint", endpoint, "attempt", attempt+1, "max_attempts", c.cfg.MaxAttempts,
			"reason", f.err.Msg, "wait", wait.Round(time.Millisecond))
		if f.hold {
			// The governor makes this call, and every other one to the
			// endpoint, wait.
			c.gov.hold(endpoint, wait, f.err.Msg)
			continue
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return Response{}, fmt.Errorf("qualys %s: %w", endpoint, err)
		}
	}
}

// unwrapURLError is the cause of a *url.Error (whose text repeats the
// URL, which the caller names anyway).
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// attempt sends the request once. It returns the decoded Response, or a
// failure to retry or report, or an error that ends the call at once (the
// context is done, or fn failed).
func (c *Client) attempt(ctx context.Context, endpoint string, form url.Values, decode decodeFunc) (Response, *failure, error) {
	slot, err := c.gov.acquire(ctx, endpoint)
	if e, ok := errors.AsType[*Error](err); ok {
		return Response{}, nil, e
	}
	if err != nil {
		return Response{}, nil, fmt.Errorf("qualys %s: %w", endpoint, err)
	}
	defer slot.release()

	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(c.cfg.ReadTimeout, func() { cancel(errReadTimeout) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.base+endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return Response{}, nil, &Error{Endpoint: endpoint, Msg: err.Error(), Err: err}
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Requested-With", "qvt")
	if c.cfg.NoGzip {
		req.Header.Set("Accept-Encoding", "identity")
	} else {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	c.mu.Lock()
	c.stats.Calls++
	c.mu.Unlock()
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Response{}, nil, fmt.Errorf("qualys %s: %w", endpoint, ctx.Err())
		}
		if errors.Is(context.Cause(actx), errReadTimeout) {
			return Response{}, c.retry("read_timeout", endpoint, 0, fmt.Sprintf("no response within %v", c.cfg.ReadTimeout), err), nil
		}
		return Response{}, c.retry("connection", endpoint, 0, "connection error: "+err.Error(), err), nil
	}
	defer res.Body.Close()

	l := parseLimits(res.Header)
	c.gov.observe(slot, l)
	c.recordLimits(l)
	c.log.Debug("qualys: response", "endpoint", endpoint, "status", res.StatusCode,
		"rate_remaining", l.RateRemaining, "rate_limit", l.RateLimit, "to_wait_sec", l.ToWait,
		"concurrency_limit", l.Concurrency, "running", l.Running, "slots", c.gov.slots(endpoint))

	body := idle.NewReader(idle.NewDeadlineReader(res.Body, c.cfg.BodyTimeout, func() { cancel(errBodyTimeout) }), timer, c.cfg.ReadTimeout)
	r, err := decodedBody(res, body)
	if res.StatusCode != http.StatusOK {
		if err != nil {
			r = strings.NewReader("") // classify by the status alone
		}
		return Response{}, c.statusFailure(slot, endpoint, res, r, l), nil
	}
	if err != nil {
		return Response{}, c.bodyFailure(ctx, actx, endpoint, res.StatusCode, body, err), nil
	}

	resp, err := decode(r, &fnGuard{timer: timer, d: c.cfg.ReadTimeout})
	if err != nil {
		if fe, ok := errors.AsType[*fnError](err); ok {
			return Response{}, nil, fe.err
		}
		if ctx.Err() != nil {
			return Response{}, nil, fmt.Errorf("qualys %s: %w", endpoint, ctx.Err())
		}
		if apiErr, ok := errors.AsType[*APIError](err); ok {
			return Response{}, c.apiFailure(slot, endpoint, res.StatusCode, apiErr, l), nil
		}
		return Response{}, c.bodyFailure(ctx, actx, endpoint, res.StatusCode, body, err), nil
	}
	// Read what follows the root element, so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	return resp, nil, nil
}

// bodyTimeout is the failure of a response that took longer than
// BodyTimeout: not retried, as the next attempt would likely crawl too.
func (c *Client) bodyTimeout(endpoint string, status int, cause error) *failure {
	return c.fail(endpoint, status, 0, fmt.Sprintf("%s: the response body took longer than %v to arrive (the server sends too slowly)",
		c.base+endpoint, c.cfg.BodyTimeout), cause)
}

func (c *Client) recordLimits(l limits) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.Concurrency >= 0 {
		c.stats.ConcurrencyLimit = l.Concurrency
	}
	if l.RateLimit >= 0 {
		c.stats.RateLimit = l.RateLimit
	}
	if l.RateRemaining >= 0 {
		c.stats.RateRemaining = l.RateRemaining
	}
}

func (c *Client) retry(reason, endpoint string, status int, msg string, cause error) *failure {
	return &failure{retry: true, reason: reason, err: &Error{Endpoint: endpoint, Status: status, Msg: msg, Err: cause}}
}

func (c *Client) fail(endpoint string, status, code int, msg string, cause error) *failure {
	return &failure{err: &Error{Endpoint: endpoint, Status: status, Code: code, Msg: msg, Err: cause}}
}

// bodyFailure classifies an error met while reading a response body.
func (c *Client) bodyFailure(ctx, actx context.Context, endpoint string, status int, body *idle.Reader, err error) *failure {
	switch {
	case ctx.Err() != nil:
		return c.fail(endpoint, status, 0, ctx.Err().Error(), ctx.Err())
	case errors.Is(context.Cause(actx), errReadTimeout):
		return c.retry("read_timeout", endpoint, status, fmt.Sprintf("no data for %v while reading the response", c.cfg.ReadTimeout), err)
	case errors.Is(context.Cause(actx), errBodyTimeout):
		return c.bodyTimeout(endpoint, status, err)
	case body.N() == 0:
		return c.retry("empty_body", endpoint, status, "empty response body", err)
	case errors.Is(err, ErrIncomplete), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
		return c.retry("incomplete_body", endpoint, status, "response cut off mid-stream: "+err.Error(), err)
	}
	var se *SyntaxError
	var we *WrongKindError
	switch {
	case errors.As(err, &se), errors.As(err, &we), errors.Is(err, gzip.ErrHeader), errors.Is(err, errEncoding):
		return c.fail(endpoint, status, 0, "malformed response: "+err.Error(), err)
	}
	// Anything else came from reading the connection.
	return c.retry("connection", endpoint, status, "reading the response: "+err.Error(), err)
}

// statusFailure classifies a response other than 200 OK.
func (c *Client) statusFailure(slot *ticket, endpoint string, res *http.Response, r io.Reader, l limits) *failure {
	apiErr, _ := DecodeSimpleReturn(io.LimitReader(r, 1<<20))
	if apiErr != nil && (apiErr.Code == 1960 || apiErr.Code == 1965) {
		return c.apiFailure(slot, endpoint, res.StatusCode, apiErr, l)
	}
	code, text := 0, ""
	var cause error
	if apiErr != nil {
		code, text, cause = apiErr.Code, apiErr.Text, apiErr
	}
	status := res.StatusCode
	statusText := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	withText := statusText
	if text != "" {
		withText = fmt.Sprintf("%s: %s (code %d)", statusText, text, code)
	}
	switch {
	case status == http.StatusUnauthorized:
		return c.fail(endpoint, status, code, fmt.Sprintf(
			"Qualys rejected the credentials for %s at %s (check QUALYS_USERNAME/QUALYS_PASSWORD and the platform)",
			c.cfg.Username, c.base), cause)
	case status == http.StatusForbidden:
		return c.fail(endpoint, status, code, fmt.Sprintf(
			"Qualys refused access for %s at %s: the user is inactive, or API access is not enabled for it or the subscription (%s)",
			c.cfg.Username, c.base, withText), cause)
	case status == http.StatusBadRequest:
		return c.fail(endpoint, status, code, "Qualys rejected the request: "+withText, cause)
	case status == http.StatusConflict, status == http.StatusAccepted, status == http.StatusTooManyRequests, status >= 500:
		f := c.retry("http_"+strconv.Itoa(status), endpoint, status, withText, cause)
		f.err.Code = code
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if d := serverWait(res.Header, l, apiErr); d > 0 {
				f.wait, f.hold = d, true
			}
		}
		return f
	case status >= 300 && status < 400:
		return c.fail(endpoint, status, code, fmt.Sprintf("%s to %q: check the API URL", statusText, res.Header.Get("Location")), cause)
	}
	return c.fail(endpoint, status, code, withText, cause)
}

// apiFailure classifies a SIMPLE_RETURN error.
func (c *Client) apiFailure(slot *ticket, endpoint string, status int, e *APIError, l limits) *failure {
	msg := fmt.Sprintf("Qualys error %d: %s", e.Code, e.Text)
	if status != http.StatusOK {
		msg = fmt.Sprintf("HTTP %d, %s", status, msg)
	}
	switch e.Code {
	case 1960:
		c.gov.refused(slot)
		f := c.retry("concurrency_limit", endpoint, status, "concurrency limit reached: "+msg, e)
		f.err.Code = e.Code
		return f
	case 1965:
		f := c.retry("rate_limit", endpoint, status, "rate limit reached: "+msg, e)
		f.err.Code = e.Code
		if d := serverWait(nil, l, e); d > 0 {
			f.wait, f.hold = d, true
		}
		return f
	}
	return c.fail(endpoint, status, e.Code, msg, e)
}

// serverWait is the wait a response asks for: X-RateLimit-ToWait-Sec, the
// SECONDS_TO_WAIT item of a SIMPLE_RETURN or Retry-After seconds,
// whichever is longest, plus a margin; 0 if none is given.
func serverWait(h http.Header, l limits, e *APIError) time.Duration {
	secs := max(l.ToWait, 0)
	if e != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(e.Items["SECONDS_TO_WAIT"])); err == nil {
			secs = max(secs, n)
		}
	}
	if h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil {
			secs = max(secs, n)
		}
	}
	if secs <= 0 {
		return 0
	}
	return time.Duration(secs)*time.Second + holdMargin
}

var errEncoding = errors.New("unsupported Content-Encoding")

// decodedBody returns the body to decode: gunzipped when the server sent
// it compressed (the request asks for gzip itself, so the transport leaves
// the decompression to us).
func decodedBody(res *http.Response, body io.Reader) (io.Reader, error) {
	switch enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		return zr, nil
	default:
		return nil, fmt.Errorf("%w %q", errEncoding, enc)
	}
}

// maxRangeIDs bounds one ID_RANGE, so that a corrupt range cannot exhaust
// memory.
const maxRangeIDs = 50_000_000

// decodeIDSet streams a list response with details=None, whose root is
// root (HOST_LIST_OUTPUT or KNOWLEDGE_BASE_VULN_LIST_OUTPUT):
// ROOT/RESPONSE/ID_SET of ID and ID_RANGE "first-last". It calls fn for each
// id or range. A SIMPLE_RETURN body is an *APIError.
func decodeIDSet(r io.Reader, root string, fn func(lo, hi int64) error) (Response, error) {
	s := newScanner(r)
	if err := open(s, root); err != nil {
		return Response{}, err
	}
	return decodeList(s, "ID_SET", func() error {
		switch s.name {
		case "ID":
			id, err := s.int()
			if err != nil {
				return err
			}
			if id <= 0 {
				return s.errorf("id %d is not positive", id)
			}
			return fn(id, id)
		case "ID_RANGE":
			b, err := s.textBytes()
			if err != nil {
				return err
			}
			txt := strings.TrimSpace(string(b))
			a, z, ok := strings.Cut(txt, "-")
			lo, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
			hi, err2 := strconv.ParseInt(strings.TrimSpace(z), 10, 64)
			switch {
			case !ok || err1 != nil || err2 != nil:
				return s.errorf("ID_RANGE %q is not first-last", abbreviate(b, 40))
			case lo <= 0 || hi < lo:
				return s.errorf("ID_RANGE %q is empty or not positive", txt)
			case hi-lo >= maxRangeIDs:
				return s.errorf("ID_RANGE %q spans more than %d ids", txt, maxRangeIDs)
			}
			return fn(lo, hi)
		}
		return s.skip()
	})
}
