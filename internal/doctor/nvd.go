package doctor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"qvt/internal/config"
	"qvt/internal/nvd"
)

// NVD asks the CVE API for one record (resultsPerPage=1), with the API
// key when one is set, and reports whether NVD answers and takes the
// key, and what its absence costs.
func NVD(ctx context.Context, n config.NVD) []Check {
	base := strings.TrimSpace(n.APIURL)
	if base == "" {
		base = nvd.DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return []Check{fail("nvd", "set NVD_API_URL to https://services.nvd.nist.gov/rest/json/cves/2.0 or unset it", "NVD_API_URL is not an http(s) URL without credentials")}
	}
	if u.Query().Has("apiKey") {
		return []Check{fail("nvd", "move the key to NVD_API_KEY", "NVD_API_URL carries the API key")}
	}
	shown := u.Redacted()
	q := u.Query()
	q.Set("resultsPerPage", "1")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return []Check{fail("nvd", "check NVD_API_URL", "NVD_API_URL %s: %v", shown, err)}
	}
	if n.APIKey != "" {
		req.Header["apiKey"] = []string{n.APIKey}
	}
	// No redirects: the key would follow them to another host.
	hc := &http.Client{Transport: transport(), CheckRedirect: noRedirect}
	res, err := hc.Do(req)
	if err != nil {
		var dns *net.DNSError
		if errors.As(err, &dns) {
			return []Check{fail("nvd", "check NVD_API_URL and this machine's DNS", "%s: the name %s does not resolve", shown, dns.Name)}
		}
		return []Check{fail("nvd", "check NVD_API_URL, the firewall and HTTPS_PROXY", "%s does not answer: %v", shown, unwrapURL(err))}
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	msg := res.Header.Get("message")
	if n.APIKey != "" {
		// NVD may echo the key it refuses.
		msg = strings.ReplaceAll(msg, n.APIKey, masked)
	}
	checks := []Check{NVDAnswer(res.StatusCode, shorten(msg), n.APIKey != "", shown)}
	if c, found := ClockSkew("nvd", "NVD", res.Header.Get("Date"), time.Now()); found && c.Level != OK {
		checks = append(checks, c)
	}
	return checks
}

// unwrapURL drops the request URL a *url.Error repeats.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
