package nvd

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
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is the NVD CVE API 2.0 endpoint.
const DefaultBaseURL = "https://services.nvd.nist.gov/rest/json/cves/2.0"

// MaxPageSize is the largest resultsPerPage the CVE API accepts.
const MaxPageSize = 2000

// MaxWindow is the longest lastModStartDate…lastModEndDate range the API
// accepts: 120 consecutive days.
const MaxWindow = 120 * 24 * time.Hour

// ClientConfig configures a Client. Zero fields take the defaults given.
type ClientConfig struct {
	BaseURL string // default DefaultBaseURL (NVD_API_URL)
	// APIKey (NVD_API_KEY) is sent as the apiKey request header, never in
	// the URL, and never logged.
	APIKey string
	// HTTP is the client to send requests with. The default honours
	// HTTPS_PROXY/NO_PROXY and times out connecting after ConnectTimeout
	// and waiting for response headers after ReadTimeout.
	HTTP           *http.Client
	ConnectTimeout time.Duration // default 30s
	// ReadTimeout is the longest silence allowed while waiting for a
	// response or reading its body; the attempt is then retried. Default 5m.
	ReadTimeout time.Duration
	PageSize    int           // resultsPerPage, default (and at most) 2000
	Requests    int           // requests per Window: default 5 without a key, 50 with one
	Window      time.Duration // the rolling window, default 30s
	MaxAttempts int           // attempts per page, default 8
	BaseDelay   time.Duration // backoff: first ceiling, default 2s
	MaxDelay    time.Duration // backoff: largest ceiling, default 5m; each wait is drawn in [ceiling/2, ceiling] (retry.Backoff)
	// ConnectBudget is how long a page keeps retrying a server it cannot
	// reach (connection refused, unknown host): the attempts and the
	// waits between them; then it fails naming the URL. Default
	// retry.DefaultConnectBudget (10s).
	ConnectBudget time.Duration
	// MaxWait is the longest Retry-After NVD may ask for: a longer one
	// fails the call with the reason rather than sleep. Default
	// retry.DefaultMaxWait (10m).
	MaxWait time.Duration
	// BodyTimeout bounds the time spent waiting for one response body's
	// bytes, in all (the time decoding and the callback take is left
	// out): a server that trickles bytes fails the call then (it is not
	// retried). Default retry.DefaultBodyTimeout (30m).
	BodyTimeout time.Duration
	// Limits bound what one response may make the decoder hold; zero
	// fields take DefaultLimits.
	Limits Limits
	// Log receives a line per retry (Info) and per page (Debug).
	Log *slog.Logger
	// Sleep waits d or until ctx is done; injectable for tests. Default a
	// context-aware timer.
	Sleep     func(ctx context.Context, d time.Duration) error
	UserAgent string // default "qvt/<version>"
}

// Client reads the NVD CVE API 2.0. It is safe for concurrent use; calls
// share its rate limiter.
//
// Requests keep to Requests per rolling Window: the limiter remembers when
// the last Requests requests were sent and holds the next one until the
// oldest is Window old. Failed requests are retried with capped
// exponential backoff and jitter (retry.Backoff) on 403 (NVD's throttling answer), 429,
// 5xx, connection errors, ReadTimeout of silence and bodies that end
// early; other 4xx fail at once with NVD's message header. A page retried
// delivers its records again: callbacks must be idempotent. Limits end a
// call with the reason rather than let it hang: a server that cannot be
// reached is retried for ConnectBudget only, a Retry-After beyond MaxWait
// is not slept, and a response that takes longer than BodyTimeout is
// abandoned. The API key goes only to the API's origin: a redirect to
// another scheme, host or port is followed without it.
type Client struct {
	cfg  ClientConfig
	base *url.URL
	http *http.Client
	log  *slog.Logger
	lim  *slidingWindow
	now  func() time.Time

	mu    sync.Mutex
	stats Stats
}

// Stats counts a client's requests.
type Stats struct {
	Calls    int            // HTTP requests sent
	Retries  int            // requests repeated after a retryable failure
	ByReason map[string]int // retries by reason, e.g. "http_403", "incomplete_body"
}

