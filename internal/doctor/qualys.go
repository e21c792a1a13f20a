package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"qvt/internal/config"
	"qvt/internal/qualys"
)

// Timeouts of the doctor's requests: it diagnoses, it does not wait out
// an outage as a sync does.
const (
	connectTimeout = 10 * time.Second
	readTimeout    = 30 * time.Second
)

// lastAnswer is a transport that keeps the headers of the last response
// and when it came.
type lastAnswer struct {
	rt http.RoundTripper

	mu     sync.Mutex
	header http.Header
	at     time.Time
}

func (l *lastAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.rt.RoundTrip(r)
	if err == nil {
		l.mu.Lock()
		l.header, l.at = res.Header.Clone(), time.Now()
		l.mu.Unlock()
	}
	return res, err
}

func (l *lastAnswer) get() (http.Header, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.header, l.at
}

// transport is the base of the doctor's HTTP clients: the environment's
// proxy, short timeouts.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.DialContext = (&net.Dialer{Timeout: connectTimeout}).DialContext
	t.TLSHandshakeTimeout = connectTimeout
	t.ResponseHeaderTimeout = readTimeout
	return t
}

// noRedirect keeps credentials on the origin they were meant for.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Qualys makes one cheap authenticated call (the KnowledgeBase ids of one
// QID) through qvt's Qualys client and reports the credentials, the
// subscription's limits from the answer's headers, and the clock skew
// from its Date.
func Qualys(ctx context.Context, q config.Qualys) []Check {
	base, where := q.APIURL, "QUALYS_API_URL "+q.APIURL
	if base == "" {
		if q.Platform == "" {
			return []Check{fail("qualys", "set QUALYS_PLATFORM (e.g. EU1) or QUALYS_API_URL (a private cloud)", "no Qualys API configured")}
		}
		var err error
		if base, err = qualys.PlatformURL(q.Platform); err != nil {
			return []Check{fail("qualys", "set QUALYS_PLATFORM to one of "+strings.Join(qualys.Platforms(), ", ")+", or QUALYS_API_URL", "%v", err)}
		}
		where = fmt.Sprintf("platform %s (%s)", strings.ToUpper(strings.TrimSpace(q.Platform)), base)
	}
	la := &lastAnswer{rt: transport()}
	u, _ := url.Parse(base)
	loopback := u != nil && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()) != nil && net.ParseIP(u.Hostname()).IsLoopback())
	c, err := qualys.NewClient(qualys.ClientConfig{
		NoGzip:         loopback,
		BaseURL:        base,
		Username:       q.Username,
		Password:       q.Password,
		HTTP:           &http.Client{Transport: la, CheckRedirect: noRedirect},
		ConnectTimeout: connectTimeout,
		ReadTimeout:    readTimeout,
		MaxAttempts:    1,
	})
	if err != nil {
		return []Check{fail("qualys", "set QUALYS_USERNAME and QUALYS_PASSWORD, and QUALYS_PLATFORM or QUALYS_API_URL", "%v", err)}
	}
	var checks []Check
	if u != nil && u.Scheme == "http" && !loopback {
		checks = append(checks, warn("qualys", "use the https:// URL", "%s is plain http: the password travels unencrypted", where))
	}
	_, err = c.KBIDs(ctx, url.Values{"ids": {"1"}})
	h, at := la.get()
	if err != nil {
		checks = append(checks, QualysError(err, where, q.Username))
	} else {
		checks = append(checks, ok("qualys", "%s accepts user %s", where, q.Username))
	}
	if h != nil {
		if err == nil || headerInt(h, "X-RateLimit-Limit", "X-Concurrency-Limit-Limit") >= 0 {
			checks = append(checks, RateLimits(h))
		}
		if c, found := ClockSkew("qualys", "Qualys", h.Get("Date"), at); found {
			checks = append(checks, c)
		}
	}
	return checks
}

// QualysError judges a failed Qualys call: refused credentials, an
// account without API access, a name that does not resolve, a server
// that does not answer.
func QualysError(err error, where, user string) Check {
	var qe *qualys.Error
	status := 0
	if errors.As(err, &qe) {
		status = qe.Status
	}
	var dns *net.DNSError
	switch {
	case status == http.StatusUnauthorized:
		return fail("qualys", "check QUALYS_USERNAME/QUALYS_PASSWORD (and that the account is not locked after failed logins)",
			"%s refused user %s's credentials (401)", where, user)
	case status == http.StatusForbidden:
		return fail("qualys", "give the user API access in Qualys (Users > the user > Edit > Permissions: API access), or check the platform",
			"%s: user %s may not use the API (403): %v", where, user, err)
	case status == http.StatusConflict:
		return warn("qualys", "run qvt doctor again when the subscription's other clients are done",
			"%s is at its concurrency or rate limit now (409): %v", where, err)
	case errors.As(err, &dns):
		return fail("qualys", "check QUALYS_PLATFORM/QUALYS_API_URL and this machine's DNS",
			"%s: the name %s does not resolve", where, dns.Name)
	case status == 0:
		return fail("qualys", "check QUALYS_PLATFORM/QUALYS_API_URL, the firewall and HTTPS_PROXY",
			"%s does not answer: %v", where, err)
	}
	return fail("qualys", "check QUALYS_PLATFORM/QUALYS_API_URL: is it the subscription's platform?", "%s: %v", where, err)
}
