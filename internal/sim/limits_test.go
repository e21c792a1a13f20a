package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"qvt/internal/gen"
	"qvt/internal/nvd"
	"qvt/internal/qualys"
)

func TestFaults(t *testing.T) {
	f := Faults{Seed: 42, P503: 0.15, P409: 0.15, PCut: 0.15, PSlow: 0.15, SlowBy: 30 * time.Millisecond}
	const calls = 30
	run := func() []string {
		s := start(t, Config{Faults: f})
		var faults []string
		for i := range calls {
			began := time.Now()
			r := call(t, s, PathKB, vals("details", "All", "id_max", "100000"), nil)
			took := time.Since(began)
			c := s.Log()[i]
			faults = append(faults, c.Fault)
			switch c.Fault {
			case Fault503:
				if r.status != 503 || !bytes.Contains(r.body, []byte("Service Unavailable")) || c.Status != 503 {
					t.Errorf("503: %d %s", r.status, r.body)
				}
			case Fault409:
				e, err := qualys.DecodeSimpleReturn(bytes.NewReader(r.body))
				if r.status != 409 || err != nil || e.Code != 1960 {
					t.Errorf("409: %d %+v %v", r.status, e, err)
				}
			case FaultCut:
				_, err := qualys.DecodeKB(bytes.NewReader(r.body), func(*qualys.Vuln) error { return nil })
				if r.status != 200 || !errors.Is(r.err, io.ErrUnexpectedEOF) || !errors.Is(err, qualys.ErrIncomplete) {
					t.Errorf("cut: status %d, read error %v, decode error %v", r.status, r.err, err)
				}
			case FaultSlow:
				if took < f.SlowBy {
					t.Errorf("slow call took %s", took)
				}
				fallthrough
			case "":
				mustOK(t, r)
				decodeKB(t, r.body)
			}
		}
		// Turned off, they stop.
		s.SetFaults(Faults{})
		for range 5 {
			mustOK(t, call(t, s, PathKB, vals("details", "None"), nil))
		}
		for _, c := range s.Log()[calls:] {
			if c.Fault != "" {
				t.Errorf("fault %q after SetFaults(Faults{})", c.Fault)
			}
		}
		return faults
	}
	a, b := run(), run()
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different faults:\n%q\n%q", a, b)
	}
	for _, want := range []string{Fault503, Fault409, FaultCut, FaultSlow, ""} {
		if !slices.Contains(a, want) {
			t.Errorf("no %q fault in %q", want, a)
		}
	}
	// Another seed, another pattern.
	f.Seed++
	s := New(Config{Data: testData, Faults: f})
	var c []string
	for range calls {
		fault, _ := s.drawFault(s.apis[APIKB], true)
		c = append(c, fault)
	}
	if slices.Equal(a, c) {
		t.Error("the seed changes nothing")
	}
}

// TestCut checks that a cut body reaches the client as a truncated
// document on every API, gzip-compressed or not, after at least one whole
// record.
func TestCut(t *testing.T) {
	s := start(t, Config{Faults: Faults{Seed: 3, PCut: 1}})
	stream := func(t *testing.T, req *http.Request, gz bool) io.Reader {
		req.SetBasicAuth("demo", "demo")
		req.Header.Set("X-Requested-With", "qvt test")
		if !gz {
			req.Header.Set("Accept-Encoding", "identity")
		}
		resp, err := http.DefaultClient.Do(req) // decompresses gzip itself
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 || resp.Uncompressed != gz {
			t.Fatalf("status %d, uncompressed %v", resp.StatusCode, resp.Uncompressed)
		}
		return resp.Body
	}
	form := func(path string, p url.Values) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+path+"?"+p.Encode(), nil)
		return req
	}
	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "gzip"}[gz]
		t.Run(name+"/kb", func(t *testing.T) {
			n := 0
			_, err := qualys.DecodeKB(stream(t, form(PathKB, vals("details", "All")), gz), func(*qualys.Vuln) error { n++; return nil })
			if !errIncomplete(err) || n == 0 || n == len(s.Dataset().QIDs()) {
				t.Errorf("%d records, %v", n, err)
			}
		})
		t.Run(name+"/detections", func(t *testing.T) {
			n := 0
			_, err := qualys.DecodeDetections(stream(t, form(PathDetections, vals("truncation_limit", "30")), gz), func(*qualys.Host) error { n++; return nil })
			if !errIncomplete(err) || n == 0 || n == 30 {
				t.Errorf("%d records, %v", n, err)
			}
		})
		t.Run(name+"/hostlist", func(t *testing.T) {
			var set idSet
			err := xml.NewDecoder(stream(t, form(PathHostList, vals("details", "None", "truncation_limit", "0")), gz)).Decode(&set)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("host list: %v", err)
			}
		})
		t.Run(name+"/nvd", func(t *testing.T) {
			n := 0
			req, _ := http.NewRequest(http.MethodGet, s.NVDURL()+"?resultsPerPage=300", nil)
			_, err := nvd.Decode(stream(t, req, gz), func(*nvd.CVE) error { n++; return nil })
			if !errors.Is(err, io.ErrUnexpectedEOF) || n == 0 || n == 300 {
				t.Errorf("%d records, %v", n, err)
			}
		})
	}
	for _, c := range s.Log() {
		if c.Fault != FaultCut || c.Status != 200 {
			t.Errorf("log %+v", c)
		}
	}
}

func TestNVDFaults(t *testing.T) {
	s := start(t, Config{Faults: Faults{NVD403: 1}})
	if r := nvdGet(t, s, "", nil); r.status != 403 || len(r.body) != 0 {
		t.Errorf("NVD403: %d", r.status)
	}
	s.SetFaults(Faults{P503: 1})
	if r := nvdGet(t, s, "", nil); r.status != 503 || len(r.body) != 0 {
		t.Errorf("P503: %d", r.status)
	}
	// Parameter errors come before faults.
	if r := nvdGet(t, s, "startIndex=x", nil); r.status != 404 {
		t.Errorf("bad parameter under faults: %d", r.status)
	}
	log := s.Log()
	if log[0].Fault != Fault403 || log[1].Fault != Fault503 || log[2].Fault != "" {
		t.Errorf("log %+v", log)
	}
}

// countingReader counts the bytes a decoder reads.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkDetectionPage serves and decodes one page of 1,000 hosts (gen's
// default 40 detections each, with RESULTS), Qualys' default page.
func BenchmarkDetectionPage(b *testing.B) {
	s := start(b, Config{Data: gen.Config{Seed: 1, Hosts: 1000}})
	body := vals("truncation_limit", "1000").Encode()
	var bytesPerPage int64
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, s.BaseURL()+PathDetections, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("demo", "demo")
		req.Header.Set("X-Requested-With", "bench")
		resp, err := plain.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		cr := &countingReader{r: resp.Body}
		hosts := 0
		_, err = qualys.DecodeDetections(cr, func(*qualys.Host) error { hosts++; return nil })
		resp.Body.Close()
		if err != nil || hosts != 1000 {
			b.Fatal(hosts, err)
		}
		bytesPerPage = cr.n
	}
	b.SetBytes(bytesPerPage)
	b.ReportMetric(float64(bytesPerPage)/1e6, "MB/page")
}
