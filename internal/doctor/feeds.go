package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"qvt/internal/epss"
	"qvt/internal/kev"
	"qvt/internal/version"
)

// The public feeds a sync fetches: CISA's KEV catalog and FIRST's daily
// EPSS scores. Neither takes a credential, so a redirect (FIRST's old
// host sends to its new one) is followed as a sync follows it.

// feed names a feed for the checks: its area, its variable and key, and
// the address a sync uses when neither is set.
type feed struct {
	area, env, key, def string
}

var (
	kevFeed  = feed{area: "kev", env: "KEV_URL", key: "kev_url", def: kev.DefaultURL}
	epssFeed = feed{area: "epss", env: "EPSS_URL", key: "epss_url", def: epss.DefaultURL}
)

// setting is "KEV_URL (kev_url)", as fixes name it.
func (f feed) setting() string { return f.env + " (" + f.key + ")" }

// epssSample is how many rows the EPSS check reads: enough to see rows
// decode, far from the file's 250,000.
const epssSample = 3

// maxEPSSAge is how old the EPSS file's score date may be before the
// check warns: FIRST publishes one a day, so older means a stale mirror
// or a proxy's cache.
const maxEPSSAge = 3 * 24 * time.Hour

// errEnough ends the EPSS decoder once the sample is read.
var errEnough = errors.New("doctor: sample read")

// KEV downloads CISA's catalog from rawURL ("" for kev.DefaultURL) and
// decodes it as a sync does (kev.Decode, default limits), reporting the
// version and number of entries a sync would get, or why it would get
// none.
func KEV(ctx context.Context, rawURL string) []Check {
	var cat *kev.Catalog
	shown, c := kevFeed.get(ctx, rawURL, "application/json, text/csv;q=0.9, */*;q=0.1", func(r io.Reader) error {
		var err error
		cat, err = kev.Decode(r, kev.DefaultLimits)
		return err
	})
	if c != nil {
		return []Check{*c}
	}
	return []Check{KEVCatalog(shown, cat)}
}

// KEVCatalog judges the catalog read from the address shown: its version,
// its entries and when CISA released it.
func KEVCatalog(shown string, c *kev.Catalog) Check {
	if len(c.Entries) == 0 {
		return fail("kev", "check that "+kevFeed.setting()+" serves CISA's known_exploited_vulnerabilities.json",
			"%s: the catalog has no entries: a sync would leave no finding KEV", shown)
	}
	if c.Version == "" {
		// The CSV file has no version: each sync stores it again.
		return ok("kev", "a catalog without a version (the CSV file?), %s entries, from %s", thousands(len(c.Entries)), shown)
	}
	released := ""
	if c.Released != "" {
		released = " (released " + releasedTime(c.Released) + ")"
	}
	return ok("kev", "catalog %s, %s entries%s, from %s", c.Version, thousands(len(c.Entries)), released, shown)
}

// releasedTime shows the feed's dateReleased to the minute, in UTC, or as
// written when it does not parse.
func releasedTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// EPSS reads the start of FIRST's scores file from rawURL ("" for
// epss.DefaultURL): its header line and a few rows, decoded as a sync
// decodes them, then stops (the whole file is 250,000 rows). It reports
// the model version and score date, and warns when the scores are more
// than 3 days older than now.
func EPSS(ctx context.Context, rawURL string, now time.Time) []Check {
	var h epss.Header
	rows := 0
	shown, c := epssFeed.get(ctx, rawURL, "*/*", func(r io.Reader) error {
		err := epss.Decode(r, epss.DefaultLimits, func(got epss.Header) error {
			h = got
			return nil
		}, func(epss.Score) error {
			if rows++; rows >= epssSample {
				return errEnough
			}
			return nil
		})
		if errors.Is(err, errEnough) {
			return nil
		}
		return err
	})
	if c != nil {
		return []Check{*c}
	}
	return []Check{EPSSFile(shown, h, rows, now)}
}

// EPSSFile judges the start of an EPSS file read from the address shown:
// its header and the number of rows that followed it (at most
// epssSample), at now.
func EPSSFile(shown string, h epss.Header, rows int, now time.Time) Check {
	fix := "check that " + epssFeed.setting() + " serves FIRST's epss_scores-current.csv.gz"
	if rows == 0 {
		return fail("epss", fix, "%s: the file holds no scores", shown)
	}
	model := h.ModelVersion
	if model == "" {
		model = "unknown"
	}
	if len(h.ScoreDate) < 10 {
		return warn("epss", fix, "%s: model %s, no score_date line: the scores' age is unknown and a sync stores them undated", shown, model)
	}
	day, err := time.Parse(time.DateOnly, h.ScoreDate[:10])
	if err != nil {
		return warn("epss", fix, "%s: model %s, score_date %q is not a date: the scores' age is unknown and a sync stores them undated", shown, model, shorten(h.ScoreDate))
	}
	today := now.UTC().Truncate(24 * time.Hour)
	age := today.Sub(day)
	if age > maxEPSSAge {
		return warn("epss", "FIRST publishes a file a day: point "+epssFeed.setting()+" at "+epss.DefaultURL+", or refresh the mirror that serves it",
			"%s: model %s, scores of %s, %d days old: the file served is stale", shown, model, day.Format(time.DateOnly), int(age/(24*time.Hour)))
	}
	return ok("epss", "model %s, scores of %s%s, from %s", model, day.Format(time.DateOnly), daysOld(age), shown)
}

