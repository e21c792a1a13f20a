// Package atlassian is the HTTP plumbing the Jira and Jira Assets
// publishers share: authentication (Basic for an e-mail and API token,
// Bearer for a Data Center personal access token), JSON requests, retries
// that honour 429/503 Retry-After within a budget, and error bodies
// decoded into a typed Error that never carries the token.
package atlassian

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"qvt/internal/retry"
	"qvt/internal/version"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Client sends JSON requests to one Atlassian API base.
//
// Retries: 429 is always retried (the server did not act on the request),
// as is 503 with a Retry-After header and a connection that could not be
// made at all. 5xx without Retry-After and connections that fail after
// the request was sent are retried only for Idempotent requests: a create
// that timed out may still have been carried out, so repeating it could
// make a duplicate; the caller gets an Error with Ambiguous set and must
// look for what it tried to create first. 4xx other than 429 fail at once.
// Retry-After (seconds or an HTTP date) is honoured, clamped to at least
// MinDelay (a gateway answering "Retry-After: 0" would otherwise make a
// busy loop); without it the delay doubles from BaseDelay up to MaxDelay,
// with jitter (retry.Backoff: each wait between half the ceiling and the
// ceiling). One request waits at most MaxWait in total and makes at most
// MaxAttempts attempts.
//
// Credentials (Authorization) go only to Base's origin: a redirect to
// another scheme, host or port is followed without them.
type Client struct {
	Base        string // e.g. https://example.atlassian.net; no trailing slash
	User, Token string // User empty: Token is a bearer token (Data Center PAT)
	Product     string // "jira" or "assets", for messages
	HTTP        *http.Client
	Log         *slog.Logger
	// Sleep waits d or until ctx is done; injectable for tests.
	Sleep       func(ctx context.Context, d time.Duration) error
	MaxAttempts int           // default 30
	MaxWait     time.Duration // default 5m, per request
	// ConnectBudget is how long to keep retrying a server that cannot be
	// reached (connection refused, unknown host), in waits between
	// attempts; default retry.DefaultConnectBudget (10s).
	ConnectBudget time.Duration
	MinDelay      time.Duration // default 1s
	BaseDelay     time.Duration // default 1s
	MaxDelay      time.Duration // default 60s
	UserAgent     string
	// Hints add a sentence to errors of a status, e.g. which variables
	// hold the credentials on 401.
	Hints map[int]string

	Stats Stats

	guarded bool // HTTP's redirect policy keeps the credentials home
}

// Stats counts a client's requests.
type Stats struct {
	Calls   int           // HTTP requests sent
	Retries int           // requests repeated
	Waited  time.Duration // total time asked to wait between attempts
}

// Request is one API call.
type Request struct {
	Method string
	Path   string // appended to Base; starts with "/"
	Query  url.Values
	Body   any // encoded as JSON; nil sends no body
	// Idempotent marks a request that is safe to repeat after an
	// ambiguous failure (a 5xx, a connection lost mid-request): reads,
	// searches and edits that set values. Creates, comments and
	// transitions are not.
	Idempotent bool
}

// Error is a failed call.
type Error struct {
	Product      string
	Method, Path string
	Status       int               // 0 when no response came
	Messages     []string          // errorMessages
	Fields       map[string]string // errors: field → message
	Text         string            // a body that was not an error collection, shortened
	Body         []byte            // the raw body (at most 1 MiB), for callers that decode special shapes
	Attempts     int
	// Ambiguous: the request may have been carried out although it
	// failed (a 5xx or a lost connection on a non-idempotent request).
	Ambiguous bool
	// Exhausted: the request was retried until the budget ran out (a
	// 429 storm, a server down): further calls are likely to fail too.
	Exhausted bool
	Hint      string
	Err       error // the transport error, if any
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(e.Product)
	sb.WriteString(": ")
	sb.WriteString(e.Method + " " + e.Path)
	if e.Status != 0 {
		fmt.Fprintf(&sb, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if d := e.Detail(); d != "" {
		sb.WriteString(": " + d)
	}
	if e.Err != nil {
		sb.WriteString(": " + e.Err.Error())
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&sb, " (after %d attempts)", e.Attempts)
	}
	if e.Ambiguous {
		sb.WriteString(" (the request may have been carried out)")
	}
	if e.Hint != "" {
		sb.WriteString(". " + e.Hint)
	}
	return sb.String()
}

// Detail is the server's explanation: its error messages and field
// errors, or the start of a body that was not JSON.
func (e *Error) Detail() string {
	var parts []string
	parts = append(parts, e.Messages...)
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	if len(parts) == 0 && e.Text != "" {
		parts = append(parts, e.Text)
	}
	return strings.Join(parts, "; ")
}

func (e *Error) Unwrap() error { return e.Err }

// StatusOf is the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsFatal tells whether err should stop a run rather than fail one
// item: bad credentials or permissions (401, 403) or a spent retry
// budget.
func IsFatal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return err != nil
	}
	return e.Status == 401 || e.Status == 403 || e.Exhausted
}

