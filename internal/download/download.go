// Package download fetches one public data file over HTTP (CISA's KEV
// feed, FIRST's EPSS scores) the way qvt's API clients talk to a server
// that may fail: timeouts for connecting and for silence, capped
// exponential backoff with jitter on 429, 5xx, connection errors and
// bodies cut short, a short budget for a server that cannot be reached, a
// Retry-After beyond MaxWait refused rather than slept, and no credentials
// at all.
package download

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
	"strconv"
	"strings"
	"time"

	"qvt/internal/idle"
	"qvt/internal/retry"
	"qvt/internal/version"
)

// Config says what to fetch and how patiently. Zero fields take the
// defaults given.
type Config struct {
	Name string // names the feed in errors and logs: "kev", "epss"
	URL  string
	// HTTP is the client to send requests with. The default honours
	// HTTPS_PROXY/NO_PROXY and times out connecting after ConnectTimeout
	// and waiting for response headers after ReadTimeout.
	HTTP           *http.Client
	ConnectTimeout time.Duration // default 30s
	ReadTimeout    time.Duration // longest silence before or within the body; the attempt is retried. Default 2m
	MaxAttempts    int           // default 6
	BaseDelay      time.Duration // backoff: first ceiling, default 2s
	MaxDelay       time.Duration // backoff: largest ceiling, default 2m
	ConnectBudget  time.Duration // default retry.DefaultConnectBudget
	MaxWait        time.Duration // longest Retry-After slept; default retry.DefaultMaxWait
	BodyTimeout    time.Duration // the whole body's reads; default retry.DefaultBodyTimeout
	Accept         string        // the Accept header; default */*
	UserAgent      string        // default "qvt/<version>"
	Log            *slog.Logger  // a line per retry (Info)
	// Sleep waits d or until ctx is done; injectable for tests.
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithDefaults fills the zero fields of c.
func (c Config) WithDefaults() Config {
	if c.Name == "" {
		c.Name = "download"
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 2 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = 2 * time.Second
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = 2 * time.Minute
	}
	c.MaxDelay = max(c.MaxDelay, c.BaseDelay)
	if c.ConnectBudget <= 0 {
		c.ConnectBudget = retry.DefaultConnectBudget
	}
	if c.MaxWait <= 0 {
		c.MaxWait = retry.DefaultMaxWait
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = retry.DefaultBodyTimeout
	}
	if c.Accept == "" {
		c.Accept = "*/*"
	}
	if c.UserAgent == "" {
		c.UserAgent = version.UserAgent()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Sleep == nil {
		c.Sleep = retry.Sleep
	}
	if c.HTTP == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = http.ProxyFromEnvironment
		t.DialContext = (&net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = c.ConnectTimeout
		t.ResponseHeaderTimeout = c.ReadTimeout
		c.HTTP = &http.Client{Transport: t}
	}
	return c
}

// CheckURL refuses a URL qvt should not fetch a public feed from: not
// http(s), no host, or carrying credentials (which would end up in logs).
func CheckURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: bad URL: %w", name, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: URL %q must start with https:// (or http://)", name, u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("%s: URL %q names no host", name, u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("%s: URL %q must not carry credentials", name, u.Redacted())
	}
	u.Fragment = ""
	return u, nil
}

// Permanent marks an error of read that must end Get as it is, never
// retried: a decoder's verdict on malformed data, or the caller's own
// callback failing. Get returns the error Permanent was given.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Error is a download that failed.
type Error struct {
	URL      string
	Status   int // HTTP status of the last response; 0 if none came
	Attempts int // attempts made
	Msg      string
	Err      error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

var (
	errReadTimeout = errors.New("read timeout")
	errBodyTimeout = errors.New("response deadline")
)

// Get sends GET c.URL (c as WithDefaults fills it) and passes the body,
// decompressed when the server sent Content-Encoding gzip, to read. A
// failed attempt is retried: 429, 5xx, connection errors, ReadTimeout of
// silence, a body cut off (its read failing, or read's error wrapping
// io.ErrUnexpectedEOF). read may thus be called more than once and must
// start afresh each time. An error read returns otherwise is taken as
// permanent, and one marked with Permanent is returned unwrapped.
func Get(ctx context.Context, c Config, read func(io.Reader) error) error {
	c = c.WithDefaults()
	u, err := CheckURL(c.Name, c.URL)
	if err != nil {
		return err
	}
	target := u.String()
	var unreachable time.Duration
	for attempt := 1; ; attempt++ {
		began := time.Now()
		f, err := attemptGet(ctx, &c, target, read)
		if err != nil {
			return err
		}
		if f == nil {
			return nil
		}
		f.err.Attempts = attempt
		if !f.retry {
			return f.err
		}
		if attempt >= c.MaxAttempts {
			e := *f.err
			e.Msg = fmt.Sprintf("%s: giving up after %d attempts; last: %s", c.Name, attempt, f.err.Msg)
			return &e
		}
		if f.asked && f.wait > c.MaxWait {
			e := *f.err
			e.Msg = fmt.Sprintf("%s: the server asks to wait %v (Retry-After), more than the %v allowed: %s", c.Name, f.wait, c.MaxWait, f.err.Msg)
			return &e
		}
		wait := max(f.wait, retry.Backoff(c.BaseDelay, c.MaxDelay, attempt))
		if f.reason == "connection" && retry.IsConnect(f.err.Err) {
			unreachable += time.Since(began)
			left := c.ConnectBudget - unreachable
			if left <= 0 {
				e := *f.err
				e.Msg = fmt.Sprintf("%s: cannot reach %s (%d attempts in %v): %v", c.Name, target, attempt,
					unreachable.Round(time.Millisecond), unwrapURLError(f.err.Err))
				return &e
			}
			wait = min(wait, left)
			unreachable += wait
		}
		c.Log.Info(c.Name+": retrying", "url", target, "attempt", attempt+1, "max_attempts", c.MaxAttempts,
			"reason", f.err.Msg, "wait", wait.Round(time.Millisecond))
		if err := c.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
	}
}

// failure is an attempt that did not succeed.
type failure struct {
	err    *Error
	retry  bool
	reason string
	wait   time.Duration
	asked  bool // wait is the server's Retry-After
}

// bodyReader remembers the first error its reads met other than EOF: the
// transport's verdict on the body, which a decoder may report otherwise
// (a CSV row cut mid-way reads as a row with too few fields).
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func attemptGet(ctx context.Context, c *Config, target string, read func(io.Reader) error) (*failure, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(c.ReadTimeout, func() { cancel(errReadTimeout) })
	defer timer.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return nil, &Error{URL: target, Msg: fmt.Sprintf("%s: %v", c.Name, err), Err: err}
	}
	req.Header.Set("Accept", c.Accept)
	req.Header.Set("User-Agent", c.UserAgent)
	res, err := c.HTTP.Do(req)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", c.Name, ctx.Err())
		case errors.Is(context.Cause(actx), errReadTimeout):
			return retryable("read_timeout", target, 0, fmt.Sprintf("%s: GET %s: no response within %v", c.Name, target, c.ReadTimeout), err), nil
		}
		return retryable("connection", target, 0, fmt.Sprintf("%s: GET %s: %v", c.Name, target, unwrapURLError(err)), err), nil
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return statusFailure(c, target, res), nil
	}
	counted := idle.NewReader(idle.NewDeadlineReader(res.Body, c.BodyTimeout, func() { cancel(errBodyTimeout) }), timer, c.ReadTimeout)
	body := &bodyReader{r: counted}
	var r io.Reader = body
	// Go decompresses a gzip Content-Encoding itself unless the request
	// asked for an encoding; a server may still send one unasked.
	if enc := strings.ToLower(strings.TrimSpace(res.Header.Get("Content-Encoding"))); enc == "gzip" || enc == "x-gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return retryable("incomplete_body", target, res.StatusCode, fmt.Sprintf("%s: GET %s: %v", c.Name, target, err), err), nil
		}
		r = zr
	}
	// A read that succeeded had all it needed, whatever came after.
	if err = read(r); err == nil {
		return nil, nil
	}
	if p, ok := errors.AsType[*permanent](err); ok {
		return nil, p.err
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", c.Name, ctx.Err())
	case errors.Is(context.Cause(actx), errReadTimeout):
		return retryable("read_timeout", target, res.StatusCode, fmt.Sprintf("%s: GET %s: no data for %v while reading the response", c.Name, target, c.ReadTimeout), err), nil
	case errors.Is(context.Cause(actx), errBodyTimeout):
		return &failure{err: &Error{URL: target, Status: res.StatusCode, Err: err,
			Msg: fmt.Sprintf("%s: GET %s: the response took longer than %v to arrive", c.Name, target, c.BodyTimeout)}}, nil
	case counted.N() == 0:
		return retryable("empty_body", target, res.StatusCode, fmt.Sprintf("%s: GET %s: empty response body (%v)", c.Name, target, err), err), nil
	case body.err != nil:
		return retryable("incomplete_body", target, res.StatusCode, fmt.Sprintf("%s: GET %s: response cut off after %d bytes: %v", c.Name, target, counted.N(), body.err), body.err), nil
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum):
		return retryable("incomplete_body", target, res.StatusCode, fmt.Sprintf("%s: GET %s: response cut off after %d bytes: %v", c.Name, target, counted.N(), err), err), nil
	}
	return nil, fmt.Errorf("%w (from %s)", err, target)
}

func retryable(reason, target string, status int, msg string, cause error) *failure {
	return &failure{retry: true, reason: reason, err: &Error{URL: target, Status: status, Msg: msg, Err: cause}}
}

func statusFailure(c *Config, target string, res *http.Response) *failure {
	status := res.StatusCode
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	e := &Error{URL: target, Status: status, Msg: fmt.Sprintf("%s: GET %s: HTTP %d %s", c.Name, target, status, http.StatusText(status))}
	if status == http.StatusTooManyRequests || status >= 500 {
		f := &failure{err: e, retry: true, reason: "http_" + strconv.Itoa(status)}
		if n, err := strconv.Atoi(strings.TrimSpace(res.Header.Get("Retry-After"))); err == nil && n > 0 {
			f.wait, f.asked = time.Duration(n)*time.Second, true
		}
		return f
	}
	return &failure{err: e}
}

func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