// Query selects the records of a CVEs call. The zero Query is the whole
// data set; otherwise LastModStart is required and a zero LastModEnd means
// now.
type Query struct {
	LastModStart, LastModEnd time.Time
}

// Result sums up a CVEs call.
type Result struct {
	Pages   int // pages read (requests that succeeded)
	Records int // records delivered, each page counted once
	// Timestamp is the server's timestamp of the first page, verbatim (e.g.
	// "2025-01-01T00:00:00.000", UTC): the watermark of the next
	// incremental sync.
	Timestamp string
}

// Error is a failed NVD request.
type Error struct {
	URL      string // the request URL (the API key is never in it)
	Status   int    // HTTP status of the last response; 0 if none came
	Message  string // NVD's message header, if any
	Attempts int    // attempts made when retries ran out, else 0
	Msg      string
	Err      error
}

func (e *Error) Error() string { return "nvd: " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

var (
	errReadTimeout = errors.New("read timeout")
	errBodyTimeout = errors.New("response deadline")
)

// NewClient checks cfg and returns a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil {
		return nil, fmt.Errorf("nvd: bad API URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("nvd: API URL %q must start with https:// (or http://)", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("nvd: API URL %q names no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("nvd: API URL %q must not carry credentials", u.Redacted())
	case u.Query().Has("apiKey"):
		return nil, errors.New("nvd: the API URL must not carry the API key (set NVD_API_KEY)")
	case cfg.PageSize < 0 || cfg.PageSize > MaxPageSize:
		return nil, fmt.Errorf("nvd: page size %d is out of range 1..%d", cfg.PageSize, MaxPageSize)
	case cfg.Requests < 0:
		return nil, fmt.Errorf("nvd: requests per window %d is negative", cfg.Requests)
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("nvd: max wait %v is negative", cfg.MaxWait)
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
	u.Fragment = ""
	if cfg.PageSize == 0 {
		cfg.PageSize = MaxPageSize
	}
	if cfg.Requests == 0 {
		cfg.Requests = 5
		if cfg.APIKey != "" {
			cfg.Requests = 50
		}
	}
	if cfg.Window <= 0 {
		cfg.Window = 30 * time.Second
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
	if cfg.Sleep == nil {
		cfg.Sleep = retry.Sleep
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = version.UserAgent()
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTP
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		t.DialContext = (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = cfg.ConnectTimeout
		t.ResponseHeaderTimeout = cfg.ReadTimeout
		hc = &http.Client{Transport: t}
	}
	c := &Client{cfg: cfg, base: u, http: retry.KeepCredentials(hc, "apiKey"), log: log, now: time.Now}
	c.lim = &slidingWindow{n: cfg.Requests, window: cfg.Window, now: func() time.Time { return c.now() }}
	return c, nil
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

// timeWindow is one lastModStartDate…lastModEndDate range; the zero value
// means no date filter.
type timeWindow struct{ start, end time.Time }

// windows cuts q into ranges of at most MaxWindow, in order. Consecutive
// ranges share their boundary instant: a record modified exactly then may
// come twice, none is missed.
func windows(q Query, now time.Time) ([]timeWindow, error) {
	if q.LastModStart.IsZero() && q.LastModEnd.IsZero() {
		return []timeWindow{{}}, nil
	}
	if q.LastModStart.IsZero() {
		return nil, errors.New("nvd: a query with LastModEnd needs LastModStart")
	}
	start, end := q.LastModStart.UTC(), q.LastModEnd.UTC()
	if q.LastModEnd.IsZero() {
		end = now.UTC()
	}
	if end.Before(start) {
		return nil, fmt.Errorf("nvd: query ends (%s) before it starts (%s)", formatTime(end), formatTime(start))
	}
	var ws []timeWindow
	for {
		e := start.Add(MaxWindow)
		if !e.Before(end) {
			return append(ws, timeWindow{start, end}), nil
		}
		ws = append(ws, timeWindow{start, e})
		start = e
	}
}

// formatTime writes t as the API wants dates: extended ISO-8601 with
// milliseconds and an explicit UTC offset.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00"
}

// queryEscape escapes a parameter value: '+' must reach NVD as %2B (a raw
// '+' would read as a space); ':' is left as it is, as in NVD's examples.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "%3A", ":")
}

// pageURL is the URL of one page of a window.
func (c *Client) pageURL(w timeWindow, start int) string {
	u := *c.base
	var b strings.Builder
	b.WriteString(u.RawQuery)
	add := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(queryEscape(v))
	}
	if !w.start.IsZero() {
		add("lastModStartDate", formatTime(w.start))
		add("lastModEndDate", formatTime(w.end))
	}
	add("resultsPerPage", strconv.Itoa(c.cfg.PageSize))
	add("startIndex", strconv.Itoa(start))
	u.RawQuery = b.String()
	return u.String()
}

// CVEs streams the records of q to fn, page by page (startIndex,
// resultsPerPage) until startIndex reaches totalResults, which is re-read
// on every page. An incremental query is cut into windows of at most 120
// days, each paged in turn. fn must be idempotent: a page retried after a
// failure delivers its records again. An error returned by fn ends the call
// and is returned as it is.
func (c *Client) CVEs(ctx context.Context, q Query, fn func(*CVE) error) (Result, error) {
	var res Result
	ws, err := windows(q, c.now())
	if err != nil {
		return res, err
	}
	for _, w := range ws {
		for start := 0; ; {
			info, n, err := c.page(ctx, w, start, fn)
			if err != nil {
				return res, err
			}
			if res.Pages == 0 {
				res.Timestamp = info.Timestamp
			}
			res.Pages++
			res.Records += n
			start += n
			c.log.Debug("nvd: page", "start_index", start-n, "records", n, "total", info.TotalResults)
			if start >= info.TotalResults {
				break
			}
		}
	}
	return res, nil
}

// failure is one attempt that did not succeed.
type failure struct {
	err    *Error
	retry  bool
	reason string
	wait   time.Duration // the least wait before the retry
	asked  bool          // wait is what the server asked for (Retry-After)
}

// page reads one page, retrying. It returns the page's Info and the number
// of records it held.
func (c *Client) page(ctx context.Context, w timeWindow, start int, fn func(*CVE) error) (Info, int, error) {
	u := c.pageURL(w, start)
	var unreachable time.Duration // spent on attempts that could not connect, and the waits after them
	for attempt := 1; ; attempt++ {
		began := time.Now()
		info, n, f, err := c.attempt(ctx, u, start, fn)
		if err != nil {
			return info, 0, err
		}
		if f == nil {
			return info, n, nil
		}
		if !f.retry {
			return info, 0, f.err
		}
		if attempt >= c.cfg.MaxAttempts {
			e := *f.err
			e.Attempts = attempt
			e.Msg = fmt.Sprintf("giving up after %d attempts; last: %s", attempt, f.err.Msg)
			return info, 0, &e
		}
		if f.asked && f.wait > c.cfg.MaxWait {
			e := *f.err
			e.Msg = fmt.Sprintf("NVD asks to wait %v (Retry-After) before the next request, more than the %v allowed (--max-wait): %s",
				f.wait, c.cfg.MaxWait, f.err.Msg)
			return info, 0, &e
		}
		wait := max(f.wait, retry.Backoff(c.cfg.BaseDelay, c.cfg.MaxDelay, attempt))
		if f.reason == "connection" && retry.IsConnect(f.err.Err) {
			// A server that cannot be reached is given a short budget,
			// not the retries meant for a busy one.
			unreachable += time.Since(began)
			left := c.cfg.ConnectBudget - unreachable
			if left <= 0 {
				e := *f.err
				e.Attempts = attempt
				e.Msg = fmt.Sprintf("cannot reach %s (%d attempts in %v): %s", u, attempt,
					unreachable.Round(time.Millisecond), c.redact(unwrapURLError(f.err.Err).Error()))
				return info, 0, &e
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
		c.log.Info("nvd: retrying", "url", u, "attempt", attempt+1, "max_attempts", c.cfg.MaxAttempts,
			"reason", f.err.Msg, "wait", wait.Round(time.Millisecond))
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return info, 0, fmt.Errorf("nvd: %w", err)
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

// fnError marks an error returned by the caller's callback.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

func (c *Client) attempt(ctx context.Context, u string, start int, fn func(*CVE) error) (Info, int, *failure, error) {
	if d := c.lim.reserve(); d > 0 {
		c.log.Debug("nvd: rate limit wait", "wait", d.Round(time.Millisecond))
		if err := c.cfg.Sleep(ctx, d); err != nil {
			return Info{}, 0, nil, fmt.Errorf("nvd: %w", err)
		}
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(c.cfg.ReadTimeout, func() { cancel(errReadTimeout) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return Info{}, 0, nil, &Error{URL: u, Msg: err.Error(), Err: err}
	}
	if c.cfg.APIKey != "" {
		// Set as NVD spells it; Header.Set would send "Apikey".
		req.Header["apiKey"] = []string{c.cfg.APIKey}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	c.mu.Lock()
	c.stats.Calls++
	c.mu.Unlock()
	res, err := c.http.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return Info{}, 0, nil, fmt.Errorf("nvd: %w", ctx.Err())
		case errors.Is(context.Cause(actx), errReadTimeout):
			return Info{}, 0, c.retry("read_timeout", u, 0, fmt.Sprintf("GET %s: no response within %v", u, c.cfg.ReadTimeout), err), nil
		}
		return Info{}, 0, c.retry("connection", u, 0, "connection error: "+c.redact(err.Error()), err), nil
	}
	defer res.Body.Close()

	if res.StatusCode != http.StatusOK {
		return Info{}, 0, c.statusFailure(u, res), nil
	}
	body := idle.NewReader(idle.NewDeadlineReader(res.Body, c.cfg.BodyTimeout, func() { cancel(errBodyTimeout) }), timer, c.cfg.ReadTimeout)
	var r io.Reader = body
	switch enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Info{}, 0, c.bodyFailure(ctx, actx, u, body, err), nil
		}
		r = zr
	default:
		return Info{}, 0, &failure{err: &Error{URL: u, Status: res.StatusCode, Msg: fmt.Sprintf("GET %s: unsupported Content-Encoding %q", u, enc)}}, nil
	}

	n := 0
	info, err := c.cfg.Limits.Decode(r, func(cve *CVE) error {
		timer.Stop() // a slow store is not a silent server
		err := fn(cve)
		timer.Reset(c.cfg.ReadTimeout)
		if err != nil {
			return &fnError{err}
		}
		n++
		return nil
	})
	if err != nil {
		if fe, ok := errors.AsType[*fnError](err); ok {
			return info, 0, nil, fe.err
		}
		if ctx.Err() != nil {
			return info, 0, nil, fmt.Errorf("nvd: %w", ctx.Err())
		}
		return info, 0, c.bodyFailure(ctx, actx, u, body, err), nil
	}
	if info.Format != FormatAPI {
		return info, 0, &failure{err: &Error{URL: u, Status: res.StatusCode,
			Msg: fmt.Sprintf("GET %s: the response is not an NVD API 2.0 page (format %s)", u, info.Format)}}, nil
	}
	if n == 0 && start < info.TotalResults {
		return info, 0, c.retry("empty_page", u, res.StatusCode,
			fmt.Sprintf("GET %s: no records at startIndex %d of %d", u, start, info.TotalResults), nil), nil
	}
	return info, n, nil, nil
}

func (c *Client) retry(reason, u string, status int, msg string, cause error) *failure {
	return &failure{retry: true, reason: reason, err: &Error{URL: u, Status: status, Msg: msg, Err: cause}}
}

// redact removes the API key from a text, should anything ever echo it.
func (c *Client) redact(s string) string {
	if c.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.cfg.APIKey, "[redacted]")
}

// bodyTimeout is the failure of a response that took longer than
// BodyTimeout: not retried, as the next attempt would likely crawl too.
func (c *Client) bodyTimeout(u string, status int, cause error) *failure {
	return &failure{err: &Error{URL: u, Status: status, Err: cause,
		Msg: fmt.Sprintf("GET %s: the response body took longer than %v to arrive (the server sends too slowly)", u, c.cfg.BodyTimeout)}}
}

func (c *Client) bodyFailure(ctx, actx context.Context, u string, body *idle.Reader, err error) *failure {
	switch {
	case ctx.Err() != nil:
		return &failure{err: &Error{URL: u, Status: http.StatusOK, Msg: ctx.Err().Error(), Err: ctx.Err()}}
	case errors.Is(context.Cause(actx), errReadTimeout):
		return c.retry("read_timeout", u, http.StatusOK, fmt.Sprintf("GET %s: no data for %v while reading the response", u, c.cfg.ReadTimeout), err)
	case errors.Is(context.Cause(actx), errBodyTimeout):
		return c.bodyTimeout(u, http.StatusOK, err)
	case body.N() == 0:
		return c.retry("empty_body", u, http.StatusOK, fmt.Sprintf("GET %s: empty response body", u), err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
		return c.retry("incomplete_body", u, http.StatusOK, fmt.Sprintf("GET %s: response cut off mid-stream: %s", u, c.redact(err.Error())), err)
	case errors.Is(err, gzip.ErrHeader):
		return &failure{err: &Error{URL: u, Status: http.StatusOK, Msg: fmt.Sprintf("GET %s: malformed response: %v", u, err), Err: err}}
	}
	if _, ok := errors.AsType[*FormatError](err); ok {
		return &failure{err: &Error{URL: u, Status: http.StatusOK, Msg: fmt.Sprintf("GET %s: malformed response: %s", u, c.redact(err.Error())), Err: err}}
	}
	return c.retry("connection", u, http.StatusOK, fmt.Sprintf("GET %s: reading the response: %s", u, c.redact(err.Error())), err)
}

// statusFailure classifies a response other than 200 OK.
func (c *Client) statusFailure(u string, res *http.Response) *failure {
	status := res.StatusCode
	message := c.redact(strings.TrimSpace(res.Header.Get("message")))
	msg := fmt.Sprintf("GET %s: HTTP %d %s", u, status, http.StatusText(status))
	if message != "" {
		msg += ": " + message
	}
	e := &Error{URL: u, Status: status, Message: message, Msg: msg}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	switch {
	case status == http.StatusForbidden, status == http.StatusTooManyRequests:
		// NVD throttles with 403: wait at least one request's share of
		// the window.
		f := &failure{err: e, retry: true, reason: "http_" + strconv.Itoa(status), wait: c.cfg.Window / time.Duration(c.cfg.Requests)}
		if d := retryAfter(res.Header); d > f.wait {
			f.wait, f.asked = d, true
		}
		return f
	case status >= 500:
		f := &failure{err: e, retry: true, reason: "http_" + strconv.Itoa(status)}
		if d := retryAfter(res.Header); d > 0 {
			f.wait, f.asked = d, true
		}
		return f
	}
	return &failure{err: e}
}

// retryAfter is a Retry-After of seconds, 0 if none.
func retryAfter(h http.Header) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// slidingWindow allows n requests per rolling window. It remembers the
// send times of the last n requests; a request may go once the oldest of
// them is window old. Each request reserves its send time when it asks,
// so concurrent callers queue in order and a caller sleeps once.
type slidingWindow struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	times []time.Time // ring of the last n send times, oldest at next once full
	next  int
}

// reserve reserves the next send time and returns how long to wait for it.
func (w *slidingWindow) reserve() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if len(w.times) < w.n {
		w.times = append(w.times, now)
		return 0
	}
	at := now
	if t := w.times[w.next].Add(w.window); t.After(at) {
		at = t
	}
	w.times[w.next] = at
	w.next = (w.next + 1) % w.n
	return at.Sub(now)
}
