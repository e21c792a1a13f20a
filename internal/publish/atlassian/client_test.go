package atlassian

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"qvt/internal/retry"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{"0", 0, true},
		{"-3", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		d, ok := retryAfter(h, now)
		if d != tc.want || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.v, d, ok, tc.want, tc.ok)
		}
	}
}

// server answers with the statuses in order, then 200 {"ok":true}.
func server(t *testing.T, answers ...func(w http.ResponseWriter)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(answers) {
			answers[i](w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func status(code int, hdr ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		if code == 401 {
			w.Write([]byte("Client must be authenticated to access this resource."))
		}
	}
}

func client(s *httptest.Server, waits *[]time.Duration) *Client {
	return &Client{Base: s.URL, User: "u", Token: "secret-token", Product: "jira", HTTP: s.Client(),
		Sleep: func(ctx context.Context, d time.Duration) error { *waits = append(*waits, d); return nil },
		Hints: map[int]string{401: "Check JIRA_TOKEN"}}
}

func TestDoRetries(t *testing.T) {
	var out struct{ OK bool }
	// 429s and a 503 with Retry-After are retried for any request.
	s, n := server(t, status(429, "Retry-After", "3"), status(429, "Retry-After", "0"), status(429), status(503, "Retry-After", "2"))
	var waits []time.Duration
	c := client(s, &waits)
	if _, err := c.Do(context.Background(), Request{Method: "POST", Path: "/issue", Body: map[string]int{"a": 1}}, &out); err != nil || !out.OK {
		t.Fatalf("%v %v", err, out)
	}
	if n.Load() != 5 || len(waits) != 4 || waits[0] != 3*time.Second || waits[1] != time.Second || waits[3] != 2*time.Second {
		t.Errorf("calls %d waits %v", n.Load(), waits)
	}
	// A 500 on a create is not retried: it may have been carried out.
	s, n = server(t, status(500))
	waits = nil
	_, err := client(s, &waits).Do(context.Background(), Request{Method: "POST", Path: "/issue"}, nil)
	if !IsAmbiguous(err) || n.Load() != 1 || IsFatal(err) {
		t.Errorf("create after 500: %v (calls %d)", err, n.Load())
	}
	// The same on an idempotent request is retried.
	s, n = server(t, status(500), status(502))
	waits = nil
	if _, err := client(s, &waits).Do(context.Background(), Request{Method: "GET", Path: "/x", Idempotent: true}, nil); err != nil || n.Load() != 3 {
		t.Errorf("idempotent after 5xx: %v (calls %d)", err, n.Load())
	}
	// 401 fails at once, with the hint, a text body, and no token.
	s, n = server(t, status(401))
	_, err = client(s, &waits).Do(context.Background(), Request{Method: "GET", Path: "/myself", Idempotent: true}, nil)
	if StatusOf(err) != 401 || !IsFatal(err) || n.Load() != 1 || !strings.Contains(err.Error(), "Client must be authenticated") ||
		!strings.Contains(err.Error(), "Check JIRA_TOKEN") || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("401: %v", err)
	}
	// The budget ends a storm.
	var storm []func(http.ResponseWriter)
	for range 100 {
		storm = append(storm, status(429, "Retry-After", "10"))
	}
	s, n = server(t, storm...)
	waits = nil
	c = client(s, &waits)
	c.MaxWait = time.Minute
	_, err = c.Do(context.Background(), Request{Method: "GET", Path: "/x", Idempotent: true}, nil)
	var e *Error
	if !errors.As(err, &e) || !e.Exhausted || !IsFatal(err) || n.Load() != 7 {
		t.Errorf("storm: %v (calls %d)", err, n.Load())
	}
}

func TestErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`{"errorMessages":[],"errors":{"summary":"Summary must be less than 255 characters."}}`, "summary: Summary must be less than 255 characters."},
		{`{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`, "Issue does not exist"},
		{`<html><body><h1>Bad</h1> gateway</body></html>`, "Bad gateway"},
	} {
		e := &Error{}
		decodeError(e, []byte(tc.body))
		if !strings.Contains(e.Detail(), tc.want) {
			t.Errorf("%s: %q", tc.body, e.Detail())
		}
	}
	for _, u := range []string{"", "x", "ftp://h", "https://", "https://a:b@h", "https://h/?q=1"} {
		if _, err := CheckURL("JIRA_URL", u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if u, err := CheckURL("JIRA_URL", "https://h/jira/"); err != nil || u != "https://h/jira" {
		t.Errorf("%q %v", u, err)
	}
}

// TestBackoffBounds: without Retry-After, each wait lies between half the
// ceiling BaseDelay·2^(attempt−1) (capped at MaxDelay) and the ceiling.
func TestBackoffBounds(t *testing.T) {
	var answers []func(http.ResponseWriter)
	for i := range 12 {
		if i%2 == 0 {
			answers = append(answers, status(429))
		} else {
			answers = append(answers, status(502))
		}
	}
	s, n := server(t, answers...)
	var waits []time.Duration
	c := client(s, &waits)
	c.MaxWait = time.Hour
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/x", Idempotent: true}, nil); err != nil || n.Load() != 13 {
		t.Fatalf("%v (calls %d)", err, n.Load())
	}
	if len(waits) != 12 {
		t.Fatalf("waits %v", waits)
	}
	for i, d := range waits {
		ceil := min(time.Second<<i, time.Minute) // the defaults: BaseDelay 1s, MaxDelay 60s
		if d < ceil/2 || d > ceil {
			t.Errorf("wait before attempt %d: %v, want within [%v, %v]", i+2, d, ceil/2, ceil)
		}
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestUnreachable: a refused connection is retried within the connect
// budget only, and the error names the server but not the query.
func TestUnreachable(t *testing.T) {
	var waits []time.Duration
	c := &Client{Base: "http://" + closedAddr(t), User: "u", Token: "secret-token", Product: "jira",
		Sleep: func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	_, err := c.Do(context.Background(), Request{Method: "GET", Path: "/rest/api/2/search",
		Query: url.Values{"jql": {"labels = q-secret-label"}}, Idempotent: true}, nil)
	var e *Error
	if !errors.As(err, &e) || !e.Exhausted || !IsFatal(err) {
		t.Fatalf("%v", err)
	}
	var sum time.Duration
	for _, d := range waits {
		sum += d
	}
	if sum > retry.DefaultConnectBudget || len(waits) < 2 || len(waits) > 6 {
		t.Errorf("waited %v in %d waits %v: want at most the budget %v", sum, len(waits), waits, retry.DefaultConnectBudget)
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot reach "+c.Base) || !strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "q-secret") || strings.Contains(msg, "secret-token") {
		t.Errorf("error %q: want the server and the cause, not the query or token", msg)
	}
}

// TestScrubURLError: a transport error comes back without its URL, so
// neither credentials in it nor a query reach a message.
func TestScrubURLError(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	for _, u := range []string{
		"https://alice:pa55word@jira.example.com/rest/api/2/search?jql=x",
		"https://jira.example.com/rest/api/2/search?token=t0ken-value&jql=labels%3Dsecret-label",
	} {
		err := scrubURLError(&url.Error{Op: "Get", URL: u, Err: cause})
		for _, leak := range []string{"pa55word", "t0ken-value", "secret-label", "jira.example.com"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%s: %q shows %q", u, err, leak)
			}
		}
		if !errors.Is(err, cause) {
			t.Errorf("%s: %v lost its cause", u, err)
		}
	}
	if err := scrubURLError(cause); err != cause {
		t.Errorf("another error changed: %v", err)
	}
}

// TestRedirectKeepsCredentials: a redirect to the same origin keeps the
// credentials; one to another port of the same host (which Go's own
// policy would send Authorization to) or another host arrives without.
func TestRedirectKeepsCredentials(t *testing.T) {
	auths := make(chan string, 10)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auths <- r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	}))
	defer other.Close()
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/there", http.StatusTemporaryRedirect)
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusTemporaryRedirect)
		default:
			auths <- r.Header.Get("Authorization")
			w.Write([]byte(`{}`))
		}
	}))
	defer home.Close()
	for _, user := range []string{"u", ""} { // Basic, then Bearer
		c := &Client{Base: home.URL, User: user, Token: "secret-token", Product: "jira"}
		if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/moved", Idempotent: true}, nil); err != nil {
			t.Fatal(err)
		}
		if a := <-auths; a == "" {
			t.Errorf("user %q: a redirect on the same origin lost the credentials", user)
		}
		if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/away", Idempotent: true}, nil); err != nil {
			t.Fatal(err)
		}
		if a := <-auths; a != "" {
			t.Errorf("user %q: another origin got Authorization %q", user, a)
		}
	}
}
