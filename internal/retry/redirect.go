package retry

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin tells whether a and b have the same scheme, host and port
// (a port left out is the scheme's default).
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// KeepCredentials returns hc's policy with one change: a redirect to
// another origin than the first request's (scheme, host and port) goes
// without the credential headers named. Go's own policy keeps
// Authorization for another port or scheme of the same host, and any
// other header (such as NVD's apiKey) for every host. hc is not changed.
func KeepCredentials(hc *http.Client, headers ...string) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !SameOrigin(req.URL, via[0].URL) {
			for _, h := range headers {
				delete(req.Header, h)
				req.Header.Del(h)
			}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}
