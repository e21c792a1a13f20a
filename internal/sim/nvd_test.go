package sim

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/nvd"
)

// nvdParam formats a time as NVD's examples do, without an offset.
func nvdParam(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") }

func nvdGet(t testing.TB, s *Server, rawQuery string, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.NVDURL()+"?"+rawQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

func decodeNVD(t testing.TB, body []byte) (nvd.Info, []nvd.CVE) {
	t.Helper()
	var out []nvd.CVE
	info, err := nvd.Decode(bytes.NewReader(body), func(c *nvd.CVE) error {
		out = append(out, *c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return info, out
}

// nvdPages reads every page of a query, per records at a time.
func nvdPages(t testing.TB, s *Server, q url.Values, per int) []nvd.CVE {
	t.Helper()
	var out []nvd.CVE
	for start := 0; ; {
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("resultsPerPage", strconv.Itoa(per))
		r := nvdGet(t, s, q.Encode(), nil)
		mustOK(t, r)
		info, page := decodeNVD(t, r.body)
		if info.Format != nvd.FormatAPI || info.StartIndex != start || info.ResultsPerPage != len(page) || len(page) > per {
			t.Fatalf("page at %d: %+v with %d records", start, info, len(page))
		}
		out = append(out, page...)
		start += len(page)
		if start >= info.TotalResults || len(page) == 0 {
			if start != info.TotalResults {
				t.Fatalf("read %d of %d", start, info.TotalResults)
			}
			return out
		}
	}
}

func TestNVD(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	n := d.CVECount(0)

	t.Run("all pages", func(t *testing.T) {
		cves := nvdPages(t, s, url.Values{}, 700)
		if len(cves) != n {
			t.Fatalf("%d CVEs, want %d", len(cves), n)
		}
		for i, c := range cves {
			if c.ID != d.CVEID(i) {
				t.Fatalf("record %d is %s, want %s", i, c.ID, d.CVEID(i))
			}
			if i%37 == 0 {
				sameJSON(t, c.ID, c, d.CVE(i, 0))
			}
		}
	})
	t.Run("default page and timestamp", func(t *testing.T) {
		before := s.Now()
		r := nvdGet(t, s, "", nil)
		mustOK(t, r)
		info, cves := decodeNVD(t, r.body)
		if info.TotalResults != n || len(cves) != 2000 || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%+v, %d records", info, len(cves))
		}
		ts, err := time.Parse("2006-01-02T15:04:05.000", info.Timestamp)
		if err != nil || ts.Before(before.Truncate(time.Millisecond)) || ts.After(s.Now()) {
			t.Errorf("timestamp %q (%v), clock %s", info.Timestamp, err, before)
		}
	})

	ids := func(cves []nvd.CVE) []string {
		var out []string
		for _, c := range cves {
			out = append(out, c.ID)
		}
		return out
	}
	idsOf := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, d.CVEID(i))
		}
		return out
	}
	a := d.Now(0).Add(-100 * 24 * time.Hour)
	b := d.Now(0)
	modified := d.CVEsModifiedBetween(a, b, 0)
	tests := []struct {
		name string
		q    url.Values
		want func() []int
	}{
		{"lastMod range", url.Values{"lastModStartDate": {nvdParam(a)}, "lastModEndDate": {nvdParam(b)}}, func() []int { return modified }},
		{"lastMod range with offsets", url.Values{
			"lastModStartDate": {a.In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000-07:00")},
			"lastModEndDate":   {b.Format("2006-01-02T15:04:05Z07:00")},
		}, func() []int { return modified }},
		{"pub range", url.Values{"pubStartDate": {"2024-03-01T00:00:00.000"}, "pubEndDate": {"2024-06-29T00:00:00.000"}}, func() []int {
			var out []int
			from, to := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 6, 29, 0, 0, 0, 0, time.UTC)
			for i := range n {
				if _, p, _, _ := d.CVEState(i, 0); !p.Before(from) && !p.After(to) {
					out = append(out, i)
				}
			}
			return out
		}},
		{"noRejected", url.Values{"noRejected": {""}}, func() []int {
			var out []int
			for i := range n {
				if st, _, _, _ := d.CVEState(i, 0); st != "Rejected" {
					out = append(out, i)
				}
			}
			return out
		}},
		{"cveId", url.Values{"cveId": {d.CVEID(1234)}}, func() []int { return []int{1234} }},
		{"unknown cveId", url.Values{"cveId": {"CVE-1990-0001"}}, func() []int { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(nvdPages(t, s, tc.q, 600))
			want := idsOf(tc.want())
			if !slices.Equal(got, want) || len(want) == n {
				t.Errorf("got %d CVEs, want %d (of %d)", len(got), len(want), n)
			}
		})
	}

	day := func(t time.Time) string { return nvdParam(t) }
	errs := []struct {
		name, query, msg string
	}{
		{"start without end", "lastModStartDate=" + day(a), "Both lastModStartDate and lastModEndDate are required when either is present"},
		{"over 120 days", "pubStartDate=" + day(a) + "&pubEndDate=" + day(a.Add(121*24*time.Hour)), "Date range cannot exceed 120 days"},
		{"date only", "lastModStartDate=2026-01-01&lastModEndDate=2026-02-01", "Invalid ISO 8601 date/time format, see documentation."},
		{"unencoded plus", "lastModStartDate=2026-01-01T00:00:00.000+01:00&lastModEndDate=2026-02-01T00:00:00.000+01:00", "Invalid ISO 8601 date/time format, see documentation."},
		{"page too large", "resultsPerPage=2001", "resultsPerPage parameter cannot exceed 2000"},
		{"negative start", "startIndex=-1", "Invalid startIndex parameter"},
		{"apiKey as a parameter", "apiKey=abc", "Invalid parameter: apiKey"},
		{"bad cveId", "cveId=log4shell", "Invalid cveId parameter"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			r := nvdGet(t, s, tc.query, nil)
			if r.status != http.StatusNotFound || len(r.body) != 0 || r.header.Get("message") != tc.msg {
				t.Errorf("status %d, message %q, body %q", r.status, r.header.Get("message"), r.body)
			}
		})
	}
	// The encoded form of the same offset is accepted.
	r := nvdGet(t, s, "lastModStartDate=2026-08-01T00:00:00.000%2B01:00&lastModEndDate=2026-09-01T00:00:00.000%2B01:00&resultsPerPage=1", nil)
	mustOK(t, r)
	req, _ := http.NewRequest(http.MethodPost, s.NVDURL(), strings.NewReader(""))
	if r := do(t, req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", r.status)
	}
}

func TestNVDRateLimit(t *testing.T) {
	s := start(t, Config{NVDRateLimit: 2})
	for i := range 3 {
		r := nvdGet(t, s, "resultsPerPage=0", nil)
		if want := map[bool]int{true: 200, false: 403}[i < 2]; r.status != want {
			t.Errorf("call %d without a key: %d, want %d", i+1, r.status, want)
		}
	}
	key := func(r *http.Request) { r.Header.Set("apiKey", "k") }
	for i := range 21 {
		r := nvdGet(t, s, "resultsPerPage=0", key)
		if want := map[bool]int{true: 200, false: 403}[i < 20]; r.status != want {
			t.Errorf("call %d with a key: %d, want %d", i+1, r.status, want)
		}
	}
	if c := s.Log()[2]; c.API != APINVD || c.Status != 403 || c.Fault != "" {
		t.Errorf("log %+v", c)
	}
}