// IsAmbiguous tells whether err is an *Error whose request may have
// been carried out.
func IsAmbiguous(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Ambiguous
}

// DefaultSleep waits d or until ctx is done.
var DefaultSleep = retry.Sleep

// UserAgent is "qvt/<version>".
var UserAgent = version.UserAgent

// CheckURL checks an API base URL: http(s), a host, no credentials, no
// query. It returns it without a trailing slash.
func CheckURL(name, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%s: not a URL", name)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%s %q: want an http(s) URL", name, u.Redacted())
	}
	if u.Host == "" {
		return "", fmt.Errorf("%s %q: no host", name, u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("%s: credentials belong in the user and token settings, not in the URL", name)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s %q: no query or fragment, please", name, u.Redacted())
	}
	return strings.TrimRight(raw, "/"), nil
}

func (c *Client) defaults() {
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 2 * time.Minute}
	}
	if !c.guarded {
		c.HTTP = retry.KeepCredentials(c.HTTP, "Authorization")
		c.guarded = true
	}
	if c.Sleep == nil {
		c.Sleep = DefaultSleep
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 30
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 5 * time.Minute
	}
	if c.ConnectBudget <= 0 {
		c.ConnectBudget = retry.DefaultConnectBudget
	}
	if c.MinDelay <= 0 {
		c.MinDelay = time.Second
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = time.Second
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = time.Minute
	}
	if c.UserAgent == "" {
		c.UserAgent = UserAgent()
	}
	if c.Product == "" {
		c.Product = "atlassian"
	}
}

