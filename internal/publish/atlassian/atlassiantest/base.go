// Package atlassiantest is what the Jira and Assets test doubles share:
// credential checks, the Atlassian error body, a call log and fault
// injection (429 storms with or without Retry-After, 5xx, answers lost
// after the server acted).
package atlassiantest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Auth is the credential a double accepts: Basic User:Token, or, with
// User empty, Bearer Token.
type Auth struct {
	User, Token string
}

// Check tells whether r carries the credential.
func (a Auth) Check(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if a.User == "" {
		return h == "Bearer "+a.Token
	}
	return h == "Basic "+base64.StdEncoding.EncodeToString([]byte(a.User+":"+a.Token))
}

// Rule is an injected fault.
type Rule struct {
	Method     string // "" matches any
	PathPrefix string // "" matches any; else the request path must start with it
	Count      int    // requests it answers; then it expires (0 counts as 1; -1 forever)
	Status     int
	Header     map[string]string
	Body       string
	// After: the double carries the request out, then answers Status
	// instead (a create whose answer was lost).
	After bool
}

// Call is one request the double received.
type Call struct {
	Method, Path, Query string
	Status              int
}

// Base wraps a double's handler with auth, faults and the call log.
type Base struct {
	Auth   Auth
	Public []string // path prefixes served without credentials

	mu    sync.Mutex
	rules []*Rule
	calls []Call
}

// Inject adds fault rules, applied in order.
func (b *Base) Inject(rules ...Rule) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range rules {
		r := rules[i]
		if r.Count == 0 {
			r.Count = 1
		}
		b.rules = append(b.rules, &r)
	}
}

// ClearFaults drops the rules left.
func (b *Base) ClearFaults() {
	b.mu.Lock()
	b.rules = nil
	b.mu.Unlock()
}

// Calls returns the requests received so far.
func (b *Base) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Call(nil), b.calls...)
}

// Count counts the requests of a method ("" any) whose path starts with
// prefix and that got status (0 any).
func (b *Base) Count(method, prefix string, status int) int {
	n := 0
	for _, c := range b.Calls() {
		if (method == "" || c.Method == method) && strings.HasPrefix(c.Path, prefix) && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

func (b *Base) take(r *http.Request) *Rule {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, rule := range b.rules {
		if rule.Method != "" && rule.Method != r.Method {
			continue
		}
		if rule.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, rule.PathPrefix) {
			continue
		}
		if rule.Count > 0 {
			rule.Count--
			if rule.Count == 0 {
				b.rules = append(b.rules[:i], b.rules[i+1:]...)
			}
		}
		cp := *rule
		return &cp
	}
	return nil
}

func (b *Base) log(r *http.Request, status int) {
	b.mu.Lock()
	b.calls = append(b.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status})
	b.mu.Unlock()
}

func writeRule(w http.ResponseWriter, rule *Rule) {
	for k, v := range rule.Header {
		w.Header().Set(k, v)
	}
	if rule.Body != "" && w.Header().Get("Content-Type") == "" {
		if strings.HasPrefix(strings.TrimSpace(rule.Body), "<") {
			w.Header().Set("Content-Type", "text/html")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
	}
	w.WriteHeader(rule.Status)
	w.Write([]byte(rule.Body))
}

// Serve runs inner for r unless a fault or a missing credential answers
// first, and logs the call.
func (b *Base) Serve(w http.ResponseWriter, r *http.Request, inner http.HandlerFunc) {
	public := false
	for _, p := range b.Public {
		if strings.HasPrefix(r.URL.Path, p) {
			public = true
		}
	}
	if !public && !b.Auth.Check(r) {
		b.log(r, http.StatusUnauthorized)
		WriteError(w, http.StatusUnauthorized, []string{"Client must be authenticated to access this resource."}, nil)
		return
	}
	if rule := b.take(r); rule != nil {
		if rule.After {
			inner(httptest.NewRecorder(), r)
		}
		b.log(r, rule.Status)
		writeRule(w, rule)
		return
	}
	rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	inner(rec, r)
	b.log(r, rec.status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status = code
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers status with an ErrorCollection.
func WriteError(w http.ResponseWriter, status int, messages []string, fields map[string]string) {
	if messages == nil {
		messages = []string{}
	}
	if fields == nil {
		fields = map[string]string{}
	}
	WriteJSON(w, status, map[string]any{"errorMessages": messages, "errors": fields})
}

// Throttle429 answers the next n requests (any route) with 429 and the
// headers Jira Cloud sends: Retry-After (when retryAfter is not empty),
// X-RateLimit-Reset and RateLimit-Reason, and an HTML body.
func Throttle429(n int, retryAfter string) Rule {
	h := map[string]string{"X-RateLimit-Reset": "2026-06-01T12:00Z", "RateLimit-Reason": "jira-burst-based"}
	if retryAfter != "" {
		h["Retry-After"] = retryAfter
	}
	return Rule{Count: n, Status: http.StatusTooManyRequests, Header: h,
		Body: "<html><body><h1>429 Too Many Requests</h1></body></html>"}
}

// Throttle429DC answers the next n requests with 429 and Data Center's
// token-bucket headers.
func Throttle429DC(n int, retryAfter string) Rule {
	h := map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
		"X-RateLimit-Interval-Seconds": "1", "X-RateLimit-FillRate": "10"}
	if retryAfter != "" {
		h["retry-after"] = retryAfter
	}
	return Rule{Count: n, Status: http.StatusTooManyRequests, Header: h}
}