// daysOld says how old a score date is, when it is not today's.
func daysOld(age time.Duration) string {
	switch d := int(age / (24 * time.Hour)); {
	case d == 1:
		return " (1 day old)"
	case d > 1:
		return fmt.Sprintf(" (%d days old)", d)
	case d < 0:
		return " (ahead of this machine's date)"
	}
	return ""
}

// get checks rawURL, GETs it within the doctor's timeouts and passes a
// 200's body to read. It returns the address as shown in checks, and a
// failed check when the URL is unusable, the server does not answer or
// answers otherwise than 200, or read fails.
func (f feed) get(ctx context.Context, rawURL, accept string, read func(io.Reader) error) (string, *Check) {
	raw := strings.TrimSpace(rawURL)
	if raw == "" {
		raw = f.def
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c := fail(f.area, "set "+f.env+" to "+f.def+", or unset it", "%s is not an http or https URL", f.setting())
		return "", &c
	}
	if u.User != nil {
		c := fail(f.area, "remove the user and password from "+f.env+": the feed is public",
			"%s %s carries a user or password, which a sync would send to whoever serves the feed", f.setting(), u.Redacted())
		return "", &c
	}
	shown := shownURL(u)
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	// The time allowed, as messages say it: the caller's may be shorter.
	allowed := probeTimeout
	if dl, found := ctx.Deadline(); found {
		allowed = min(allowed, time.Until(dl))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, shown, nil)
	if err != nil {
		c := fail(f.area, "check "+f.setting(), "%s: %v", shown, err)
		return shown, &c
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", version.UserAgent())
	// The default client follows redirects: nothing secret goes with them.
	hc := &http.Client{Transport: transport()}
	res, err := hc.Do(req)
	if err != nil {
		c := f.unreachable(ctx, shown, allowed, err)
		return shown, &c
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		c := f.status(shown, res.StatusCode)
		return shown, &c
	}
	body := &bodyReader{r: res.Body}
	if err := read(body); err != nil {
		switch {
		case ctx.Err() != nil:
			c := fail(f.area, "check the network's speed to the feed, or set "+f.env+" to a nearer mirror",
				"%s: the answer did not arrive within %s", shown, duration(allowed))
			return shown, &c
		case body.err != nil || errors.Is(err, io.ErrUnexpectedEOF):
			why := err
			if body.err != nil {
				why = body.err
			}
			c := fail(f.area, "run qvt doctor again; if it repeats, check the proxy (HTTPS_PROXY) or the mirror",
				"%s: the answer was cut off after %s bytes: %v", shown, thousands(int(body.n)), why)
			return shown, &c
		}
		msg := strings.TrimPrefix(err.Error(), f.area+": ")
		if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "text/html" {
			msg += " (an HTML page: a proxy's or portal's?)"
		}
		c := fail(f.area, "check that "+f.setting()+" serves "+f.what(), "%s does not decode: %s", shown, msg)
		return shown, &c
	}
	return shown, nil
}

// bodyReader counts what a response's body gave and keeps the first
// error other than EOF its reads met: the connection's verdict, which a
// decoder would report as a malformed file.
type bodyReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// shownURL is a feed's address as checks show it: the value of a query
// parameter whose name says it is a secret (a mirror's token) is masked.
func shownURL(u *url.URL) string {
	v := *u
	if v.RawQuery != "" {
		q := v.Query()
		for k := range q {
			if isSecretKey(k) || strings.EqualFold(k, "sig") || strings.EqualFold(k, "signature") || strings.EqualFold(k, "key") {
				q[k] = []string{masked}
			}
		}
		v.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(masked), masked)
	}
	return v.Redacted()
}

// what names the file a feed's URL must serve.
func (f feed) what() string {
	if f.area == "kev" {
		return "CISA's known_exploited_vulnerabilities.json (" + f.def + ")"
	}
	return "FIRST's epss_scores-current.csv.gz (" + f.def + ")"
}

// unreachable judges a request that got no answer.
func (f feed) unreachable(ctx context.Context, shown string, allowed time.Duration, err error) Check {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns):
		return fail(f.area, "check "+f.setting()+" and this machine's DNS; where the Internet is reached through a proxy, set HTTPS_PROXY",
			"%s: the name %s does not resolve", shown, dns.Name)
	case ctx.Err() != nil:
		return fail(f.area, "check "+f.setting()+", the firewall and HTTPS_PROXY",
			"%s does not answer within %s", shown, duration(allowed))
	}
	return fail(f.area, "check "+f.setting()+", the firewall and HTTPS_PROXY; without Internet access, point "+f.env+" at a mirror",
		"%s does not answer: %v", shown, unwrapURL(err))
}

// status judges an answer other than 200.
func (f feed) status(shown string, code int) Check {
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		return fail(f.area, "try again later (a sync retries on its own); if it lasts, check "+f.setting()+" and the proxy",
			"%s: HTTP %s", shown, strings.TrimSpace(text))
	case code == http.StatusProxyAuthRequired:
		return fail(f.area, "give the proxy's credentials in HTTPS_PROXY (http://user:password@proxy:port)",
			"%s: HTTP %s from the proxy", shown, strings.TrimSpace(text))
	}
	return fail(f.area, "check "+f.setting()+": the feed is "+f.def, "%s: HTTP %s", shown, strings.TrimSpace(text))
}

// thousands writes n with commas between groups of three digits: 1,404.
func thousands(n int) string { return humanize.Comma(int64(n)) }
