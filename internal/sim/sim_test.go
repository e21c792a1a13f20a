package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/qualys"
)

// testData is small enough for every test to walk all of it.
var testData = gen.Config{Seed: 7, QIDs: 400, Hosts: 90, DetectionsPerHost: 8, CVEs: 3000}

func start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Data == (gen.Config{}) {
		cfg.Data = testData
	}
	s := New(cfg)
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// plain is a client that leaves Accept-Encoding to the tests.
var plain = &http.Client{Transport: &http.Transport{DisableCompression: true}}

type reply struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

// call sends a Qualys request, POST with a form body unless get, with the
// demo credentials and X-Requested-With; edit changes the request first.
func call(t testing.TB, s *Server, path string, p url.Values, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.BaseURL()+path, strings.NewReader(p.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo", "demo")
	req.Header.Set("X-Requested-With", "qvt test")
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

func get(t testing.TB, rawURL string, edit func(*http.Request)) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("demo", "demo")
	req.Header.Set("X-Requested-With", "qvt test")
	if edit != nil {
		edit(req)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, body, err}
}

func vals(kv ...string) url.Values {
	v := url.Values{"action": {"list"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func mustOK(t testing.TB, r reply) {
	t.Helper()
	if r.status != http.StatusOK || r.err != nil {
		t.Fatalf("status %d, read error %v: %.300s", r.status, r.err, r.body)
	}
}

// sameJSON compares records as the qualys round-trip test does.
func sameJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Errorf("%s differs:\n got %s\nwant %s", what, a, b)
	}
}

// genVuln is gen's entry as the decoder returns it (empty CVE ids dropped).
func genVuln(d *gen.Dataset, qid, epoch int) qualys.Vuln {
	v := d.Vuln(qid, epoch)
	v.CVEs = slices.DeleteFunc(v.CVEs, func(s string) bool { return s == "" })
	if len(v.CVEs) == 0 {
		v.CVEs = nil
	}
	return v
}

func decodeKB(t testing.TB, body []byte) []qualys.Vuln {
	t.Helper()
	var out []qualys.Vuln
	if _, err := qualys.DecodeKB(bytes.NewReader(body), func(v *qualys.Vuln) error {
		out = append(out, *v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// idSet is an ID_SET response (KB or host list details=None).
type idSet struct {
	XMLName  xml.Name
	Datetime string   `xml:"RESPONSE>DATETIME"`
	IDs      []string `xml:"RESPONSE>ID_SET>ID"`
	Ranges   []string `xml:"RESPONSE>ID_SET>ID_RANGE"`
	Warning  *struct {
		Code string `xml:"CODE"`
		Text string `xml:"TEXT"`
		URL  string `xml:"URL"`
	} `xml:"RESPONSE>WARNING"`
}

func (s idSet) all(t testing.TB) []int64 {
	var out []int64
	for _, v := range s.IDs {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	for _, v := range s.Ranges {
		a, b, _ := strings.Cut(v, "-")
		lo, err1 := strconv.ParseInt(a, 10, 64)
		hi, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatal(v)
		}
		for n := lo; n <= hi; n++ {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func decodeIDSet(t testing.TB, body []byte) idSet {
	t.Helper()
	var s idSet
	if err := xml.Unmarshal(body, &s); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	return s
}

func TestKB(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	s.Advance()
	s.Advance()
	const epoch = 2
	qids := d.QIDs()
	since := d.Now(1).Add(-time.Hour)
	tests := []struct {
		name   string
		params url.Values
		want   func() []int
		basic  bool
	}{
		{"all details=All", vals("details", "All"), func() []int { return qids }, false},
		{"default details is Basic", vals(), func() []int { return qids }, true},
		{"ids list and ranges", vals("details", "All", "ids", strconv.Itoa(qids[3])+","+strconv.Itoa(qids[10])+"-"+strconv.Itoa(qids[20])+",1"),
			func() []int { return append([]int{qids[3]}, qids[10:21]...) }, false},
		{"id_min id_max", vals("details", "All", "id_min", strconv.Itoa(qids[100]), "id_max", strconv.Itoa(qids[199])),
			func() []int { return qids[100:200] }, false},
		{"last_modified_after", vals("details", "All", "last_modified_after", qualysTime(since)),
			func() []int { return d.VulnsModifiedSince(since, epoch) }, false},
		{"published window", vals("details", "All", "published_after", "2020-01-01", "published_before", "2022-01-01T00:00:00Z"),
			func() []int {
				var out []int
				for _, q := range qids {
					if p, _, _ := d.VulnTimes(q, epoch); p.Year() >= 2020 && p.Year() < 2022 {
						out = append(out, q)
					}
				}
				return out
			}, false},
		{"is_patchable", vals("details", "All", "is_patchable", "0"),
			func() []int {
				var out []int
				for _, q := range qids {
					if !d.Vuln(q, epoch).Patchable {
						out = append(out, q)
					}
				}
				return out
			}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.params.Set("show_supported_modules_info", "1")
			tc.params.Set("show_disabled_flag", "1")
			r := call(t, s, PathKB, tc.params, nil)
			mustOK(t, r)
			got := decodeKB(t, r.body)
			want := tc.want()
			if len(want) == 0 {
				t.Fatal("test selects nothing")
			}
			var gotIDs []int
			for _, v := range got {
				gotIDs = append(gotIDs, v.QID)
			}
			if !slices.Equal(gotIDs, want) {
				t.Fatalf("got %d QIDs, want %d", len(gotIDs), len(want))
			}
			for i, v := range got {
				w := genVuln(d, v.QID, epoch)
				if tc.basic {
					w.Exploits, w.Malware = nil, nil
				}
				if i%7 == 0 || tc.basic {
					sameJSON(t, "QID "+strconv.Itoa(v.QID), v, w)
				}
			}
		})
	}

	t.Run("details=None", func(t *testing.T) {
		r := call(t, s, PathKB, vals("details", "None", "id_max", strconv.Itoa(qids[49])), nil)
		mustOK(t, r)
		set := decodeIDSet(t, r.body)
		if set.XMLName.Local != qualys.RootKB || len(set.all(t)) != 50 || set.all(t)[49] != int64(qids[49]) {
			t.Errorf("%s with %d ids", set.XMLName.Local, len(set.all(t)))
		}
	})
	t.Run("optional fields hidden by default", func(t *testing.T) {
		r := call(t, s, PathKB, vals("details", "All"), nil)
		mustOK(t, r)
		for _, v := range decodeKB(t, r.body) {
			if v.SupportedModules != "" || v.Disabled {
				t.Fatalf("QID %d shows SUPPORTED_MODULES or IS_DISABLED unasked", v.QID)
			}
		}
	})
}

func TestHostList(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	all := d.HostIDs(0)

	r := call(t, s, PathHostList, vals("details", "None", "truncation_limit", "0"), nil)
	mustOK(t, r)
	set := decodeIDSet(t, r.body)
	if set.XMLName.Local != qualys.RootHostList || !slices.Equal(set.all(t), all) || set.Warning != nil {
		t.Fatalf("%s: %d ids, want %d", set.XMLName.Local, len(set.all(t)), len(all))
	}

	// Pages of 20 hosts, following the warnings' URLs.
	var got []int64
	next, pages := "", 0
	for {
		if next == "" {
			r = call(t, s, PathHostList, vals("details", "None", "truncation_limit", "20"), nil)
		} else {
			r = get(t, next, nil)
		}
		mustOK(t, r)
		set = decodeIDSet(t, r.body)
		ids := set.all(t)
		if len(ids) > 20 {
			t.Fatalf("page of %d", len(ids))
		}
		got = append(got, ids...)
		pages++
		if set.Warning == nil {
			break
		}
		if set.Warning.Code != "1980" || set.Warning.Text != "20 record limit exceeded. Use URL to get next batch of results." ||
			!strings.HasPrefix(set.Warning.URL, s.BaseURL()+PathHostList+"?action=list&") {
			t.Fatalf("warning %+v", set.Warning)
		}
		next = set.Warning.URL
	}
	if !slices.Equal(got, all) || pages != (len(all)+19)/20 {
		t.Errorf("%d pages, %d ids, want %d", pages, len(got), len(all))
	}

	since := d.Now(0).Add(-6 * time.Hour)
	r = call(t, s, PathHostList, vals("details", "None", "truncation_limit", "0", "vm_processed_after", qualysTime(since)), nil)
	mustOK(t, r)
	if want := d.HostsProcessedSince(since, 0); len(want) == 0 || len(want) == len(all) || !slices.Equal(decodeIDSet(t, r.body).all(t), want) {
		t.Errorf("vm_processed_after: got %d hosts, want %d", len(decodeIDSet(t, r.body).all(t)), len(want))
	}

	// details other than None are Qualys' but not the double's.
	if r = call(t, s, PathHostList, vals(), nil); r.status != http.StatusBadRequest {
		t.Errorf("default details: status %d", r.status)
	}
}

// TestIDSetLayout checks the double's ID_SET writer against the encoder's.
func TestIDSetLayout(t *testing.T) {
	ids := []int64{5, 7, 8, 9, 12, 100, 101}
	var a, b bytes.Buffer
	if err := qualys.WriteHostIDList(&a, "2026-11-01T00:00:00Z", ids); err != nil {
		t.Fatal(err)
	}
	if err := writeIDSet(&b, qualys.RootHostList, hostListDTD, "2026-11-01T00:00:00Z", ids, nil); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("writeIDSet:\n%s\nWriteHostIDList:\n%s", b.String(), a.String())
	}
}

// detectionPages reads every page of a detection query, following the
// warnings' URLs, and returns the hosts in order.
func detectionPages(t testing.TB, s *Server, p url.Values) (hosts []qualys.Host, pages int) {
	t.Helper()
	next := ""
	for {
		var r reply
		if next == "" {
			r = call(t, s, PathDetections, p, nil)
		} else {
			r = get(t, next, nil)
		}
		mustOK(t, r)
		resp, err := qualys.DecodeDetections(bytes.NewReader(r.body), func(h *qualys.Host) error {
			hosts = append(hosts, *h)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if resp.Warning == nil {
			return hosts, pages
		}
		if resp.Warning.Code != "1980" || !strings.Contains(resp.Warning.URL, "&id_min=") {
			t.Fatalf("warning %+v", resp.Warning)
		}
		next = resp.Warning.URL
	}
}

func TestDetectionPaging(t *testing.T) {
	s := start(t, Config{TruncationLimit: 40})
	d := s.Dataset()
	all := d.HostIDs(0)
	everything := vals("status", "New,Active,Re-Opened,Fixed", "show_igs", "1", "include_ignored", "1", "include_disabled", "1",
		"show_reopened_info", "1", "show_tags", "1", "show_qds", "1", "show_qds_factors", "1", "show_asset_id", "1")
	for _, tc := range []struct {
		name  string
		limit string // "" = the server's default (40)
		pages int
	}{
		{"default page size", "", (len(all) + 39) / 40},
		{"truncation_limit 25", "25", (len(all) + 24) / 25},
		{"no truncation", "0", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := cloneValues(everything)
			if tc.limit != "" {
				p.Set("truncation_limit", tc.limit)
			}
			hosts, pages := detectionPages(t, s, p)
			if pages != tc.pages || len(hosts) != len(all) {
				t.Fatalf("%d pages, %d hosts; want %d pages, %d hosts", pages, len(hosts), tc.pages, len(all))
			}
			for i, h := range hosts {
				if h.ID != all[i] {
					t.Fatalf("host %d is %d, want %d (each host exactly once, ascending)", i, h.ID, all[i])
				}
				if i%5 == 0 {
					sameJSON(t, "host "+strconv.FormatInt(h.ID, 10), h, d.Host(h.ID, 0))
				}
			}
		})
	}
}

func TestDetectionFilters(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	s.Advance()
	const epoch = 1

	// want applies a detection filter to gen's hosts, the way Qualys
	// does: hosts left without detections are dropped.
	want := func(keep func(*qualys.Detection) bool) map[int64]int {
		out := map[int64]int{}
		for _, id := range d.HostIDs(epoch) {
			h := d.Host(id, epoch)
			n := 0
			for i := range h.Detections {
				if keep(&h.Detections[i]) {
					n++
				}
			}
			if n > 0 {
				out[id] = n
			}
		}
		return out
	}
	count := func(hosts []qualys.Host) map[int64]int {
		out := map[int64]int{}
		for _, h := range hosts {
			out[h.ID] = len(h.Detections)
		}
		return out
	}
	defaults := func(x *qualys.Detection) bool {
		return x.Status != "Fixed" && x.Type != "Info" && !x.Ignored && !x.Disabled
	}
	qid := d.Host(d.HostIDs(0)[0], epoch).Detections[0].QID
	since := d.Now(epoch).Add(-12 * time.Hour)
	processed := d.HostsProcessedSince(since, epoch)
	tests := []struct {
		name   string
		params url.Values
		keep   func(*qualys.Detection) bool
		check  func(t *testing.T, h *qualys.Host)
	}{
		{"defaults leave out Fixed, Info, ignored and disabled", vals(), defaults, func(t *testing.T, h *qualys.Host) {
			if h.Tags != nil || h.AssetID != 0 {
				t.Errorf("host %d: tags or asset id unasked", h.ID)
			}
			for _, x := range h.Detections {
				if x.QDS != 0 || x.TimesReopened != 0 || x.FirstReopened != "" || x.Results == "" {
					t.Errorf("host %d QID %d: QDS or reopened info unasked, or no results", h.ID, x.QID)
				}
			}
		}},
		{"Fixed when asked", vals("status", "Fixed"), func(x *qualys.Detection) bool {
			return x.Status == "Fixed" && x.Type != "Info" && !x.Ignored && !x.Disabled
		}, nil},
		{"show_results=0", vals("show_results", "0", "show_reopened_info", "1", "show_qds", "1"), defaults, func(t *testing.T, h *qualys.Host) {
			for _, x := range h.Detections {
				if x.Results != "" || x.Type != "Info" && x.QDS == 0 {
					t.Errorf("host %d QID %d: results shown or QDS missing", h.ID, x.QID)
				}
			}
		}},
		{"qids", vals("qids", strconv.Itoa(qid)), func(x *qualys.Detection) bool { return defaults(x) && x.QID == qid }, nil},
		{"severities and include_vuln_type", vals("severities", "4-5", "include_vuln_type", "confirmed"), func(x *qualys.Detection) bool {
			return defaults(x) && x.Severity >= 4 && x.Type == "Confirmed"
		}, nil},
		{"vm_processed_after", vals("vm_processed_after", qualysTime(since)), func(x *qualys.Detection) bool {
			return defaults(x) && x.LastProcessed >= qualysTime(since)
		}, func(t *testing.T, h *qualys.Host) {
			if _, ok := slices.BinarySearch(processed, h.ID); !ok {
				t.Errorf("host %d was not processed after %s", h.ID, since)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params
			p.Set("truncation_limit", "0")
			hosts, _ := detectionPages(t, s, p)
			w := want(tc.keep)
			if g := count(hosts); len(w) == 0 || !mapsEqual(g, w) {
				t.Fatalf("got %d hosts, want %d (or per-host counts differ)", len(g), len(w))
			}
			if tc.check != nil {
				for i := range hosts {
					tc.check(t, &hosts[i])
				}
			}
		})
	}
}

func mapsEqual(a, b map[int64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestIncremental checks that after Advance the incremental queries return
// what changed, as gen says.
func TestIncremental(t *testing.T) {
	s := start(t, Config{})
	d := s.Dataset()
	r := call(t, s, PathKB, vals("details", "None"), nil)
	mustOK(t, r)
	mark := decodeIDSet(t, r.body).Datetime // a client's watermark
	t0, err := time.Parse(time.RFC3339, mark)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.Advance()
	}
	const epoch = 3

	r = call(t, s, PathKB, vals("details", "All", "last_modified_after", mark), nil)
	mustOK(t, r)
	var qids []int
	for _, v := range decodeKB(t, r.body) {
		qids = append(qids, v.QID)
		if v.LastModified < mark {
			t.Errorf("QID %d modified %s, before %s", v.QID, v.LastModified, mark)
		}
	}
	if want := d.VulnsModifiedSince(t0, epoch); len(want) == 0 || !slices.Equal(qids, want) {
		t.Errorf("KB: %d changed QIDs, want %d", len(qids), len(want))
	}

	hosts, _ := detectionPages(t, s, vals("vm_processed_after", mark, "status", "New,Active,Re-Opened,Fixed",
		"show_igs", "1", "include_ignored", "1", "include_disabled", "1", "truncation_limit", "0"))
	var ids []int64
	for _, h := range hosts {
		ids = append(ids, h.ID)
	}
	if want := d.HostsProcessedSince(t0, epoch); len(want) == 0 || !slices.Equal(ids, want) {
		t.Errorf("detections: %d changed hosts, want %d", len(ids), len(want))
	}
	if len(d.HostIDs(epoch)) <= len(d.HostIDs(0)) {
		t.Error("no new hosts")
	}

	from := d.Now(0)
	cves := nvdPages(t, s, url.Values{"lastModStartDate": {nvdParam(from)}, "lastModEndDate": {nvdParam(s.Now())}}, 500)
	if want := d.CVEsModifiedBetween(from, s.Now(), epoch); len(want) < d.CVECount(epoch)-d.CVECount(0) || len(cves) != len(want) {
		t.Errorf("NVD: %d changed CVEs, want %d", len(cves), len(want))
	}
}

func TestAuthAndParameters(t *testing.T) {
	// Faults never apply to calls refused for credentials or parameters.
	s := start(t, Config{Faults: Faults{Seed: 1, P503: 1}})
	noAuth := func(r *http.Request) { r.Header.Del("Authorization") }
	tests := []struct {
		name   string
		path   string
		params url.Values
		edit   func(*http.Request)
		status int
		code   int
		text   string
	}{
		{"no credentials", PathKB, vals(), noAuth, 401, 2000, "Bad Login/Password"},
		{"bad password", PathDetections, vals(), func(r *http.Request) { r.SetBasicAuth("demo", "nope") }, 401, 2000, "Bad Login/Password"},
		{"no X-Requested-With", PathKB, vals(), func(r *http.Request) { r.Header.Del("X-Requested-With") }, 400, 1903, "Missing required header: X-Requested-With"},
		{"unknown parameter", PathDetections, vals("show_everything", "1", "colour", "red"), nil, 400, 1901, "Unrecognized parameter(s): colour,show_everything"},
		{"KB has no truncation_limit", PathKB, vals("truncation_limit", "10"), nil, 400, 1901, "Unrecognized parameter(s): truncation_limit"},
		{"bad ids", PathKB, vals("ids", "abc123"), nil, 400, 1905, "parameter ids has invalid value: abc123 (neither a positive integer nor a range: abc123)"},
		{"bad host ids", PathDetections, vals("ids", "5-2"), nil, 400, 1905, "parameter ids has invalid value: 5-2 (neither a positive integer nor a range: 5-2)"},
		{"no action", PathKB, url.Values{}, nil, 400, 1905, "parameter action is required: action=list"},
		{"wrong action", PathHostList, url.Values{"action": {"purge"}, "details": {"None"}}, nil, 400, 1905, "parameter action has invalid value: purge (valid value is list)"},
		{"bad status", PathDetections, vals("status", "Open"), nil, 400, 1905, ""},
		{"bad flag", PathDetections, vals("show_igs", "yes"), nil, 400, 1905, ""},
		{"bad date", PathKB, vals("last_modified_after", "01/02/2026"), nil, 400, 1905, ""},
		{"bad truncation_limit", PathDetections, vals("truncation_limit", "-1"), nil, 400, 1905, ""},
		{"CSV", PathDetections, vals("output_format", "CSV"), nil, 400, 1905, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, s, tc.path, tc.params, tc.edit)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			apiErr, err := qualys.DecodeSimpleReturn(bytes.NewReader(r.body))
			if err != nil || apiErr == nil || apiErr.Code != tc.code || tc.text != "" && apiErr.Text != tc.text {
				t.Fatalf("got %+v, %v; want code %d %q", apiErr, err, tc.code, tc.text)
			}
			if r.header.Get("X-RateLimit-Limit") == "" || r.header.Get("Content-Type") != "text/xml;charset=UTF-8" {
				t.Errorf("headers %v", r.header)
			}
		})
	}
	// A GET query works as a POST body does, and the two merge.
	r := get(t, s.BaseURL()+PathKB+"?action=list&details=None", nil)
	if r.status != http.StatusServiceUnavailable || !bytes.Contains(r.body, []byte("<html>")) {
		t.Errorf("GET: %d %.100s", r.status, r.body)
	}
	for _, c := range s.Log() {
		if c.Status != http.StatusServiceUnavailable && c.Fault != "" {
			t.Errorf("fault %q on a refused call %+v", c.Fault, c)
		}
	}
}

func TestHeadersAndGzip(t *testing.T) {
	s := start(t, Config{RateLimit: 50, RateWindow: 10 * time.Minute})
	for i, gz := range []bool{false, true} {
		r := call(t, s, PathDetections, vals("truncation_limit", "5"), func(r *http.Request) {
			if gz {
				r.Header.Set("Accept-Encoding", "gzip")
			}
		})
		mustOK(t, r)
		h := r.header
		for name, want := range map[string]string{
			"X-RateLimit-Limit": "50", "X-RateLimit-Window-Sec": "600", "X-RateLimit-Remaining": strconv.Itoa(49 - i),
			"X-RateLimit-ToWait-Sec": "0", "X-Concurrency-Limit-Limit": "2", "X-Concurrency-Limit-Running": "1",
			"Content-Type": "text/xml;charset=UTF-8",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		if h.Get("Content-Length") != "" {
			t.Error("a Content-Length: the body is not streamed")
		}
		body := r.body
		if gz {
			if h.Get("Content-Encoding") != "gzip" {
				t.Fatal("no gzip when asked")
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		} else if h.Get("Content-Encoding") != "" {
			t.Error("gzip unasked")
		}
		n := 0
		if _, err := qualys.DecodeDetections(bytes.NewReader(body), func(*qualys.Host) error { n++; return nil }); err != nil || n != 5 {
			t.Errorf("gzip=%v: %d hosts, %v", gz, n, err)
		}
	}
	// The default Go client asks for gzip itself and decompresses.
	req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+PathKB+"?action=list&details=None", nil)
	req.SetBasicAuth("demo", "demo")
	req.Header.Set("X-Requested-With", "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !resp.Uncompressed || !bytes.Contains(body, []byte("<ID_SET>")) || len(resp.TransferEncoding) == 0 {
		t.Errorf("default client: uncompressed %v, transfer %v", resp.Uncompressed, resp.TransferEncoding)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	s := start(t, Config{Latency: 300 * time.Millisecond})
	const n = 3 // Concurrency + 1
	results := make(chan reply, n)
	ready := make(chan struct{})
	for range n {
		go func() {
			<-ready
			results <- call(t, s, PathDetections, vals("truncation_limit", "2"), nil)
		}()
	}
	close(ready)
	refused := 0
	for range n {
		r := <-results
		switch r.status {
		case http.StatusOK:
		case http.StatusConflict:
			refused++
			e, err := qualys.DecodeSimpleReturn(bytes.NewReader(r.body))
			if err != nil || e.Code != 1960 || e.Items["CALLS_TO_FINISH"] != "1" || r.header.Get("X-Concurrency-Limit-Running") != "2" {
				t.Errorf("refusal %+v %v %v", e, err, r.header)
			}
		default:
			t.Errorf("status %d", r.status)
		}
	}
	if refused == 0 || s.MaxConcurrent(APIDetections) != 2 {
		t.Errorf("%d refused, max concurrent %d", refused, s.MaxConcurrent(APIDetections))
	}
	// The KB has its own counters.
	mustOK(t, call(t, s, PathKB, vals("details", "None"), nil))
	if s.MaxConcurrent(APIKB) != 1 {
		t.Errorf("KB max concurrent %d", s.MaxConcurrent(APIKB))
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t, Config{RateLimit: 3, RateWindow: time.Hour})
	for i := range 3 {
		r := call(t, s, PathKB, vals("details", "None"), nil)
		mustOK(t, r)
		if got := r.header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Errorf("remaining %s after %d calls", got, i+1)
		}
	}
	r := call(t, s, PathKB, vals("details", "None"), nil)
	e, err := qualys.DecodeSimpleReturn(bytes.NewReader(r.body))
	wait, _ := strconv.Atoi(r.header.Get("X-RateLimit-ToWait-Sec"))
	if r.status != http.StatusConflict || err != nil || e.Code != 1965 || wait < 3500 || e.Items["SECONDS_TO_WAIT"] != strconv.Itoa(wait) ||
		r.header.Get("X-RateLimit-Remaining") != "0" || !strings.Contains(e.Text, "cannot be run again for another "+spell(wait)) {
		t.Errorf("status %d, %+v, %v, wait %d", r.status, e, err, wait)
	}
	// Each API has its own window.
	mustOK(t, call(t, s, PathHostList, vals("details", "None"), nil))
}

func TestClock(t *testing.T) {
	s := New(Config{Data: testData})
	a := s.Now()
	time.Sleep(5 * time.Millisecond)
	if b := s.Now(); !b.After(a) || b.Before(s.Dataset().Now(0)) {
		t.Errorf("Now %s then %s", a, b)
	}
	s.Advance()
	if c := s.Now(); c.Before(s.Dataset().Now(1)) || s.Epoch() != 1 {
		t.Errorf("after Advance: %s, epoch %d", c, s.Epoch())
	}
}

// errIncomplete reports whether a decoding error is what a cut body gives.
func errIncomplete(err error) bool {
	return errors.Is(err, qualys.ErrIncomplete) || errors.Is(err, io.ErrUnexpectedEOF)
}

// A double that caches bodies (for benchmarks) answers what one that
// generates them answers, compressed or not, the first time and after.
func TestCachedBodies(t *testing.T) {
	plain := start(t, Config{})
	cached := start(t, Config{CacheBodies: true})
	// decoded is the body as the client reads it, the double's address
	// (in next-page URLs) left out.
	decoded := func(s *Server, r reply) string {
		mustOK(t, r)
		b := r.body
		if r.header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		return strings.ReplaceAll(string(b), s.BaseURL(), "BASE")
	}
	for _, gz := range []bool{false, true} {
		ask := func(r *http.Request) {
			if gz {
				r.Header.Set("Accept-Encoding", "gzip")
			}
		}
		want := decoded(plain, call(t, plain, PathDetections, vals("truncation_limit", "20"), ask))
		if !strings.Contains(want, "BASE/api/2.0/fo/asset/host/vm/detection/") {
			t.Fatalf("no next-page URL in a truncated answer")
		}
		for i := range 2 {
			r := call(t, cached, PathDetections, vals("truncation_limit", "20"), ask)
			if got := r.header.Get("Content-Encoding") == "gzip"; got != gz {
				t.Errorf("gzip=%v, call %d: compressed %v", gz, i, got)
			}
			if got := decoded(cached, r); got != want {
				t.Errorf("gzip=%v, call %d: %d bytes, not the %d generated", gz, i, len(got), len(want))
			}
		}
	}
}