func (c *Client) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Do sends req and decodes a 2xx JSON answer into out (when out is not
// nil and the body is not empty). It returns the status of the last
// response. Failures are *Error.
func (c *Client) Do(ctx context.Context, req Request, out any) (int, error) {
	c.defaults()
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = json.Marshal(req.Body); err != nil {
			return 0, fmt.Errorf("%s: %s %s: encode: %w", c.Product, req.Method, req.Path, err)
		}
	}
	u := c.Base + req.Path
	if len(req.Query) > 0 {
		u += "?" + req.Query.Encode()
	}
	var waited, unreachable time.Duration
	for attempt := 1; ; attempt++ {
		status, hdr, raw, err := c.once(ctx, req.Method, u, body)
		if err != nil && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		e := &Error{Product: c.Product, Method: req.Method, Path: req.Path, Status: status, Attempts: attempt}
		if err == nil && status >= 200 && status < 300 {
			if out != nil && len(bytes.TrimSpace(raw)) > 0 {
				if err := json.Unmarshal(raw, out); err != nil {
					e.Err = fmt.Errorf("decode the answer: %w", err)
					e.Text = shorten(raw)
					return status, e
				}
			}
			return status, nil
		}
		if err != nil {
			e.Err = err
		} else {
			decodeError(e, raw)
		}
		e.Hint = c.Hints[status]
		again, wait, sure := c.classify(req, status, hdr, err, attempt)
		if !again {
			if !sure && !req.Idempotent && (status >= 500 || err != nil) {
				e.Ambiguous = true
			}
			return status, e
		}
		if retry.IsConnect(err) {
			if unreachable+wait > c.ConnectBudget {
				e.Exhausted = true
				e.Err = fmt.Errorf("cannot reach %s: gave up after %d attempts in the %s connect budget: %w", c.Base, attempt, c.ConnectBudget, err)
				return status, e
			}
			unreachable += wait
		}
		if attempt >= c.MaxAttempts || waited+wait > c.MaxWait {
			if !sure && !req.Idempotent {
				e.Ambiguous = true
			}
			e.Exhausted = true
			e.Err = errors.Join(e.Err, fmt.Errorf("gave up: retry budget spent (%d attempts, %s waited, %s asked)", attempt, waited.Round(time.Millisecond), wait.Round(time.Millisecond)))
			return status, e
		}
		c.log().Info("retrying", "product", c.Product, "method", req.Method, "path", req.Path,
			"status", status, "wait", wait, "attempt", attempt, "err", errString(err))
		c.Stats.Retries++
		c.Stats.Waited += wait
		waited += wait
		if err := c.Sleep(ctx, wait); err != nil {
			return status, err
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// classify tells whether to retry and after how long; sure reports that
// the server certainly did not carry the request out.
func (c *Client) classify(req Request, status int, hdr http.Header, err error, attempt int) (again bool, wait time.Duration, sure bool) {
	backoff := func() time.Duration { return retry.Backoff(c.BaseDelay, c.MaxDelay, attempt) }
	if err != nil {
		if retry.IsConnect(err) {
			return true, backoff(), true // never reached the server
		}
		return req.Idempotent, backoff(), false
	}
	ra, hasRA := retryAfter(hdr, time.Now())
	switch {
	case status == http.StatusTooManyRequests:
		if hasRA {
			return true, max(ra, c.MinDelay), true
		}
		return true, backoff(), true
	case status == http.StatusServiceUnavailable && hasRA:
		return true, max(ra, c.MinDelay), true
	case status >= 500:
		return req.Idempotent, backoff(), false
	}
	return false, 0, true
}

// retryAfter reads Retry-After: delay-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			n = 0
		}
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

const maxBody = 1 << 20

func (c *Client) once(ctx context.Context, method, u string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", c.UserAgent)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	// Atlassian's XSRF check rejects some non-browser POSTs without it.
	hr.Header.Set("X-Atlassian-Token", "no-check")
	if c.User != "" {
		hr.SetBasicAuth(c.User, c.Token)
	} else if c.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.Token)
	}
	c.Stats.Calls++
	res, err := c.HTTP.Do(hr)
	if err != nil {
		return 0, nil, nil, scrubURLError(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read the answer: %w", err)
	}
	return res.StatusCode, res.Header, raw, nil
}

// scrubURLError drops the URL from a *url.Error: the message then names
// neither the query nor anything else that should not be logged.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError fills e from an error body: an ErrorCollection
// ({"errorMessages":[...],"errors":{...}}), Assets' variants, or text.
func decodeError(e *Error, raw []byte) {
	e.Body = raw
	trim := bytes.TrimSpace(raw)
	if len(trim) > 0 && trim[0] == '{' {
		var ec struct {
			ErrorMessages []string       `json:"errorMessages"`
			Errors        map[string]any `json:"errors"`
			Message       string         `json:"message"`
		}
		if json.Unmarshal(trim, &ec) == nil {
			e.Messages = ec.ErrorMessages
			if ec.Message != "" {
				e.Messages = append(e.Messages, ec.Message)
			}
			if len(ec.Errors) > 0 {
				e.Fields = map[string]string{}
				for k, v := range ec.Errors {
					switch v := v.(type) {
					case string:
						e.Fields[k] = v
					default:
						b, _ := json.Marshal(v)
						e.Fields[k] = string(b)
					}
				}
			}
			if len(e.Messages) > 0 || len(e.Fields) > 0 {
				return
			}
		}
	}
	e.Text = shorten(trim)
}

// shorten makes a body printable: tags stripped (429 pages may be HTML),
// whitespace collapsed, at most 200 characters.
func shorten(b []byte) string {
	s := string(b)
	if strings.Contains(s, "<") {
		var sb strings.Builder
		in := false
		for _, r := range s {
			switch {
			case r == '<':
				in = true
			case r == '>':
				in = false
				sb.WriteByte(' ')
			case !in:
				sb.WriteRune(r)
			}
		}
		s = sb.String()
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
